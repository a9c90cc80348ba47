"""The webhook sender checks the address it connects to, not only the one registered."""

from __future__ import annotations

import ipaddress

import pytest
from aiohttp import web

from elyune_adapters.webhooks.http import AiohttpWebhookSender, NetworkUrlGuard, internal
from elyune_core.errors import InvalidInputError, ServiceUnavailableError


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("::127.0.0.1", True),
        ("::ffff:0:7f00:1", True),
        ("64:ff9b::a9fe:a9fe", True),
        ("fec0::1", True),
        ("2002:7f00:1::1", True),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo for 127.0.0.1
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("64:ff9b::808:808", False),  # NAT64 of a public address
    ],
)
def test_embedded_ipv4_is_judged_by_the_ipv4_inside(address: str, inside: bool) -> None:
    assert internal(ipaddress.ip_address(address)) is inside


class FlippingDns:
    """A name that resolves to a public address *public* times, then to loopback."""

    def __init__(self, public: int) -> None:
        self.public = public
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return ["93.184.216.34"] if self.calls <= self.public else ["127.0.0.1"]


async def test_a_name_rebound_to_loopback_after_registration_is_not_called(aiohttp_server):
    hits: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    url = f"http://hooks.example.test:{server.port}/hook"
    refused = (InvalidInputError, ServiceUnavailableError)
    # public at registration, loopback at delivery time
    late = NetworkUrlGuard(lookup=FlippingDns(public=1))
    await late.check(url)
    # public at registration and at the delivery's check, loopback when connecting
    later = NetworkUrlGuard(lookup=FlippingDns(public=2))
    await later.check(url)
    for guard in (late, later):
        sender = AiohttpWebhookSender(guard, timeout=5)
        try:
            with pytest.raises(refused, match="internal addresses"):
                await sender.send(url, b"{}", {})
            with pytest.raises(refused, match="internal addresses"):
                await sender.send(f"http://[::ffff:0:7f00:1]:{server.port}/hook", b"{}", {})
        finally:
            await sender.close()
    assert hits == []


async def test_the_guard_refuses_a_name_resolving_to_an_embedded_loopback():
    async def lookup(host: str, port: int) -> list[str]:
        return ["64:ff9b::7f00:1"]

    with pytest.raises(InvalidInputError):
        await NetworkUrlGuard(lookup=lookup).check("https://hooks.example.test/x")
