"""speaker-count hints of a recording (num_speakers, max_speakers); transcript voices

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:59:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("num_speakers", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_speakers", sa.Integer(), nullable=True))
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voices", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.drop_column("voices")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("max_speakers")
        batch_op.drop_column("num_speakers")
