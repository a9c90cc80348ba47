"""Webhook signing secrets encrypted at rest (AES-256-GCM).

The key is derived from the server secret (``JWT_SECRET_KEY``, or the data folder's
``secret.key``), so a copy of the database alone does not give the secrets that sign
webhook deliveries. Each value is bound to its row's id: a sealed secret copied to
another row does not open. Values written before encryption (no ``enc1:`` prefix) are
sealed by migration 0003 and still read as they are until then.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from elyune_core.errors import RepositoryUnavailableError

PREFIX = "enc1:"


class SecretBox:
    """Seals and opens short secrets under one 32-byte *key*."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the sealing key must have at least 32 bytes")
        self._aead = AESGCM(key[:32])

    def seal(self, plain: str, context: str) -> str:
        """*plain* encrypted, for the row *context* (its id)."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plain.encode(), context.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, stored: str, context: str) -> str:
        """The plain secret of a stored value (a value from before sealing as it is)."""
        if not is_sealed(stored):
            return stored
        raw = stored[len(PREFIX) :]
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            return self._aead.decrypt(data[:12], data[12:], context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise RepositoryUnavailableError(
                "A stored webhook secret cannot be decrypted: was JWT_SECRET_KEY (or the "
                "data folder's secret.key) changed?"
            ) from exc


def is_sealed(stored: str) -> bool:
    """Whether *stored* was written by :meth:`SecretBox.seal`."""
    return stored.startswith(PREFIX)
