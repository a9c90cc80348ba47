"""steps wait out storage and database outages

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import elyune_adapters.sql.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_steps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retry_at", elyune_adapters.sql.tables.UTCDateTime(timezone=True))
        )
        batch_op.add_column(
            sa.Column("outage_since", elyune_adapters.sql.tables.UTCDateTime(timezone=True))
        )


def downgrade() -> None:
    with op.batch_alter_table("job_steps", schema=None) as batch_op:
        batch_op.drop_column("outage_since")
        batch_op.drop_column("retry_at")
