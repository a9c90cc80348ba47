"""Sending webhooks over HTTP (aiohttp), and refusing URLs that point inside."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from elyune_core.errors import InvalidInputError, ServiceUnavailableError
from elyune_core.ports import UrlGuard, WebhookSender

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

INVALID_URL = "Enter a valid http:// or https:// URL."
INTERNAL = "Webhook URLs may not point to loopback, private or other internal addresses."


_V6 = ipaddress.IPv6Network
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: IPv4-compatible
# (deprecated, ``::a.b.c.d``), IPv4-mapped, IPv4-translated (SIIT), and NAT64 (the
# well-known prefix and the local-use one). A connection to one of them may reach the
# IPv4 address inside, so that address is what is judged.
_EMBEDDING_V4 = (
    _V6("::/96"),
    _V6("::ffff:0:0/96"),
    _V6("::ffff:0:0:0/96"),
    _V6("64:ff9b::/96"),
    _V6("64:ff9b:1::/48"),
)
# The only IPv6 space that holds public unicast addresses (RFC 4291, IANA): everything
# outside it (site-local fec0::/10, unique-local, link-local, multicast, discard, the
# unspecified and loopback addresses...) is internal.
_GLOBAL_UNICAST = _V6("2000::/3")


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    for network in _EMBEDDING_V4:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def internal(address: _Address) -> bool:
    """Whether *address* is not a public Internet address (loopback, private, CGNAT,
    link-local and metadata, multicast, reserved).

    An IPv6 address that embeds an IPv4 one (compatible ``::127.0.0.1``, mapped,
    translated ``::ffff:0:7f00:1``, NAT64 ``64:ff9b::a9fe:a9fe``, 6to4, Teredo) is
    judged by the IPv4 address inside; any other IPv6 address must be global unicast
    (``2000::/3``, not a special-purpose block).
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return True  # a zone index names a local interface
        inner = _embedded_v4(address)
        if inner is not None:
            return internal(inner)
        return (
            address not in _GLOBAL_UNICAST
            or not address.is_global
            or address.is_multicast
            or address.is_site_local
        )
    return not address.is_global or address.is_multicast or address.is_reserved


Lookup = Callable[[str, int], Awaitable[list[str]]]


async def system_lookup(host: str, port: int) -> list[str]:
    """The addresses of *host* from the system resolver."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class NetworkUrlGuard(UrlGuard):
    """Refuses webhook URLs whose host is, or resolves to, an internal address (see
    :func:`internal`), unless *allow_private*."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolve_timeout: float = 5.0,
        lookup: Lookup = system_lookup,
    ) -> None:
        self.allow_private = allow_private
        self._timeout = resolve_timeout
        self._lookup = lookup

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
        try:
            found = await asyncio.wait_for(self._lookup(host, port), self._timeout)
            return [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        except (OSError, TimeoutError, UnicodeError, ValueError):
            raise InvalidInputError({"url": f"The host {host!r} could not be resolved."}) from None


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
            raise OSError(errno.EHOSTUNREACH, str(exc)) from None
        allowed = [a for a in addresses if self._guard.allow_private or not internal(a)]
        if not allowed:  # (errno, text): aiohttp shows the text in its error
            raise OSError(errno.EHOSTUNREACH, INTERNAL)
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
