"""Webhooks: users register URLs; events become signed, retried, logged deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import attrs

from elyune_core.entities import (
    DeliveryAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    iso_time,
)
from elyune_core.errors import (
    ElyuneError,
    InvalidInputError,
    InvalidStateError,
    ServiceUnavailableError,
    WebhookNotFoundError,
)
from elyune_core.ids import DeliveryId, UserId, WebhookId
from elyune_core.ports import (
    Clock,
    IdSource,
    RecordingEvent,
    UnitOfWorkFactory,
    UrlGuard,
    WebhookSender,
)

logger = logging.getLogger("elyune.webhooks")

SIGNATURE_HEADER = "X-Elyune-Signature"
# Waits between attempts: 10 s, 1 min, 5 min, 30 min, 2 h; then the delivery fails.
RETRY_DELAYS: tuple[float, ...] = (10, 60, 300, 1800, 7200)
MAX_WEBHOOKS_PER_USER = 20


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: ``t=<unix time>,v1=<hex HMAC-SHA256>``.

    The HMAC is computed with *secret* over ``"<timestamp>." + body``; a receiver
    recomputes it and compares in constant time, and refuses old timestamps.
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """Whether *header* is a valid signature of *body* made less than *tolerance* s ago."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


@attrs.frozen
class CreateWebhookInput:
    """A URL and the events it wants."""

    owner_id: UserId
    url: str
    events: tuple[str, ...]
    description: str = ""


class CreateWebhook:
    """Register a webhook endpoint; its secret is returned once, on creation.

    Rules: an http(s) URL of at most 2000 characters that the ``UrlGuard`` allows (no
    loopback or private addresses unless configured); at least one known event; at most
    ``MAX_WEBHOOKS_PER_USER`` endpoints per user.
    """

    def __init__(
        self, *, uow: UnitOfWorkFactory, guard: UrlGuard, clock: Clock, ids: IdSource
    ) -> None:
        self._uow = uow
        self._guard = guard
        self._clock = clock
        self._ids = ids

    async def execute(self, data: CreateWebhookInput) -> WebhookEndpoint:
        """Validate and store the endpoint."""
        errors: dict[str, str] = {}
        if not data.url.startswith(("http://", "https://")) or len(data.url) > 2000:
            errors["url"] = "Enter a valid http:// or https:// URL."
        known = {e.value for e in WebhookEvent}
        unknown = [e for e in data.events if e not in known]
        if not data.events:
            errors["events"] = f"Choose at least one of: {', '.join(sorted(known))}."
        elif unknown:
            errors["events"] = f'"{unknown[0]}" is not a valid event ({", ".join(sorted(known))}).'
        if len(data.description) > 500:
            errors["description"] = "Ensure this field has no more than 500 characters."
        if errors:
            raise InvalidInputError(errors)
        await self._guard.check(data.url)
        endpoint = WebhookEndpoint(
            id=WebhookId(self._ids.new_id()),
            owner_id=data.owner_id,
            url=data.url,
            events=tuple(WebhookEvent(e) for e in dict.fromkeys(data.events)),
            secret=f"whsec_{secrets.token_urlsafe(32)}",
            created_at=self._clock.now(),
            description=data.description,
        )
        async with self._uow() as uow:
            if len(await uow.webhooks.list(data.owner_id)) >= MAX_WEBHOOKS_PER_USER:
                raise InvalidStateError(
                    f"A user may have at most {MAX_WEBHOOKS_PER_USER} webhooks."
                )
            await uow.webhooks.add(endpoint)
            await uow.commit()
        return endpoint


