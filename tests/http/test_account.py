"""``/api/v1/me/`` (the voice-profile opt-out) and the voice-profile routes' refusals."""

from __future__ import annotations


async def test_the_voice_profiles_setting_is_read_and_changed(api):
    token = await api.user("alice")
    me = await api.client.get("/api/v1/me/", headers=api.auth(token))
    assert me.status == 200
    body = await me.json()
    assert (body["username"], body["voice_profiles"]) == ("alice", True)

    off = await api.client.patch(
        "/api/v1/me/", json={"voice_profiles": False}, headers=api.auth(token)
    )
    assert off.status == 200, await off.text()
    assert (await off.json())["voice_profiles"] is False
    assert (await off.json())["deleted_profiles"] == 0
    again = await (await api.client.get("/api/v1/me/", headers=api.auth(token))).json()
    assert again["voice_profiles"] is False

    other = await api.user("bob")
    theirs = await (await api.client.get("/api/v1/me/", headers=api.auth(other))).json()
    assert (theirs["username"], theirs["voice_profiles"]) == ("bob", True)


async def test_bad_settings_and_profile_requests_are_refused_with_a_reason(api):
    token = await api.user("alice")
    for body, field in (
        ({"voice_profiles": "no"}, "voice_profiles"),
        ({}, "voice_profiles"),
        ({"voice_profiles": True, "theme": "dark"}, "theme"),
    ):
        response = await api.client.patch("/api/v1/me/", json=body, headers=api.auth(token))
        assert response.status == 400
        assert field in await response.json()
    assert (await api.client.get("/api/v1/me/")).status == 401
    assert (await api.client.get("/api/v1/voice-profiles/")).status == 401

    listed = await api.client.get("/api/v1/voice-profiles/", headers=api.auth(token))
    assert await listed.json() == {"count": 0, "results": []}
    missing = "/api/v1/voice-profiles/no-such-profile/"
    renamed = await api.client.patch(missing, json={"name": "Bob"}, headers=api.auth(token))
    assert renamed.status == 404
    assert (await api.client.delete(missing, headers=api.auth(token))).status == 404
    for body in ({"name": ""}, {"name": "x" * 101}, {"name": 3}, {}):
        response = await api.client.patch(missing, json=body, headers=api.auth(token))
        assert response.status == 400
        assert "name" in await response.json()
