"""webhook secrets encrypted at rest

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:30:00

The ``secret`` column grows to 255 characters (a sealed secret is longer than the
plain one) and every secret stored in clear is sealed with the key derived from the
server secret, which ``elyune db upgrade`` (and the embedded start-up) hands over.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_webhooks = sa.table("webhooks", sa.column("id", sa.String), sa.column("secret", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=100), type_=sa.String(length=255)
        )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_webhooks.c.id, _webhooks.c.secret).where(~_webhooks.c.secret.like("enc1:%"))
    ).all()
    if not rows:
        return
    box = context.config.attributes.get("secret_box")
    if box is None:
        raise RuntimeError(
            "Sealing the stored webhook secrets needs the server secret: run `elyune db upgrade`."
        )
    for webhook_id, secret in rows:
        conn.execute(
            sa.update(_webhooks)
            .where(_webhooks.c.id == webhook_id)
            .values(secret=box.seal(secret, webhook_id))
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_webhooks.c.id, _webhooks.c.secret).where(_webhooks.c.secret.like("enc1:%"))
    ).all()
    if rows:
        box = context.config.attributes.get("secret_box")
        if box is None:
            raise RuntimeError("Opening the sealed webhook secrets needs the server secret.")
        for webhook_id, secret in rows:
            conn.execute(
                sa.update(_webhooks)
                .where(_webhooks.c.id == webhook_id)
                .values(secret=box.open(secret, webhook_id))
            )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=255), type_=sa.String(length=100)
        )
