"""Webhooks: registration, signed deliveries, retries with a log of every attempt."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import RecordingId, UserId
from elyune_core.ports import RecordingEvent
from elyune_core.use_cases.webhooks import verify_signature


async def test_private_and_loopback_urls_are_refused_by_default(api):
    token = await api.user()
    for url in (
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest",
        "http://100.100.100.200/latest/meta-data",
        "http://[2002:7f00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        # IPv4 inside other IPv6 forms: compatible, translated, NAT64; site-local
        "http://[::127.0.0.1]/hook",
        "http://[::7f00:1]/hook",
        "http://[::ffff:0:7f00:1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://[64:ff9b:1::a00:1]/hook",
        "http://[fec0::1]/hook",
        "http://[fc00::1]/hook",
        "http://[fe80::1]/hook",
        "http://[ff02::1]/hook",
        "http://[100::1]/hook",
        "http://[::]/hook",
        "http://[::1/hook",
        "http://a..b/hook",
        "http://example.com:99999/hook",
        "ftp://example.com/hook",
    ):
        response = await api.client.post(
            "/api/v1/webhooks/",
            json={"url": url, "events": ["processing.completed"]},
            headers=api.auth(token),
        )
        assert response.status == 400, url
        assert "url" in await response.json()
    bad_event = await api.client.post(
        "/api/v1/webhooks/",
        json={"url": "https://example.com/hook", "events": ["recording.exploded"]},
        headers=api.auth(token),
    )
    assert bad_event.status == 400
    assert "events" in await bad_event.json()


async def test_deliveries_are_signed_retried_and_logged(make_api, aiohttp_server):
    received: list[tuple[dict, str, bytes]] = []
    answers = [500, 200]

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((dict(request.headers), request.headers["X-Elyune-Signature"], body))
        return web.Response(status=answers.pop(0) if answers else 200)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver)
    api = await make_api(WEBHOOK_ALLOW_PRIVATE="true")
    token = await api.user()
    created = await api.client.post(
        "/api/v1/webhooks/",
        json={"url": str(server.make_url("/hook")), "events": ["processing.completed"]},
        headers=api.auth(token),
    )
    assert created.status == 201
    hook_body = await created.json()
    secret = hook_body["secret"]
    assert secret.startswith("whsec_")
    listed = await (await api.client.get("/api/v1/webhooks/", headers=api.auth(token))).json()
    assert "secret" not in listed["results"][0]

    user = await (await resolve(api.container.uow()))().__aenter__()
    owner = (await user.users.get_by_username("alice")).id
    await user.__aexit__(None, None, None)
    event = RecordingEvent(
        type="processing.completed",
        recording_id=RecordingId("rec-1"),
        owner_id=UserId(owner),
        occurred_at=(await resolve(api.container.clock())).now(),
        data={"job_id": "job-1"},
    )
    await api.container.events().publish(event)
    deliver = await resolve(api.container.deliver_webhooks())
    first = await deliver.execute()
    assert first.attempted == 1
    assert first.succeeded == 0
    deliveries = await (
        await api.client.get(
            f"/api/v1/webhooks/{hook_body['id']}/deliveries/", headers=api.auth(token)
        )
    ).json()
    attempt = deliveries["results"][0]["attempts"][0]
    assert attempt["status_code"] == 500
    assert deliveries["results"][0]["status"] == "pending"

    # make the retry due now and deliver again
    async with (await resolve(api.container.uow()))() as uow:
        [pending] = await uow.webhooks.deliveries(hook_body["id"])
        import attrs

        await uow.webhooks.save_delivery(attrs.evolve(pending, next_attempt_at=event.occurred_at))
        await uow.commit()
    second = await deliver.execute()
    assert second.succeeded == 1
    assert len(received) == 2
    headers, signature, body = received[-1]
    assert verify_signature(secret, signature, body)
    assert not verify_signature("whsec_other", signature, body)
    payload = json.loads(body)
    assert payload["type"] == "processing.completed"
    assert payload["data"]["recording_id"] == "rec-1"
    assert headers["X-Elyune-Event"] == "processing.completed"
    log = await (
        await api.client.get(
            f"/api/v1/webhooks/{hook_body['id']}/deliveries/", headers=api.auth(token)
        )
    ).json()
    assert log["results"][0]["status"] == "succeeded"
    assert [a["status_code"] for a in log["results"][0]["attempts"]] == [500, 200]


async def test_other_users_cannot_see_or_delete_a_webhook(make_api):
    api = await make_api(WEBHOOK_ALLOW_PRIVATE="true")
    alice = await api.user("alice")
    bob = await api.user("bob")
    created = await api.client.post(
        "/api/v1/webhooks/",
        json={"url": "http://127.0.0.1:9/x", "events": ["transcript.ready"]},
        headers=api.auth(alice),
    )
    wid = (await created.json())["id"]
    assert (
        await api.client.delete(f"/api/v1/webhooks/{wid}/", headers=api.auth(bob))
    ).status == 404
    assert (
        await api.client.get(f"/api/v1/webhooks/{wid}/deliveries/", headers=api.auth(bob))
    ).status == 404
    assert (
        await api.client.delete(f"/api/v1/webhooks/{wid}/", headers=api.auth(alice))
    ).status == 204


async def test_the_app_delivers_in_the_background(make_api, aiohttp_server):
    got = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        got.set()
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver)
    api = await make_api(WEBHOOK_ALLOW_PRIVATE="true")
    token = await api.user()
    await api.client.post(
        "/api/v1/webhooks/",
        json={"url": str(server.make_url("/hook")), "events": ["recording.uploaded"]},
        headers=api.auth(token),
    )
    await api.upload(token, b"\x1aE\xdf\xa3 not really media")
    await asyncio.wait_for(got.wait(), timeout=10)


async def _owner(api, name: str) -> UserId:
    async with (await resolve(api.container.uow()))() as uow:
        return UserId((await uow.users.get_by_username(name)).id)


async def test_one_users_hanging_endpoints_do_not_delay_another_users_delivery(
    make_api, aiohttp_server
):
    hanging = 0
    most_hanging = 0
    release = asyncio.Event()
    healthy = asyncio.Event()
    hanging_when_healthy: list[int] = []

    async def hang(request: web.Request) -> web.Response:
        nonlocal hanging, most_hanging
        hanging += 1
        most_hanging = max(most_hanging, hanging)
        try:
            await release.wait()  # never answers while the test looks
        finally:
            hanging -= 1
        return web.Response(status=204)

    async def ok(request: web.Request) -> web.Response:
        hanging_when_healthy.append(hanging)
        healthy.set()
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hang/{n}", hang)
    receiver.router.add_post("/ok", ok)
    server = await aiohttp_server(receiver)
    api = await make_api(WEBHOOK_ALLOW_PRIVATE="true")
    slow, fine = await api.user("slow"), await api.user("fine")
    for n in range(9):
        created = await api.client.post(
            "/api/v1/webhooks/",
            json={"url": str(server.make_url(f"/hang/{n}")), "events": ["transcript.ready"]},
            headers=api.auth(slow),
        )
        assert created.status == 201
    await api.client.post(
        "/api/v1/webhooks/",
        json={"url": str(server.make_url("/ok")), "events": ["transcript.ready"]},
        headers=api.auth(fine),
    )
    now = (await resolve(api.container.clock())).now()
    for name in ("slow", "fine"):  # the slow user's deliveries are due first
        await api.container.events().publish(
            RecordingEvent(
                type="transcript.ready",
                recording_id=RecordingId(f"rec-{name}"),
                owner_id=await _owner(api, name),
                occurred_at=now,
            )
        )
    try:
        await asyncio.wait_for(healthy.wait(), timeout=60)
    finally:
        release.set()
    # Delivered while the slow user's endpoints were still hanging (one at a time, it
    # came after 9 timeouts of 10 s), and those held at most the per-user bound.
    assert hanging_when_healthy[0] >= 1
    assert most_hanging <= 4
