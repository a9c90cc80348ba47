"""Sending webhooks over HTTP (aiohttp), and refusing URLs that point inside."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from elyune_core.errors import InvalidInputError, ServiceUnavailableError
from elyune_core.ports import UrlGuard, WebhookSender

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

INVALID_URL = "Enter a valid http:// or https:// URL."
INTERNAL = "Webhook URLs may not point to loopback, private or other internal addresses."


def internal(address: _Address) -> bool:
    """Whether *address* is not a public Internet address (loopback, private, CGNAT,
    link-local and metadata, multicast, reserved), looking inside IPv4-mapped, 6to4 and
    Teredo IPv6 addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = (
            address.ipv4_mapped
            or address.sixtofour
            or (address.teredo[1] if address.teredo else None)
        )
        if inner is not None:
            address = inner
    return not address.is_global or address.is_multicast


class NetworkUrlGuard(UrlGuard):
    """Refuses webhook URLs whose host is, or resolves to, an internal address (see
    :func:`internal`), unless *allow_private*."""

    def __init__(self, *, allow_private: bool = False, resolve_timeout: float = 5.0) -> None:
        self.allow_private = allow_private
        self._timeout = resolve_timeout

    async def check(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            host = parts.hostname
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:  # a malformed IPv6 literal or port
            raise InvalidInputError({"url": INVALID_URL}) from None
        if parts.scheme not in {"http", "https"} or not host:
            raise InvalidInputError({"url": INVALID_URL})
        if self.allow_private:
            return
        for address in await self.addresses(host, port):
            if internal(address):
                raise InvalidInputError({"url": INTERNAL})

    async def addresses(self, host: str, port: int) -> list[_Address]:
        """The addresses *host* stands for (resolved when it is a name)."""
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), self._timeout
            )
        except (OSError, TimeoutError, UnicodeError):
            raise InvalidInputError({"url": f"The host {host!r} could not be resolved."}) from None
        return [ipaddress.ip_address(str(info[4][0])) for info in infos]


class _GuardedResolver(AbstractResolver):
    """Resolves names for the sender and drops internal addresses, so the address that
    was checked is the one connected to (no DNS rebinding between check and connect)."""

    def __init__(self, guard: NetworkUrlGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await self._guard.addresses(host, port)
        except InvalidInputError as exc:
            raise OSError(str(exc)) from None
        allowed = [a for a in addresses if self._guard.allow_private or not internal(a)]
        if not allowed:
            raise OSError(INTERNAL)
        return [
            {
                "hostname": host,
                "host": str(a),
                "port": port,
                "family": socket.AF_INET6 if a.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for a in allowed
        ]

    async def close(self) -> None:
        return None


class AiohttpWebhookSender(WebhookSender):
    """POSTs deliveries with a timeout, no redirects, the URL checked first and the
    connection made only to addresses the guard allows."""

    def __init__(self, guard: NetworkUrlGuard, *, timeout: float = 10.0) -> None:
        self._guard = guard
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        await self._guard.check(url)
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=_GuardedResolver(self._guard))
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        try:
            async with self._session.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as response:
                await response.content.read(64 * 1024)  # a little of the body, then drop it
                return response.status
        except TimeoutError:
            raise ServiceUnavailableError("the endpoint did not answer in time") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise ServiceUnavailableError(f"could not reach the endpoint: {exc}") from None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
