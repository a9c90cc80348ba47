"""The server's master secret and the keys derived from it.

``JWT_SECRET_KEY`` is the master secret when it is set; in embedded mode a random one is
made once and kept in the data folder (``secret.key``, mode 0600). Every key Elyune uses
(token signing, signed URLs, the webhook secrets sealed at rest) is derived from it for
one purpose, so that a key leaked for one purpose opens nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from elyune_adapters.settings import Settings
from elyune_adapters.sql.sealing import SecretBox
from elyune_adapters.system import private_dir


def master_secret(settings: Settings) -> bytes:
    """``JWT_SECRET_KEY``, or a random secret kept in the data folder (embedded mode)."""
    if settings.http.jwt_secret_key:
        return settings.http.jwt_secret_key.encode()
    path = settings.data_dir / "secret.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    private_dir(settings.data_dir)
    secret = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one *purpose* derived from the master secret (tokens, URLs, ...)."""
    return hmac.new(secret, f"elyune:{purpose}".encode(), hashlib.sha256).digest()


def secret_box(secret: bytes) -> SecretBox:
    """The box that seals webhook secrets at rest."""
    return SecretBox(derive_key(secret, "webhook-secrets"))


__all__ = ["derive_key", "master_secret", "secret_box"]