class QueueWebhookDeliveries:
    """Turn a recording event into one pending delivery per subscribed endpoint.

    Rules: only the webhook events (``WebhookEvent``) are delivered; the payload is
    ``{id, type, created_at, data: {recording_id, ...}}``.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, ids: IdSource) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def execute(self, event: RecordingEvent) -> int:
        """Queue the deliveries of *event*; return how many."""
        try:
            kind = WebhookEvent(event.type)
        except ValueError:
            return 0
        now = self._clock.now()
        async with self._uow() as uow:
            endpoints = await uow.webhooks.subscribed(event.owner_id, kind)
            for endpoint in endpoints:
                delivery_id = DeliveryId(self._ids.new_id())
                payload = {
                    "id": delivery_id,
                    "type": kind.value,
                    "created_at": iso_time(event.occurred_at),
                    "data": {"recording_id": event.recording_id, **dict(event.data)},
                }
                await uow.webhooks.add_delivery(
                    WebhookDelivery(
                        id=delivery_id,
                        endpoint_id=endpoint.id,
                        owner_id=endpoint.owner_id,
                        event=kind,
                        payload=payload,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
            if endpoints:
                await uow.commit()
        return len(endpoints)


@attrs.frozen
class DeliveryReport:
    """What one delivery round did."""

    attempted: int
    succeeded: int


@attrs.frozen
class DeliveryLimits:
    """How many attempts may run at once: in all, per user and per endpoint.

    With the sender's timeout (10 s), a user's endpoints that never answer hold at most
    *per_user* slots: everyone else's deliveries go on in the others.
    """

    total: int = 64
    per_user: int = 4
    per_endpoint: int = 2


class DeliverWebhooks:
    """Send the deliveries that are due, signed, concurrently, and record every attempt.

    Rules: a 2xx answer succeeds; anything else (or a network error) is retried after
    ``RETRY_DELAYS``; after the last one the delivery fails. Each attempt is logged with
    its status code or error and its duration. Attempts run concurrently within
    ``DeliveryLimits``; a user or endpoint at its bound is not claimed for, so one
    user's slow endpoints never delay another user's deliveries.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        sender: WebhookSender,
        clock: Clock,
        delays: Sequence[float] = RETRY_DELAYS,
        limits: DeliveryLimits | None = None,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._clock = clock
        self._delays = tuple(delays)
        self._limits = limits or DeliveryLimits()
        self._by_owner: Counter[UserId] = Counter()
        self._by_endpoint: Counter[WebhookId] = Counter()
        self._running: set[asyncio.Task[bool]] = set()
        self._finished = asyncio.Event()

    async def execute(self, limit: int = 50) -> DeliveryReport:
        """One round: send up to *limit* due deliveries concurrently and wait for them."""
        tasks = await self._start_due(limit)
        results = await asyncio.gather(*tasks)
        return DeliveryReport(len(tasks), sum(results))

    async def run(self, idle: float = 1.0) -> None:
        """Deliver forever: claim more as soon as slots free up, look again after
        *idle* seconds when nothing was due. Cancel to stop (attempts in flight are
        cancelled; their deliveries are retried when their lease ends)."""
        try:
            while True:
                try:
                    started = await self._start_due(self._limits.total - len(self._running))
                except ElyuneError as exc:
                    logger.warning("webhook delivery round failed: %s", exc)
                    started = []
                except Exception:  # a bug must not end deliveries for the life of the process
                    logger.exception("webhook delivery round crashed")
                    started = []
                if started and len(self._running) < self._limits.total:
                    await asyncio.sleep(0)  # let them start; then claim for others
                    continue
                self._finished.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._finished.wait(), idle)
        finally:
            for task in self._running:
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _start_due(self, limit: int) -> list[asyncio.Task[bool]]:
        if limit <= 0:
            return []
        limits = self._limits
        now = self._clock.now()
        async with self._uow() as uow:
            due = list(
                await uow.webhooks.claim_due(
                    now,
                    now + timedelta(minutes=2),
                    limit,
                    per_owner=limits.per_user,
                    per_endpoint=limits.per_endpoint,
                    skip_owners={o for o, n in self._by_owner.items() if n >= limits.per_user},
                    skip_endpoints={
                        e for e, n in self._by_endpoint.items() if n >= limits.per_endpoint
                    },
                )
            )
            endpoints: dict[WebhookId, WebhookEndpoint | None] = {}
            for delivery in due:
                if delivery.endpoint_id not in endpoints:
                    try:
                        endpoints[delivery.endpoint_id] = await uow.webhooks.get(
                            delivery.endpoint_id, delivery.owner_id
                        )
                    except WebhookNotFoundError:  # deleted meanwhile: skip its deliveries
                        endpoints[delivery.endpoint_id] = None
            await uow.commit()
        tasks: list[asyncio.Task[bool]] = []
        release: list[WebhookDelivery] = []
        for delivery in due:
            endpoint = endpoints.get(delivery.endpoint_id)
            if endpoint is None:
                continue
            if (
                self._by_owner[delivery.owner_id] >= limits.per_user
                or self._by_endpoint[endpoint.id] >= limits.per_endpoint
            ):
                release.append(delivery)  # over a bound with those in flight: not now
                continue
            self._by_owner[delivery.owner_id] += 1
            self._by_endpoint[endpoint.id] += 1
            task = asyncio.create_task(self._deliver(endpoint, delivery))
            self._running.add(task)
            tasks.append(task)
        if release:
            async with self._uow() as uow:
                for delivery in release:  # as claimed: due again at once
                    await uow.webhooks.save_delivery(delivery)
                await uow.commit()
        return tasks

    async def _deliver(self, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> bool:
        try:
            updated = await self._attempt(endpoint, delivery)
            try:
                async with self._uow() as uow:
                    await uow.webhooks.save_delivery(updated)
                    await uow.commit()
            except ElyuneError as exc:  # tried again when its lease ends
                logger.warning("could not record delivery %s: %s", delivery.id, exc)
            return updated.delivered_at is not None
        finally:
            self._by_owner[delivery.owner_id] -= 1
            self._by_endpoint[endpoint.id] -= 1
            if self._by_owner[delivery.owner_id] <= 0:
                del self._by_owner[delivery.owner_id]
            if self._by_endpoint[endpoint.id] <= 0:
                del self._by_endpoint[endpoint.id]
            self._running.discard(asyncio.current_task())
            self._finished.set()

    async def _attempt(
        self, endpoint: WebhookEndpoint, delivery: WebhookDelivery
    ) -> WebhookDelivery:
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        started = self._clock.now()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Elyune-Webhooks/1",
            "X-Elyune-Event": delivery.event.value,
            "X-Elyune-Delivery": delivery.id,
            SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body),
        }
        status: int | None = None
        error: str | None = None
        clock_start = time.monotonic()
        try:
            status = await self._sender.send(endpoint.url, body, headers)
            if not 200 <= status < 300:
                error = f"the endpoint answered HTTP {status}"
        except (ServiceUnavailableError, InvalidInputError) as exc:
            error = str(exc)
        elapsed = int((time.monotonic() - clock_start) * 1000)
        attempt = DeliveryAttempt(at=started, status_code=status, error=error, duration_ms=elapsed)
        number = len(delivery.attempts)  # attempts before this one
        retry_at = (
            started + timedelta(seconds=self._delays[number])
            if number < len(self._delays)
            else None
        )
        return delivery.record(attempt, retry_at)


class ListWebhooks:
    """The owner's webhook endpoints."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, owner_id: UserId) -> Sequence[WebhookEndpoint]:
        """List them, oldest first."""
        async with self._uow() as uow:
            return await uow.webhooks.list(owner_id)


class DeleteWebhook:
    """Delete one of the owner's endpoints with its delivery log."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, webhook_id: WebhookId, owner_id: UserId) -> None:
        """Delete it (``WebhookNotFoundError`` if it is not the owner's)."""
        async with self._uow() as uow:
            endpoint = await uow.webhooks.get(webhook_id, owner_id)
            await uow.webhooks.delete(endpoint.id)
            await uow.commit()


class ListDeliveries:
    """The delivery log of one of the owner's endpoints, newest first."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(
        self, webhook_id: WebhookId, owner_id: UserId, limit: int = 100
    ) -> Sequence[WebhookDelivery]:
        """Every delivery with its attempts."""
        async with self._uow() as uow:
            endpoint = await uow.webhooks.get(webhook_id, owner_id)
            return await uow.webhooks.deliveries(endpoint.id, limit)
