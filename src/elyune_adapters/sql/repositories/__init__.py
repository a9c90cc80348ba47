"""SQL repositories: SQLAlchemy Core statements and row <-> entity conversion.

Every statement is portable SQL (SQLite and PostgreSQL). Rows are converted to entities
in small functions; no ORM mapping of the core's classes."""

from elyune_adapters.sql.repositories.analyses import SqlAnalysisRepository, _analysis
from elyune_adapters.sql.repositories.jobs import SqlJobRepository, _job, _step
from elyune_adapters.sql.repositories.live_uploads import SqlLiveUploadRepository
from elyune_adapters.sql.repositories.recordings import (
    RecordingCounts,
    SqlRecordingRepository,
    _recording,
    _sorted_files,
    _stored_file,
)
from elyune_adapters.sql.repositories.tokens import SqlTokenRepository
from elyune_adapters.sql.repositories.transcripts import SqlTranscriptRepository, _transcript
from elyune_adapters.sql.repositories.users import SqlUserRepository
from elyune_adapters.sql.repositories.voice_profiles import SqlVoiceProfileRepository
from elyune_adapters.sql.repositories.webhooks import SqlWebhookRepository

__all__ = [
    "RecordingCounts",
    "SqlAnalysisRepository",
    "SqlJobRepository",
    "SqlLiveUploadRepository",
    "SqlRecordingRepository",
    "SqlTokenRepository",
    "SqlTranscriptRepository",
    "SqlUserRepository",
    "SqlVoiceProfileRepository",
    "SqlWebhookRepository",
    "_analysis",
    "_job",
    "_recording",
    "_sorted_files",
    "_step",
    "_stored_file",
    "_transcript",
]
