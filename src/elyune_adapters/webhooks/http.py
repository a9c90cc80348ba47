"""Sending webhooks over HTTP (aiohttp), and refusing URLs that point inside."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp

from elyune_core.errors import InvalidInputError, ServiceUnavailableError
from elyune_core.ports import UrlGuard, WebhookSender

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class NetworkUrlGuard(UrlGuard):
    """Refuses webhook URLs whose host is, or resolves to, a loopback, private,
    link-local, multicast or reserved address, unless *allow_private*."""

    def __init__(self, *, allow_private: bool = False, resolve_timeout: float = 5.0) -> None:
        self._allow_private = allow_private
        self._timeout = resolve_timeout

    async def check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidInputError({"url": "Enter a valid http:// or https:// URL."})
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InvalidInputError({"url": "The URL has an invalid port."}) from None
        if self._allow_private:
            return
        host = parts.hostname
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = await self._resolve(host, port)
        for address in addresses:
            if _internal(address):
                raise InvalidInputError(
                    {"url": "Webhook URLs may not point to loopback or private addresses."}
                )

    async def _resolve(
        self, host: str, port: int
    ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), self._timeout
            )
        except (OSError, TimeoutError):
            raise InvalidInputError({"url": f"The host {host!r} could not be resolved."}) from None
        return [ipaddress.ip_address(info[4][0]) for info in infos]


def _internal(address: _Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class AiohttpWebhookSender(WebhookSender):
    """POSTs deliveries with a timeout, no redirects, and the URL checked again first."""

    def __init__(self, guard: UrlGuard, *, timeout: float = 10.0) -> None:
        self._guard = guard
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        await self._guard.check(url)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as response:
                await response.content.read(64 * 1024)  # a little of the body, then drop it
                return response.status
        except TimeoutError:
            raise ServiceUnavailableError("the endpoint did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise ServiceUnavailableError(f"could not reach the endpoint: {exc}") from None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
