"""JSON Web Tokens with pyjwt (HS256 by default)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

import jwt

from elyune_core.errors import InvalidTokenError
from elyune_core.ids import UserId
from elyune_core.ports import TokenClaims, TokenPair, TokenService

_TYPES = ("access", "refresh")
_REQUIRED = ["exp", "iat", "jti", "sub", "type"]
# Three base64url parts: anything else (control bytes, non-ASCII) is refused unread.
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class JwtTokenService(TokenService):
    """Signs access and refresh tokens with one HMAC key and checks them strictly.

    A token must be signed with *key* and *algorithm* (so ``alg: none`` or another
    algorithm is refused), carry ``sub``, ``exp``, ``iat``, ``jti`` and ``type``, not be
    expired, and be of the expected type.
    """

    def __init__(
        self,
        key: bytes,
        *,
        algorithm: str = "HS256",
        access_ttl: timedelta = timedelta(hours=1),
        refresh_ttl: timedelta = timedelta(days=7),
    ) -> None:
        if algorithm not in {"HS256", "HS384", "HS512"}:
            raise ValueError(f"unsupported JWT algorithm {algorithm}")
        self._key = key
        self._algorithm = algorithm
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl

    def issue(self, user_id: UserId, now: datetime, session: str = "") -> TokenPair:
        return TokenPair(
            access=self._encode(user_id, "access", now, self._access_ttl, session),
            refresh=self._encode(user_id, "refresh", now, self._refresh_ttl, session),
            access_expires_in=int(self._access_ttl.total_seconds()),
            refresh_expires_in=int(self._refresh_ttl.total_seconds()),
        )

    def _encode(
        self, user_id: UserId, kind: str, now: datetime, ttl: timedelta, session: str
    ) -> str:
        claims = {
            "sub": str(user_id),
            "type": kind,
            "jti": secrets.token_hex(16),
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        if session:
            claims["ses"] = session
        return jwt.encode(claims, self._key, algorithm=self._algorithm)

    def verify(self, token: str, expected_type: str, now: datetime) -> TokenClaims:
        if not isinstance(token, str) or len(token) > 4096 or not _SHAPE.fullmatch(token):
            raise InvalidTokenError("Given token not valid for any token type")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise InvalidTokenError("Given token not valid for any token type") from None
        kind = claims.get("type")
        if kind not in _TYPES or kind != expected_type:
            raise InvalidTokenError("Token has wrong type")
        if not all(_numeric(claims[name]) for name in ("exp", "iat")):
            raise InvalidTokenError("Given token not valid for any token type")
        try:
            expires = datetime.fromtimestamp(int(claims["exp"]), now.tzinfo)
            issued = datetime.fromtimestamp(int(claims["iat"]), now.tzinfo)
        except (TypeError, ValueError, OverflowError, OSError):
            raise InvalidTokenError("Given token not valid for any token type") from None
        if expires <= now:
            raise InvalidTokenError("Token is expired")
        if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            raise InvalidTokenError("Given token not valid for any token type")
        session = claims.get("ses")
        if session is not None and not isinstance(session, str):
            raise InvalidTokenError("Given token not valid for any token type")
        return TokenClaims(
            user_id=UserId(claims["sub"]),
            jti=claims["jti"],
            type=kind,
            issued_at=issued,
            expires_at=expires,
            session=session,
        )


def _numeric(value: object) -> bool:
    """A NumericDate (RFC 7519): a JSON number, not a string or a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)
