"""jobs.from_stretches: a live recording's job transcribed from its stretches, whose
transcript follows the probe rather than the WAV

Revision ID: 0010_jobs_from_stretches
Revises: 0009_live_uploads
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_jobs_from_stretches"
down_revision: str | None = "0009_live_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("from_stretches", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("from_stretches")
