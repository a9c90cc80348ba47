"""Tokens: login, rotation, and every way a token can be wrong."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tests.http.conftest import PASSWORD


async def test_login_gives_an_access_and_a_refresh_token(api):
    access = await api.user("alice")
    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["type"] == "access"
    assert {"sub", "exp", "iat", "jti", "type"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 3600
    me = await api.client.get("/api/v1/recordings/", headers=api.auth(access))
    assert me.status == 200


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"username": "alice", "password": "wrong password"}, 401, "detail"),
        ({"username": "nobody", "password": PASSWORD}, 401, "detail"),
        ({"username": "alice"}, 400, "password"),
        ({"username": 5, "password": PASSWORD}, 400, "username"),
        ({"username": "alice", "password": PASSWORD, "admin": True}, 400, "admin"),
        ([], 400, "non_field_errors"),
    ],
)
async def test_bad_logins_are_refused_with_a_message(api, body, status, field):
    await api.user("alice")
    response = await api.client.post("/api/token/", json=body)
    assert response.status == status
    assert field in await response.json()


async def test_malformed_json_is_a_400_not_a_500(api):
    response = await api.client.post(
        "/api/token/", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "JSON parse error" in (await response.json())["detail"]
    for body in (b'{"username": ' + b"1" * 5000 + b"}", b"[" * 100_000):
        odd = await api.client.post(
            "/api/token/", data=body, headers={"Content-Type": "application/json"}
        )
        assert odd.status == 400, body[:20]
        assert "JSON parse error" in (await odd.json())["detail"]
    wrong_type = await api.client.post(
        "/api/token/", data=b"username=a", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status == 415


async def test_refresh_rotates_and_a_used_refresh_token_is_refused(api):
    await api.user("alice")
    refresh = api.tokens["alice"]
    first = await api.client.post("/api/token/refresh/", json={"refresh": refresh})
    assert first.status == 200
    body = await first.json()
    assert body["access"]
    assert body["refresh"] != refresh
    replay = await api.client.post("/api/token/refresh/", json={"refresh": refresh})
    assert replay.status == 401
    assert (await replay.json())["code"] == "token_not_valid"
    rotated = await api.client.post("/api/token/refresh/", json={"refresh": body["refresh"]})
    assert rotated.status == 200


def _forge(claims: dict, key: str | bytes = b"x" * 32, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _none_alg(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_token_attacks_get_401(api):
    access = await api.user("alice")
    claims = jwt.decode(access, options={"verify_signature": False})
    now = int(time.time())
    bad_tokens = {
        "refresh token used as access": api.tokens["alice"],
        "signed with another key": _forge(claims),
        "alg none": _none_alg(claims),
        "HS512 instead of HS256": _forge(claims, b"y" * 64, "HS512"),
        "expired": _forge({**claims, "exp": now - 10}),
        "malformed": "not.a.jwt",
        "garbage": "🙂" * 10,
        "tampered payload": access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB"),
    }
    for name, token in bad_tokens.items():
        response = await api.client.get("/api/v1/recordings/", headers=api.auth(token))
        assert response.status == 401, name
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    missing = await api.client.get("/api/v1/recordings/")
    assert missing.status == 401
    assert (await missing.json())["detail"] == "Authentication credentials were not provided."
    basic = await api.client.get("/api/v1/recordings/", headers={"Authorization": "Basic abc"})
    assert basic.status == 401


async def test_an_access_token_cannot_refresh(api):
    access = await api.user("alice")
    response = await api.client.post("/api/token/refresh/", json={"refresh": access})
    assert response.status == 401


async def test_the_token_endpoint_is_rate_limited(make_api):
    api = await make_api(RATE_LIMIT_PER_MINUTE="3")
    for _ in range(3):
        response = await api.client.post(
            "/api/token/", json={"username": "x", "password": "whatever1"}
        )
        assert response.status == 401
    limited = await api.client.post("/api/token/", json={"username": "x", "password": "whatever1"})
    assert limited.status == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "throttled" in (await limited.json())["detail"]
