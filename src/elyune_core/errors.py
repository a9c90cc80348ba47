"""Errors of the Elyune core.

Every error the core raises derives from :class:`ElyuneError`. Entry points (HTTP, CLI,
workers) map these classes to status codes, exit codes and step failures without importing
any adapter::

    ElyuneError
    ├── NotFoundError
    │   ├── RecordingNotFoundError
    │   ├── JobNotFoundError
    │   ├── UserNotFoundError
    │   ├── TranscriptNotFoundError
    │   ├── WebhookNotFoundError
    │   ├── VoiceProfileNotFoundError
    │   ├── NotLiveUploadError
    │   └── ObjectNotFoundError
    ├── InvalidInputError
    │   ├── InvalidKeyError
    │   └── InvalidStateError               (409)
    │       ├── UploadIncompleteError
    │       └── ChunksMissingError
    ├── ConflictError
    │   ├── UploadInProgressError
    │   └── LostLeaseError              (use_cases.live_processing: a live lease taken over)
    ├── AuthenticationError
    │   ├── InvalidCredentialsError
    │   └── InvalidTokenError
    ├── RateLimitedError
    ├── ServiceUnavailableError            (transient)
    │   ├── ObjectStoreUnavailableError
    │   ├── RepositoryUnavailableError
    │   ├── QueueUnavailableError
    │   └── AnswerUnavailableError
    ├── StepError
    │   ├── InvalidMediaError               (permanent)
    │   │   └── ObjectChangedError          (the source changed under a step)
    │   ├── MediaProcessingError
    │   ├── TranscriptionFailedError
    │   └── AnalysisFailedError
    └── SettingsError                      (elyune_adapters.settings: a bad setting)

``transient`` tells the pipeline whether a failed step may succeed when tried again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ElyuneError(Exception):
    """Base class of every error raised by Elyune."""

    transient: bool = False

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if transient is not None:
            self.transient = transient

    def __str__(self) -> str:
        return self.message


class NotFoundError(ElyuneError):
    """Something asked for does not exist, or is not the caller's to see."""


class RecordingNotFoundError(NotFoundError):
    """No recording with this id is visible to the caller."""


class JobNotFoundError(NotFoundError):
    """No processing job with this id exists."""


class UserNotFoundError(NotFoundError):
    """No user with this id or name exists."""


class TranscriptNotFoundError(NotFoundError):
    """The recording has no transcript (yet)."""


class WebhookNotFoundError(NotFoundError):
    """No webhook endpoint with this id belongs to the caller."""


class VoiceProfileNotFoundError(NotFoundError):
    """No voice profile with this id belongs to the caller."""


class NotLiveUploadError(NotFoundError):
    """The recording exists but was uploaded whole, not live."""


class ObjectNotFoundError(NotFoundError):
    """No stored object under this key."""


class InvalidInputError(ElyuneError):
    """Input that breaks a rule; ``errors`` maps field names to messages."""

    def __init__(self, errors: Mapping[str, str | list[str]] | str, field: str = "detail") -> None:
        if isinstance(errors, str):
            errors = {field: errors}
        self.errors: dict[str, list[str]] = {
            name: [msg] if isinstance(msg, str) else list(msg) for name, msg in errors.items()
        }
        first = next(iter(self.errors.items()))
        super().__init__(f"{first[0]}: {first[1][0]}" if first[0] != "detail" else first[1][0])


class InvalidKeyError(InvalidInputError):
    """An object key that is malformed or escapes its prefix."""


class InvalidStateError(InvalidInputError):
    """Valid input that the current state of its object refuses (HTTP 409): nothing
    uploaded yet, no failed step to retry, the webhook limit reached."""


class UploadIncompleteError(InvalidStateError):
    """The uploaded object is missing or does not match what was declared."""


class ChunksMissingError(InvalidStateError):
    """A live upload was to be finished but some of its chunks have not arrived
    (``missing``: their indexes)."""

    def __init__(self, missing: Sequence[int]) -> None:
        self.missing = tuple(missing)
        shown = ", ".join(str(i) for i in self.missing[:20])
        more = f" and {len(self.missing) - 20} more" if len(self.missing) > 20 else ""
        word = "Chunk" if len(self.missing) == 1 else "Chunks"
        verb = "has" if len(self.missing) == 1 else "have"
        super().__init__({"chunks": f"{word} {shown}{more} {verb} not arrived."})


class ConflictError(ElyuneError):
    """The request conflicts with the current state (a taken user name, say)."""


class UploadInProgressError(ConflictError):
    """Another upload to the same object is running."""


class AuthenticationError(ElyuneError):
    """Credentials or a token were refused."""


class InvalidCredentialsError(AuthenticationError):
    """User name or password is wrong, or the user is inactive."""


class InvalidTokenError(AuthenticationError):
    """A token is malformed, expired, revoked, of the wrong type or wrongly signed."""


class RateLimitedError(ElyuneError):
    """Too many requests; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailableError(ElyuneError):
    """A backing service cannot be reached right now."""

    transient = True


class ObjectStoreUnavailableError(ServiceUnavailableError):
    """The object store cannot be reached or refused the operation."""


class RepositoryUnavailableError(ServiceUnavailableError):
    """The database cannot be reached."""


class QueueUnavailableError(ServiceUnavailableError):
    """The job queue cannot be reached."""


class AnswerUnavailableError(ServiceUnavailableError):
    """The answering engine (Gemini) cannot be used right now."""


class StepError(ElyuneError):
    """A processing step failed; the message is shown to the recording's owner."""


class InvalidMediaError(StepError):
    """The file is not media Elyune can read: empty, truncated or not audio/video."""

    transient = False


class ObjectChangedError(InvalidMediaError):
    """A stored object no longer has the size recorded for it (it was replaced)."""

    def __init__(self, message: str = "the file was replaced after the upload was completed"):
        super().__init__(message)


class MediaProcessingError(StepError):
    """FFmpeg failed or timed out while converting a readable file."""


class TranscriptionFailedError(StepError):
    """The speech-to-text engine failed."""


class AnalysisFailedError(StepError):
    """The analysis engine failed or returned output that does not fit the transcript."""


__all__ = [
    "AnalysisFailedError",
    "AnswerUnavailableError",
    "AuthenticationError",
    "ChunksMissingError",
    "ConflictError",
    "ElyuneError",
    "InvalidCredentialsError",
    "InvalidInputError",
    "InvalidKeyError",
    "InvalidMediaError",
    "InvalidStateError",
    "InvalidTokenError",
    "JobNotFoundError",
    "MediaProcessingError",
    "NotFoundError",
    "NotLiveUploadError",
    "ObjectChangedError",
    "ObjectNotFoundError",
    "ObjectStoreUnavailableError",
    "QueueUnavailableError",
    "RateLimitedError",
    "RecordingNotFoundError",
    "RepositoryUnavailableError",
    "ServiceUnavailableError",
    "StepError",
    "TranscriptNotFoundError",
    "TranscriptionFailedError",
    "UploadInProgressError",
    "UploadIncompleteError",
    "UserNotFoundError",
    "VoiceProfileNotFoundError",
    "WebhookNotFoundError",
]
