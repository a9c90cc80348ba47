"""SQLAlchemy Core tables (portable: the same DDL runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # One function per value instead of TypeDecorator's two-level chain: listings
        # read two timestamps per row.
        parse = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        if parse is None:
            return lambda value: None if value is None else _as_utc(value)

        def process(value: Any) -> datetime | None:
            return None if value is None else _as_utc(parse(value))

        return process


def _as_utc(value: Any) -> datetime:
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ID = String(36)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(150), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("is_staff", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("voice_profiles", Boolean, nullable=False, default=True, server_default=true()),
)

recordings = Table(
    "recordings",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("filename", String(255), nullable=False),
    Column("source_key", String(1024), nullable=False),
    Column("status", String(20), nullable=False),
    Column("file_size", BigInteger, nullable=False, default=0),
    Column("quality", String(20)),
    Column("fps", Integer),
    Column("has_system_audio", Boolean, nullable=False, default=False),
    Column("has_microphone", Boolean, nullable=False, default=False),
    Column("language", String(20)),
    Column("num_speakers", Integer),
    Column("max_speakers", Integer),
    Column("media", JSON),
    Column("error", Text),
    Column("speaker_names", JSON, nullable=False),
    # {label: {profile_id, name, similarity, confidence}}; NULL when none (so that the
    # recordings matched to a profile are found without reading every row's JSON)
    Column("speaker_matches", JSON(none_as_null=True)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_recordings_owner_created", "owner_id", "created_at"),
    Index("ix_recordings_status", "status"),
    Index("ix_recordings_created", "created_at"),
)

recording_files = Table(
    "recording_files",
    metadata,
    Column(
        "recording_id",
        ID,
        ForeignKey("recordings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(20), primary_key=True),
    Column("key", String(1024), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("width", Integer),
    Column("height", Integer),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column(
        "recording_id",
        ID,
        ForeignKey("recordings.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("version", Integer, nullable=False, default=0),
    # the transcript is the live recording's stretches (``Job.from_stretches``)
    Column("from_stretches", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_jobs_status", "status"),
)

job_steps = Table(
    "job_steps",
    metadata,
    Column("job_id", ID, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(30), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("error", Text),
    Column("output", JSON, nullable=False),
    Column("worker", String(200)),
    Column("lease_expires_at", UTCDateTime),
    Column("progress", Float),
    Column("retry_at", UTCDateTime),
    Column("outage_since", UTCDateTime),
    Index("ix_job_steps_status_lease", "status", "lease_expires_at"),
)

transcripts = Table(
    "transcripts",
    metadata,
    Column(
        "recording_id",
        ID,
        ForeignKey("recordings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("text", Text, nullable=False),
    Column("language", String(20)),
    Column("language_confidence", Float),
    Column("engine", String(100), nullable=False),
    Column("duration", Float),
    Column("speaker_count", Integer),
    Column("request_id", String(200)),
    Column("audio_seconds", Float),
    Column("words", JSON, nullable=False),
    Column("voices", JSON),
    Column("created_at", UTCDateTime, nullable=False),
)

transcript_segments = Table(
    "transcript_segments",
    metadata,
    Column(
        "recording_id",
        ID,
        ForeignKey("transcripts.recording_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("idx", Integer, primary_key=True),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("speaker", String(50)),
    Column("text", Text, nullable=False),
    Column("confidence", Float),
)

analyses = Table(
    "analyses",
    metadata,
    Column(
        "recording_id",
        ID,
        ForeignKey("recordings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(30), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("engine", String(100), nullable=False),
    Column("content", JSON),
    Column("error", Text),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

used_refresh_tokens = Table(
    "used_refresh_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_used_refresh_tokens_expires", "expires_at"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),
    Column("secret", String(255), nullable=False),  # sealed (sql/sealing.py)
    Column("description", String(500), nullable=False, default=""),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_webhooks_owner", "owner_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("endpoint_id", ID, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", ID, nullable=False),
    Column("event", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
)

voice_profiles = Table(
    "voice_profiles",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("name_key", String(300), nullable=False),  # elyune_core._voices.name_key(name)
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner_id", "name_key"),
)

voice_profile_contributions = Table(
    "voice_profile_contributions",
    metadata,
    Column(
        "profile_id",
        ID,
        ForeignKey("voice_profiles.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "recording_id",
        ID,
        ForeignKey("recordings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("label", String(50), primary_key=True),
    Column("embedding", JSON, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Index("ix_voice_profile_contributions_recording", "recording_id"),
)

# The full-text index's documents (elyune_core._search). The engines' own index lives
# beside it, made by migration 0008_search: on SQLite the FTS5 table ``search_fts``
# (external content, kept in step by triggers); on PostgreSQL a ``tsv tsvector`` column
# filled by a trigger from ``config`` (a text search configuration name) and ``text``,
# with a GIN index.
search_documents = Table(
    "search_documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recording_id", ID, ForeignKey("recordings.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", ID, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("field", String(30), nullable=False),
    Column("position", Integer, nullable=False),
    Column("start", Float),
    Column("end", Float),
    Column("speaker", String(50)),
    Column("speaker_name", String(200)),
    Column("speaker_key", String(200)),  # the name case-folded, for the speaker filter
    Column("language", String(20)),
    Column("config", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Index("ix_search_documents_recording", "recording_id"),
)

# Tokens each answer (ask) used, like the analyses' token counts.
answer_usage = Table(
    "answer_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("recording_id", ID),
    Column("engine", String(100), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_answer_usage_owner_created", "owner_id", "created_at"),
)

# Live (chunked) uploads (elyune_core.entities.LiveUpload) and the chunks their clients
# declared; the rows go with the recording.
live_uploads = Table(
    "live_uploads",
    metadata,
    Column(
        "recording_id",
        ID,
        ForeignKey("recordings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("owner_id", ID, nullable=False),
    Column("state", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_chunk_at", UTCDateTime, nullable=False),
    Column("expected_chunks", Integer),
    Column("finished_at", UTCDateTime),
    Column("cursor", JSON, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime),
    Column("version", Integer, nullable=False, default=0),
    Column("note", Text),
    Column("processed", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_live_uploads_processed", "processed"),
)

live_chunks = Table(
    "live_chunks",
    metadata,
    Column(
        "recording_id",
        ID,
        ForeignKey("recordings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("index", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("md5", String(32), nullable=False),
    Column("declared_at", UTCDateTime, nullable=False),
)
