"""voice profiles: users' named voices, what each recording gave them, the recordings'
matches, and the per-user opt-out

Revision ID: 0006_voice_profiles
Revises: 0005
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import elyune_adapters.sql.tables

revision: str = "0006_voice_profiles"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("voice_profiles", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("speaker_matches", sa.JSON(none_as_null=True)))
    op.create_table(
        "voice_profiles",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(300), nullable=False),
        sa.Column(
            "created_at", elyune_adapters.sql.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", elyune_adapters.sql.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_voice_profiles_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_profiles")),
        sa.UniqueConstraint(
            "owner_id", "name_key", name=op.f("uq_voice_profiles_owner_id_name_key")
        ),
    )
    op.create_table(
        "voice_profile_contributions",
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("recording_id", sa.String(36), nullable=False),
        sa.Column("label", sa.String(50), nullable=False),
        sa.Column("embedding", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["voice_profiles.id"],
            name=op.f("fk_voice_profile_contributions_profile_id_voice_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_voice_profile_contributions_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "profile_id", "recording_id", "label", name=op.f("pk_voice_profile_contributions")
        ),
    )
    op.create_index(
        "ix_voice_profile_contributions_recording",
        "voice_profile_contributions",
        ["recording_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_voice_profile_contributions_recording", table_name="voice_profile_contributions"
    )
    op.drop_table("voice_profile_contributions")
    op.drop_table("voice_profiles")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("speaker_matches")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("voice_profiles")
