"""Object keys of a recording's files, and the rules every key must follow.

Keys are built here, never from user input: ``recordings/<owner>/<recording>/<name>``.
:func:`check_key` refuses anything that could escape a prefix or a local folder.
"""

from __future__ import annotations

import re
import unicodedata

from elyune_core.entities import FileKind
from elyune_core.errors import InvalidKeyError
from elyune_core.ids import RecordingId, UserId

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_EXTENSION = re.compile(r"^\.[a-z0-9]{1,8}$")
_ALLOWED_SOURCE_EXTENSIONS = frozenset(
    {".webm", ".mp4", ".mkv", ".mov", ".m4a", ".ogg", ".opus", ".wav", ".mp3", ".flac"}
)

OUTPUT_NAMES = {
    FileKind.VIDEO: ("video.mp4", "video/mp4"),
    FileKind.AUDIO: ("audio.wav", "audio/wav"),
    FileKind.THUMBNAIL: ("thumbnail.jpg", "image/jpeg"),
}


def check_key(key: str) -> str:
    """Return *key* if it is a safe relative key, else raise ``InvalidKeyError``.

    A safe key is 1 to 1024 characters of ``/``-separated segments, each starting with a
    letter or digit and made of letters, digits, ``.``, ``_`` and ``-``; so no ``..``,
    no empty segment, no leading ``/`` and no backslash.
    """
    if not isinstance(key, str) or not 0 < len(key) <= 1024:
        raise InvalidKeyError({"s3_key": "Key must be 1 to 1024 characters."})
    parts = key.split("/")
    if any(not _SEGMENT.match(part) or part in {".", ".."} for part in parts):
        raise InvalidKeyError({"s3_key": f"Key {key!r} is not a valid object key."})
    return key


def recording_prefix(owner_id: UserId, recording_id: RecordingId) -> str:
    """The prefix under which every object of a recording lives (ends with ``/``)."""
    return f"{check_key(f'recordings/{owner_id}/{recording_id}')}/"


def source_key(owner_id: UserId, recording_id: RecordingId, filename: str) -> str:
    """Key of the uploaded source file, keeping only a known extension of *filename*."""
    extension = source_extension(filename)
    return check_key(f"{recording_prefix(owner_id, recording_id)}source{extension}")


def source_owner(key: str) -> tuple[UserId, RecordingId] | None:
    """The owner and recording a source key (``source_key``) belongs to, else ``None``."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "recordings" or not parts[3].startswith("source."):
        return None
    return UserId(parts[1]), RecordingId(parts[2])


def source_extension(filename: str) -> str:
    """The lower-case extension of *filename* if it is a media extension, else ``.webm``."""
    dot = filename.rfind(".")
    extension = filename[dot:].lower() if dot >= 0 else ""
    if _EXTENSION.match(extension) and extension in _ALLOWED_SOURCE_EXTENSIONS:
        return extension
    return ".webm"


def output_key(owner_id: UserId, recording_id: RecordingId, kind: FileKind) -> str:
    """Key of a produced file (video, audio or thumbnail) of a recording."""
    name, _ = OUTPUT_NAMES[kind]
    return check_key(f"{recording_prefix(owner_id, recording_id)}{name}")


#: the most chunks a live upload may have (one a second: 11.5 days)
MAX_CHUNKS = 1_000_000


def live_prefix(owner_id: UserId, recording_id: RecordingId) -> str:
    """The prefix of a live upload's chunks and of what is made from them while it is
    recorded (ends with ``/``)."""
    return f"{recording_prefix(owner_id, recording_id)}live/"


def chunk_key(owner_id: UserId, recording_id: RecordingId, index: int) -> str:
    """Key of chunk *index* (0 to ``MAX_CHUNKS - 1``) of a live upload."""
    if not 0 <= index < MAX_CHUNKS:
        raise InvalidKeyError({"index": f"Ensure this value is between 0 and {MAX_CHUNKS - 1}."})
    return check_key(f"{live_prefix(owner_id, recording_id)}chunks/{index:06d}.webm")


def chunk_owner(key: str) -> tuple[UserId, RecordingId, int] | None:
    """The owner, recording and index a chunk key (``chunk_key``) belongs to, else ``None``."""
    parts = key.split("/")
    if (
        len(parts) != 6
        or parts[0] != "recordings"
        or parts[3:5] != ["live", "chunks"]
        or not re.fullmatch(r"[0-9]{6}\.webm", parts[5])
    ):
        return None
    return UserId(parts[1]), RecordingId(parts[2]), int(parts[5][:6])


def live_piece_key(
    owner_id: UserId, recording_id: RecordingId, kind: str, number: int, extension: str
) -> str:
    """Key of piece *number* of *kind* (``audio``, ``video``, ``stretches``) made while
    a live upload is recorded."""
    return check_key(f"{live_prefix(owner_id, recording_id)}{kind}/{number:06d}.{extension}")


def is_under(key: str, prefix: str) -> bool:
    """Whether the valid *key* lies under *prefix*."""
    check_key(key)
    return key.startswith(prefix) and len(key) > len(prefix)


def _keep(ch: str) -> bool:
    category = unicodedata.category(ch)
    return (ch.isalnum() or ch in " ._-()" or category == "Pd") and category[0] != "C"


def sanitize_filename(filename: str, default: str = "recording.webm") -> str:
    """Make a user-supplied file name safe to show and to offer as a download name.

    Keeps letters (any script), digits, spaces, dashes and ``._()``; drops path parts and
    control characters; trims to 200 characters.
    """
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").split("/")[-1]
    cleaned = "".join(ch for ch in name if _keep(ch))
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" .")
    if not cleaned:
        return default
    if len(cleaned) > 200:
        dot = cleaned.rfind(".")
        ext = cleaned[dot:] if 0 < len(cleaned) - dot <= 9 else ""
        cleaned = cleaned[: 200 - len(ext)] + ext
    return cleaned


__all__ = [
    "MAX_CHUNKS",
    "OUTPUT_NAMES",
    "check_key",
    "chunk_key",
    "chunk_owner",
    "is_under",
    "live_piece_key",
    "live_prefix",
    "output_key",
    "recording_prefix",
    "sanitize_filename",
    "source_extension",
    "source_key",
    "source_owner",
]
