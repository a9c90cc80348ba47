"""Webhook endpoints and their deliveries."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.reader import SyncReader
from elyune_adapters.sql.sealing import SecretBox
from elyune_core.entities import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from elyune_core.errors import (
    WebhookNotFoundError,
)
from elyune_core.ids import DeliveryId, UserId, WebhookId
from elyune_core.ports import (
    WebhookRepository,
)


def _endpoint(row: RowMapping, box: SecretBox | None) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=WebhookId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        url=row["url"],
        events=tuple(WebhookEvent(e) for e in row["events"]),
        secret=row["secret"] if box is None else box.open(row["secret"], row["id"]),
        created_at=row["created_at"],
        description=row["description"] or "",
        is_active=bool(row["is_active"]),
    )


def _delivery(row: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=DeliveryId(row["id"]),
        endpoint_id=WebhookId(row["endpoint_id"]),
        owner_id=UserId(row["owner_id"]),
        event=WebhookEvent(row["event"]),
        payload=dict(row["payload"]),
        created_at=row["created_at"],
        status=DeliveryStatus(row["status"]),
        attempts=tuple(
            DeliveryAttempt(
                at=datetime.fromisoformat(a["at"]),
                status_code=a["status_code"],
                error=a["error"],
                duration_ms=a["duration_ms"],
            )
            for a in row["attempts"]
        ),
        next_attempt_at=row["next_attempt_at"],
        delivered_at=row["delivered_at"],
    )


def _delivery_values(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "status": delivery.status.value,
        "attempts": [
            {
                "at": a.at.isoformat(),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in delivery.attempts
        ],
        "next_attempt_at": delivery.next_attempt_at,
        "delivered_at": delivery.delivered_at,
    }


class SqlWebhookRepository(WebhookRepository):
    """Webhook endpoints in ``webhooks``, deliveries in ``webhook_deliveries``.

    With a *box*, signing secrets are stored encrypted (see ``sealing``).
    """

    def __init__(self, conn: AsyncConnection | SyncReader, box: SecretBox | None = None) -> None:
        self._conn = conn
        self._box = box

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._conn.execute(
            insert(t.webhooks).values(
                id=endpoint.id,
                owner_id=endpoint.owner_id,
                url=endpoint.url,
                events=[e.value for e in endpoint.events],
                secret=endpoint.secret
                if self._box is None
                else self._box.seal(endpoint.secret, endpoint.id),
                description=endpoint.description,
                is_active=endpoint.is_active,
                created_at=endpoint.created_at,
            )
        )

    async def get(self, webhook_id: WebhookId, owner_id: UserId) -> WebhookEndpoint:
        row = (
            (
                await self._conn.execute(
                    select(t.webhooks).where(
                        and_(t.webhooks.c.id == webhook_id, t.webhooks.c.owner_id == owner_id)
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise WebhookNotFoundError("Not found.")
        return _endpoint(row, self._box)

    async def list(self, owner_id: UserId) -> Sequence[WebhookEndpoint]:
        rows = (
            await self._conn.execute(
                select(t.webhooks)
                .where(t.webhooks.c.owner_id == owner_id)
                .order_by(t.webhooks.c.created_at, t.webhooks.c.id)
            )
        ).mappings()
        return [_endpoint(r, self._box) for r in rows]

    async def delete(self, webhook_id: WebhookId) -> None:
        await self._conn.execute(
            delete(t.webhook_deliveries).where(t.webhook_deliveries.c.endpoint_id == webhook_id)
        )
        await self._conn.execute(delete(t.webhooks).where(t.webhooks.c.id == webhook_id))

    async def subscribed(self, owner_id: UserId, event: WebhookEvent) -> Sequence[WebhookEndpoint]:
        return [
            e
            for e in await self.list(owner_id)
            if e.is_active and event in e.events  # few per user: filter in Python
        ]

    async def add_delivery(self, delivery: WebhookDelivery) -> None:
        await self._conn.execute(
            insert(t.webhook_deliveries).values(
                id=delivery.id,
                endpoint_id=delivery.endpoint_id,
                owner_id=delivery.owner_id,
                event=delivery.event.value,
                payload=dict(delivery.payload),
                created_at=delivery.created_at,
                **_delivery_values(delivery),
            )
        )

    async def save_delivery(self, delivery: WebhookDelivery) -> None:
        await self._conn.execute(
            update(t.webhook_deliveries)
            .where(t.webhook_deliveries.c.id == delivery.id)
            .values(**_delivery_values(delivery))
        )

    async def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int = 50,
        *,
        per_owner: int | None = None,
        per_endpoint: int | None = None,
        skip_owners: Collection[UserId] = (),
        skip_endpoints: Collection[WebhookId] = (),
    ) -> Sequence[WebhookDelivery]:
        d = t.webhook_deliveries
        conditions = [d.c.status == DeliveryStatus.PENDING.value, d.c.next_attempt_at <= now]
        if skip_owners:
            conditions.append(d.c.owner_id.not_in(list(skip_owners)))
        if skip_endpoints:
            conditions.append(d.c.endpoint_id.not_in(list(skip_endpoints)))
        order = (d.c.next_attempt_at, d.c.id)
        if per_owner is None and per_endpoint is None:
            query = select(d).where(and_(*conditions)).order_by(*order).limit(limit)
        else:
            # The oldest few of each owner and of each endpoint (window functions), then
            # the oldest of those: one backlog cannot take every slot of the claim.
            ranked = (
                select(
                    d.c.id,
                    func.row_number()
                    .over(partition_by=d.c.owner_id, order_by=order)
                    .label("by_owner"),
                    func.row_number()
                    .over(partition_by=d.c.endpoint_id, order_by=order)
                    .label("by_endpoint"),
                )
                .where(and_(*conditions))
                .subquery()
            )
            fair = select(ranked.c.id)
            if per_owner is not None:
                fair = fair.where(ranked.c.by_owner <= per_owner)
            if per_endpoint is not None:
                fair = fair.where(ranked.c.by_endpoint <= per_endpoint)
            query = (
                select(d).where(and_(d.c.id.in_(fair), *conditions)).order_by(*order).limit(limit)
            )
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [_delivery(r) for r in (await self._conn.execute(query)).mappings()]
        if rows:
            await self._conn.execute(
                update(t.webhook_deliveries)
                .where(t.webhook_deliveries.c.id.in_([d.id for d in rows]))
                .values(next_attempt_at=lease_until)
            )
        return rows

    async def deliveries(
        self, webhook_id: WebhookId, limit: int = 100
    ) -> Sequence[WebhookDelivery]:
        rows = (
            await self._conn.execute(
                select(t.webhook_deliveries)
                .where(t.webhook_deliveries.c.endpoint_id == webhook_id)
                .order_by(t.webhook_deliveries.c.created_at.desc())
                .limit(limit)
            )
        ).mappings()
        return [_delivery(r) for r in rows]

    async def delivery_counts(self) -> Mapping[str, int]:
        status = t.webhook_deliveries.c.status
        rows = await self._conn.execute(select(status, func.count()).group_by(status))
        return {row[0]: int(row[1]) for row in rows}
