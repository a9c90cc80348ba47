"""live uploads: live_uploads (one per recording uploaded while it is recorded) and
live_chunks (the chunks its client declared)

Revision ID: 0009_live_uploads
Revises: 0008_search
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import elyune_adapters.sql.tables

revision: str = "0009_live_uploads"
down_revision: str | None = "0008_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = elyune_adapters.sql.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "live_uploads",
        sa.Column("recording_id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", UTC_TIME(timezone=True), nullable=False),
        sa.Column("updated_at", UTC_TIME(timezone=True), nullable=False),
        sa.Column("last_chunk_at", UTC_TIME(timezone=True), nullable=False),
        sa.Column("expected_chunks", sa.Integer()),
        sa.Column("finished_at", UTC_TIME(timezone=True)),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_until", UTC_TIME(timezone=True)),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("processed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_live_uploads_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_live_uploads")),
    )
    op.create_index("ix_live_uploads_processed", "live_uploads", ["processed"])
    op.create_table(
        "live_chunks",
        sa.Column("recording_id", sa.String(36), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("md5", sa.String(32), nullable=False),
        sa.Column("declared_at", UTC_TIME(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_live_chunks_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("recording_id", "index", name=op.f("pk_live_chunks")),
    )


def downgrade() -> None:
    op.drop_table("live_chunks")
    op.drop_index("ix_live_uploads_processed", table_name="live_uploads")
    op.drop_table("live_uploads")
