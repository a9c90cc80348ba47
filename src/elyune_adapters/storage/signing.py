"""HMAC-signed, expiring URLs for the embedded object store (served by the API).

A signed URL names an operation (``get``, ``put`` or ``post``), a key, an expiry time
and, for uploads, the exact or maximum size; the signature covers all of them, so none
can be changed without invalidating it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from urllib.parse import quote, urlencode

import attrs

from elyune_core import check_key
from elyune_core.errors import InvalidTokenError

STORAGE_PATH = "/api/v1/storage/"


@attrs.frozen
class SignedRequest:
    """What a verified signature allows: *op* on *key* with at most *size* bytes."""

    op: str
    key: str
    expires: int
    size: int
    filename: str = ""
    #: the base64 MD5 a PUT's ``Content-MD5`` must have ("" when not signed for one)
    md5: str = ""


class UrlSigner:
    """Signs and verifies storage URLs with HMAC-SHA256 under *secret*."""

    def __init__(self, secret: bytes, base_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must have at least 16 bytes")
        self._secret = secret
        self._base = base_url.rstrip("/")

    def _mac(self, op: str, key: str, expires: int, size: int, filename: str, md5: str = "") -> str:
        message = f"{op}\n{key}\n{expires}\n{size}\n{filename}"
        if md5:  # URLs signed before digests existed keep their signature
            message += f"\n{md5}"
        digest = hmac.new(self._secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def url(
        self,
        op: str,
        key: str,
        expires_in: float,
        size: int = 0,
        filename: str = "",
        md5: str = "",
    ) -> str:
        """A URL that allows *op* on *key* for *expires_in* seconds (with *md5*, a PUT
        whose ``Content-MD5`` header is that base64 digest)."""
        check_key(key)
        expires = int(time.time() + expires_in)
        query = {"op": op, "exp": str(expires), "size": str(size)}
        if filename:
            query["filename"] = filename
        if md5:
            query["md5"] = md5
        query["sig"] = self._mac(op, key, expires, size, filename, md5)
        return f"{self._base}{STORAGE_PATH}{quote(key)}?{urlencode(query)}"

    def post_form(self, key: str, expires_in: float, max_size: int) -> tuple[str, dict[str, str]]:
        """A form upload: the URL and the fields to POST with the file."""
        check_key(key)
        expires = int(time.time() + expires_in)
        policy = base64.urlsafe_b64encode(
            json.dumps({"key": key, "exp": expires, "max": max_size}).encode()
        ).decode()
        return f"{self._base}{STORAGE_PATH}", {
            "key": key,
            "policy": policy,
            "signature": self._mac("post", key, expires, max_size, ""),
        }

    def verify(self, op: str, key: str, query: Mapping[str, str]) -> SignedRequest:
        """Check the signature and expiry of a request for *op* on *key*."""
        try:
            expires = int(query["exp"])
            size = int(query.get("size", "0"))
            signature = query["sig"]
        except (KeyError, ValueError):
            raise InvalidTokenError("The URL is not signed.") from None
        filename = query.get("filename", "")
        md5 = query.get("md5", "")
        if query.get("op") != op:
            raise InvalidTokenError("The URL is signed for another operation.")
        self._check(op, key, expires, size, filename, signature, md5)
        return SignedRequest(op, key, expires, size, filename, md5)

    def verify_post(self, fields: Mapping[str, str]) -> SignedRequest:
        """Check the policy and signature of a form upload."""
        try:
            policy = json.loads(base64.urlsafe_b64decode(fields["policy"].encode()))
            key, expires, max_size = str(policy["key"]), int(policy["exp"]), int(policy["max"])
            signature = fields["signature"]
        except (KeyError, ValueError, TypeError):
            raise InvalidTokenError("The upload form is not signed.") from None
        if fields.get("key") != key:
            raise InvalidTokenError("The key does not match the signed policy.")
        self._check("post", key, expires, max_size, "", signature)
        return SignedRequest("post", key, expires, max_size)

    def _check(
        self,
        op: str,
        key: str,
        expires: int,
        size: int,
        filename: str,
        signature: str,
        md5: str = "",
    ) -> None:
        expected = self._mac(op, key, expires, size, filename, md5)
        if not hmac.compare_digest(expected, signature):
            raise InvalidTokenError("The URL signature is not valid.")
        if expires < time.time():
            raise InvalidTokenError("The URL has expired.")
