"""Which chunks of a live upload have arrived: the store's listing against what the
client declared (pure)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence

import attrs

from elyune_core._keys import chunk_owner
from elyune_core.entities import ChunkDeclaration
from elyune_core.ports import ObjectInfo

_HEX_MD5 = re.compile(r"^[0-9a-f]{32}$")


@attrs.frozen
class ReceivedChunks:
    """Chunks stored as declared (``received``), and stored objects that differ from
    their declaration in size or digest (``refused``: never used, to be deleted)."""

    received: frozenset[int]
    refused: frozenset[int]
    sizes: Mapping[int, int] = attrs.field(factory=dict)


def md5_hex(md5_base64: str) -> str | None:
    """The hex form of a base64 MD5 digest, or ``None`` if it is not one."""
    try:
        raw = base64.b64decode(md5_base64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 16 else None


def received_chunks(
    listing: Sequence[ObjectInfo], declarations: Mapping[int, ChunkDeclaration]
) -> ReceivedChunks:
    """Match the objects under a live upload's chunk prefix with the declarations: an
    object counts when its size is the declared one and, when its ETag is a plain MD5,
    that digest is the declared one."""
    received: set[int] = set()
    refused: set[int] = set()
    sizes: dict[int, int] = {}
    for info in listing:
        owner = chunk_owner(info.key)
        if owner is None:
            continue
        index = owner[2]
        declared = declarations.get(index)
        if declared is None:
            refused.add(index)
            continue
        etag = (info.etag or "").strip('"').lower()
        digest_ok = not _HEX_MD5.match(etag) or etag == md5_hex(declared.md5)
        if info.size == declared.size and digest_ok:
            received.add(index)
            sizes[index] = info.size
        else:
            refused.add(index)
    return ReceivedChunks(frozenset(received), frozenset(refused), sizes)


__all__ = ["ReceivedChunks", "md5_hex", "received_chunks"]
