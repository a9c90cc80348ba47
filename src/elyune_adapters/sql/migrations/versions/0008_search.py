"""full-text search: search_documents with the engine's index (SQLite FTS5, PostgreSQL
tsvector + GIN), backfilled from the stored transcripts; answer_usage

Revision ID: 0008_search
Revises: 0005
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from elyune_adapters.sql import search

revision: str = "0008_search"
down_revision: str | None = "0007_staff_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "recording_id",
            sa.String(36),
            sa.ForeignKey(
                "recordings.id",
                ondelete="CASCADE",
                name="fk_search_documents_recording_id_recordings",
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("field", sa.String(30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float()),
        sa.Column("end", sa.Float()),
        sa.Column("speaker", sa.String(50)),
        sa.Column("speaker_name", sa.String(200)),
        sa.Column("speaker_key", sa.String(200)),
        sa.Column("language", sa.String(20)),
        sa.Column("config", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_search_documents"),
    )
    op.create_index("ix_search_documents_recording", "search_documents", ["recording_id"])
    op.create_table(
        "answer_usage",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "owner_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_answer_usage_owner_id_users"),
            nullable=False,
        ),
        sa.Column("recording_id", sa.String(36)),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_answer_usage"),
    )
    op.create_index("ix_answer_usage_owner_created", "answer_usage", ["owner_id", "created_at"])
    conn = op.get_bind()
    search.install(conn)
    search.backfill(conn)


def downgrade() -> None:
    conn = op.get_bind()
    search.uninstall(conn)
    op.drop_index("ix_answer_usage_owner_created", table_name="answer_usage")
    op.drop_table("answer_usage")
    op.drop_index("ix_search_documents_recording", table_name="search_documents")
    op.drop_table("search_documents")
