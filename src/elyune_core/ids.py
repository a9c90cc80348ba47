"""Typed identifiers of the domain.

Ids are plain strings at run time (UUID4 hex by default, see
:class:`elyune_core.ports.IdSource`); ``NewType`` keeps a ``RecordingId`` from being passed
where a ``JobId`` is expected.
"""

from __future__ import annotations

from typing import NewType

UserId = NewType("UserId", str)
RecordingId = NewType("RecordingId", str)
JobId = NewType("JobId", str)
WebhookId = NewType("WebhookId", str)
DeliveryId = NewType("DeliveryId", str)
VoiceProfileId = NewType("VoiceProfileId", str)

__all__ = ["DeliveryId", "JobId", "RecordingId", "UserId", "VoiceProfileId", "WebhookId"]
