"""The web app's page and cookie session over HTTP (issue 12): the page's headers, the
refresh cookie's flags and rotation, and the CSRF and origin checks on its routes."""

from __future__ import annotations

from elyune_adapters.settings import load_settings
from elyune_http.web.routes import content_security_policy
from tests.http.conftest import PASSWORD


async def _login(api, name: str = "alice"):
    await api.user(name)
    response = await api.client.post("/app/session/", json={"username": name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return response


def _csrf(api) -> str:
    cookie = api.client.session.cookie_jar.filter_cookies(api.client.make_url("/"))
    return cookie["elyune_csrf"].value


async def test_the_page_has_a_strict_policy_and_no_frames(api):
    response = await api.client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    body = await response.text()
    assert '<script type="module" src="/app/static/app.js"></script>' in body
    assert "<script>" not in body and "style=" not in body
    module = await api.client.get("/app/static/app.js")
    assert module.status == 200 and module.content_type == "text/javascript"
    assert (await api.client.get("/app/static/../app.py")).status == 404
    assert (await api.client.get("/app/static/missing.js")).status == 404


def test_the_policy_allows_the_object_store_origin_in_production():
    settings = load_settings(
        {
            "MINIO_ENDPOINT": "minio:9000",
            "MINIO_ACCESS_KEY": "k",
            "MINIO_SECRET_KEY": "s" * 12,
            "AWS_S3_ENDPOINT_URL": "https://media.example.com",
            "ELYUNE_PUBLIC_URL": "https://elyune.example.com",
        }
    )
    policy = content_security_policy(settings)
    assert "media-src 'self' https://elyune.example.com https://media.example.com;" in policy
    assert "connect-src 'self' https://elyune.example.com https://media.example.com;" in policy
    assert "script-src 'self';" in policy


async def test_login_sets_an_httponly_strict_cookie_for_the_session_path_only(api):
    response = await _login(api)
    body = await response.json()
    assert set(body) == {"access", "access_lifetime"}  # no refresh token for scripts
    assert response.headers["Cache-Control"] == "no-store"
    cookies = response.cookies
    refresh = cookies["elyune_refresh"]
    assert refresh["httponly"] and refresh["samesite"] == "Strict"
    assert refresh["path"] == "/app/session/"
    assert not cookies["elyune_csrf"]["httponly"]
    listing = await api.client.get("/api/v1/recordings/", headers=api.auth(body["access"]))
    assert listing.status == 200


async def test_wrong_credentials_are_a_401_without_a_cookie(api):
    await api.user("alice")
    response = await api.client.post(
        "/app/session/", json={"username": "alice", "password": "nope"}
    )
    assert response.status == 401
    assert "elyune_refresh" not in response.cookies
    missing = await api.client.post("/app/session/", json={"username": "alice"})
    assert missing.status == 400
    assert "password" in await missing.json()


async def test_refresh_rotates_the_cookie_and_the_old_one_is_refused(api):
    first = await _login(api)
    old = first.cookies["elyune_refresh"].value
    refreshed = await api.client.post("/app/session/refresh/", headers={"X-CSRF-Token": _csrf(api)})
    assert refreshed.status == 200, await refreshed.text()
    assert (await refreshed.json())["access"]
    new = refreshed.cookies["elyune_refresh"].value
    assert new != old
    # The old refresh token was used up: replaying it ends nothing but itself.
    csrf = _csrf(api)
    api.client.session.cookie_jar.clear()
    replay = await api.client.post(
        "/app/session/refresh/",
        headers={"X-CSRF-Token": csrf, "Cookie": f"elyune_refresh={old}; elyune_csrf={csrf}"},
    )
    assert replay.status == 401
    assert (await replay.json())["code"] == "token_not_valid"


async def test_refresh_needs_the_csrf_header_matching_the_cookie(api):
    await _login(api)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = await api.client.post("/app/session/refresh/", headers=headers)
        assert response.status == 403
        assert (await response.json())["detail"] == "CSRF token missing or incorrect."
    logout = await api.client.post("/app/session/logout/")
    assert logout.status == 403


async def test_session_routes_refuse_other_origins(api):
    await api.user("alice")
    response = await api.client.post(
        "/app/session/",
        json={"username": "alice", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status == 403
    assert "elyune_refresh" not in response.cookies


async def test_logout_uses_the_refresh_token_up_and_clears_it(api):
    first = await _login(api)
    token = first.cookies["elyune_refresh"].value
    csrf = _csrf(api)
    response = await api.client.post("/app/session/logout/", headers={"X-CSRF-Token": csrf})
    assert response.status == 204
    assert response.cookies["elyune_refresh"].value == ""
    reused = await api.client.post("/api/token/refresh/", json={"refresh": token})
    assert reused.status == 401
    again = await api.client.post("/app/session/refresh/", headers={"X-CSRF-Token": csrf})
    assert again.status == 401
