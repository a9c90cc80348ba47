"""AWS Signature Version 4 query presigning of an S3 PUT with signed headers.

minio-py presigns URLs that sign only ``host``; a live upload's chunk URL must also
sign ``Content-MD5``, so that the client has to send the declared digest and the
server refuses a body with another one (``BadDigest``). This is the algorithm of
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html for one
``PUT`` with ``UNSIGNED-PAYLOAD``; signing needs no network.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_key}".encode(), day)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _host(endpoint_url: str) -> str:
    """The ``Host`` header a client sends to *endpoint_url* (no default port)."""
    parts = urlsplit(endpoint_url)
    host = parts.netloc
    default = ":443" if parts.scheme == "https" else ":80"
    return host[: -len(default)] if host.endswith(default) else host


def presign_put(
    *,
    endpoint_url: str,
    bucket: str,
    key: str,
    access_key: str,
    secret_key: str,
    region: str,
    expires: timedelta,
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> str:
    """A path-style URL (``endpoint_url/bucket/key``) for one PUT of *key* that is valid
    for *expires* and only with *headers* (names and values, e.g. ``Content-MD5``)
    exactly as signed; ``host`` is always signed."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    day = moment.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    signed = {name.lower(): " ".join(value.strip().split()) for name, value in headers.items()}
    signed["host"] = _host(endpoint_url)
    names = sorted(signed)
    path = f"/{quote(bucket, safe='')}/{quote(key, safe='/-_.~')}"
    query = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(int(expires.total_seconds())),
        "X-Amz-SignedHeaders": ";".join(names),
    }
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
    canonical_request = "\n".join(
        ("PUT", path, canonical_query, canonical_headers, ";".join(names), "UNSIGNED-PAYLOAD")
    )
    to_sign = "\n".join(
        (ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    )
    signature = hmac.new(
        _signing_key(secret_key, day, region, "s3"), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    base = endpoint_url.rstrip("/")
    return f"{base}{path}?{canonical_query}&X-Amz-Signature={signature}"


__all__ = ["presign_put"]
