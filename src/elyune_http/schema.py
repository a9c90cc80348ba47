"""Request bodies: one declaration validates the JSON and describes it in OpenAPI.

Messages follow Django REST framework's wording, so the extension's error handling
keeps working: ``{"file_size": ["A valid integer is required."]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs
from aiohttp import web

from elyune_core._keys import MAX_CHUNKS
from elyune_core.entities import WebhookEvent
from elyune_core.errors import InvalidInputError
from elyune_core.use_cases.live_upload import MAX_CHUNKS_PER_REQUEST
from elyune_core.use_cases.uploads import MAX_SPEAKER_HINT

JSON = dict[str, Any]
LONE_SURROGATE = "Not valid Unicode text: it holds a lone surrogate (like \\ud800)."


def valid_text(value: str) -> bool:
    """Whether *value* can be stored and sent as UTF-8: JSON can spell half of a
    surrogate pair (``"\\ud800"``), which no database or encoder accepts."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@attrs.frozen
class Field:
    """One field of a JSON body."""

    type: str  # string | integer | number | boolean | array | object
    required: bool = False
    nullable: bool = False
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    items: Field | None = None
    min_items: int | None = None
    max_items: int | None = None
    pattern: str | None = None  # a regular expression the whole value must match
    pattern_message: str = "Enter a valid value."
    example: Any = None

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The value converted, or an error message."""
        if value is None:
            return (None, None) if self.nullable else (None, "This field may not be null.")
        if self.type == "string":
            if not isinstance(value, str):
                return None, "Not a valid string."
            if "\x00" in value:
                return None, "Null characters are not allowed."
            if not valid_text(value):
                return None, LONE_SURROGATE
            if self.min_length is not None and len(value.strip()) < self.min_length:
                if self.min_length == 1:
                    return None, "This field may not be blank."
                return None, f"Ensure this field has at least {self.min_length} characters."
            if self.max_length is not None and len(value) > self.max_length:
                return None, f"Ensure this field has no more than {self.max_length} characters."
            if self.choices is not None and value not in self.choices:
                return None, f'"{value}" is not a valid choice.'
            if self.pattern is not None and not re.fullmatch(self.pattern, value):
                return None, self.pattern_message
            return value, None
        if self.type in ("integer", "number"):
            if self.type == "integer" and isinstance(value, float) and value.is_integer():
                value = int(value)  # 30.0 is an integer to JSON Schema and to DRF
            ok = (
                isinstance(value, int) if self.type == "integer" else isinstance(value, int | float)
            )
            if isinstance(value, bool) or not ok:
                kind = "integer" if self.type == "integer" else "number"
                return None, f"A valid {kind} is required."
            if self.minimum is not None and value < self.minimum:
                return None, f"Ensure this value is greater than or equal to {self.minimum:g}."
            if self.maximum is not None and value > self.maximum:
                return None, f"Ensure this value is less than or equal to {self.maximum:g}."
            return value, None
        if self.type == "boolean":
            if not isinstance(value, bool):
                return None, "Must be a valid boolean."
            return value, None
        if self.type == "array":
            if not isinstance(value, list):
                return None, f'Expected a list of items but got type "{type(value).__name__}".'
            if self.min_items is not None and len(value) < self.min_items:
                return None, f"Ensure this field has at least {self.min_items} elements."
            if self.max_items is not None and len(value) > self.max_items:
                return None, f"Ensure this field has no more than {self.max_items} elements."
            converted = []
            for item in value:
                checked, error = self.items.check(item) if self.items else (item, None)
                if error:
                    return None, error
                converted.append(checked)
            return converted, None
        if self.type == "object":
            if not isinstance(value, dict):
                return None, "Expected a dictionary of items."
            return value, None
        raise AssertionError(self.type)

    def json_schema(self) -> JSON:
        """This field as JSON Schema (OpenAPI 3.1): every rule ``check`` applies."""
        schema: JSON = {"type": [self.type, "null"] if self.nullable else self.type}
        choices: list[Any] | None = None
        if self.choices:
            choices = [*self.choices, None] if self.nullable else list(self.choices)
        for key, value in (
            ("description", self.description or None),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("enum", choices),
            ("minItems", self.min_items),
            ("maxItems", self.max_items),
            ("pattern", self.schema_pattern()),
            ("example", self.example),
        ):
            if value is not None:
                schema[key] = value
        if self.items is not None:
            schema["items"] = self.items.json_schema()
        return schema

    def schema_pattern(self) -> str | None:
        """The pattern of a string: this field's own, else no NUL character and, when a
        minimum length applies, not blank (``check`` strips the value first)."""
        if self.type != "string" or self.choices:
            return None
        if self.pattern is not None:
            return f"^(?:{self.pattern})$"
        if self.min_length:
            return NOT_BLANK
        return NO_NUL


NO_NUL = "^[^\\x00]*$"
NOT_BLANK = "^[^\\x00]*[^\\x00\\s][^\\x00]*$"
# What check_language accepts: ``en``, ``pt-BR``, ``zh-Hant-TW`` (at most 20 characters).
LANGUAGE = "[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*"
LANGUAGE_MESSAGE = "Use a language code like en, de or pt-BR."
# What a webhook URL may look like: http(s), a host name, an IPv4 or IPv6 address, a
# port from 1 to 65535, then printable ASCII. (Whether the host is internal is checked
# on its resolved addresses: no pattern can say it.)
_H = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_V4 = f"(?:{_OCTET}\\.){{3}}{_OCTET}"
_V6 = "|".join(
    (
        f"(?:{_H}:){{7}}{_H}",
        f"(?:{_H}:){{1,7}}:",
        f"(?:{_H}:){{1,6}}:{_H}",
        *(f"(?:{_H}:){{1,{n}}}(?::{_H}){{1,{7 - n}}}" for n in range(5, 0, -1)),
        f":(?:(?::{_H}){{1,7}}|:)",
        f"(?:{_H}:){{1,4}}:{_V4}",
        f"::(?:ffff(?::0{{1,4}})?:)?{_V4}",
    )
)
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
WEBHOOK_URL = f"https?://(?:{_LABEL}(?:\\.{_LABEL})*|\\[(?:{_V6})\\])(?::{_PORT})?(?:[/?#][!-~]*)?"
SPEAKER_LABEL = "[0-9]{1,4}"


@attrs.frozen
class Body:
    """A JSON object body with known fields; unknown fields are refused."""

    name: str
    fields: Mapping[str, Field]
    extra: Field | None = None  # a schema for arbitrary keys (a mapping body)
    extra_keys: str | None = None  # a pattern the arbitrary keys must match
    extra_keys_message: str = "Unknown field."
    min_fields: int = 0

    def parse(self, data: Any, *, partial: bool = False) -> JSON:
        """Validate *data*; raise ``InvalidInputError`` with a message per bad field."""
        if not isinstance(data, dict):
            kind = "null" if data is None else type(data).__name__
            raise InvalidInputError(
                {"non_field_errors": f"Invalid data. Expected a dictionary, but got {kind}."}
            )
        errors: dict[str, str] = {}
        values: JSON = {}
        for key, value in data.items():
            if not valid_text(key):
                errors["non_field_errors"] = "A field name holds a lone surrogate (like \\ud800)."
                continue
            field = self.fields.get(key, self.extra)
            if field is None:
                errors[key] = "Unknown field."
                continue
            if (
                key not in self.fields
                and self.extra_keys is not None
                and not re.fullmatch(self.extra_keys, key)
            ):
                errors[key] = self.extra_keys_message
                continue
            checked, error = field.check(value)
            if error:
                errors[key] = error
            else:
                values[key] = checked
        if not partial:
            for key, field in self.fields.items():
                if field.required and key not in data:
                    errors[key] = "This field is required."
        if partial and not data:
            errors["non_field_errors"] = "Send at least one field to change."
        elif len(data) < self.min_fields:
            errors["non_field_errors"] = f"Send at least {self.min_fields} field(s)."
        if errors:
            raise InvalidInputError(errors)
        return values

    def json_schema(self, *, partial: bool = False) -> JSON:
        """The body as JSON Schema."""
        schema: JSON = {
            "type": "object",
            "properties": {k: f.json_schema() for k, f in self.fields.items()},
            "additionalProperties": self.extra.json_schema() if self.extra else False,
        }
        if self.extra_keys is not None:
            schema["propertyNames"] = {"pattern": f"^(?:{self.extra_keys})$"}
        required = [k for k, f in self.fields.items() if f.required]
        if required and not partial:
            schema["required"] = required
        if partial or self.min_fields:
            schema["minProperties"] = max(1 if partial else 0, self.min_fields)
        return schema


async def read_json(request: web.Request, body: Body, *, partial: bool = False) -> JSON:
    """Parse and validate the request's JSON body against *body*."""
    if request.content_type not in ("application/json", "application/octet-stream", ""):
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps(
                {"detail": f'Unsupported media type "{request.content_type}" in request.'}
            ),
            content_type="application/json",
        )
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError) as exc:  # bad bytes, syntax, huge numbers, depth
        raise InvalidInputError({"detail": f"JSON parse error - {exc}"}) from None
    return body.parse(data, partial=partial)


# --------------------------------------------------------------------------- the bodies

TOKEN = Body(
    "TokenObtainPair",
    {
        "username": Field("string", required=True, min_length=1, max_length=150),
        "password": Field("string", required=True, min_length=1, max_length=1024),
    },
)
TOKEN_REFRESH = Body(
    "TokenRefresh", {"refresh": Field("string", required=True, min_length=1, max_length=4096)}
)
#: The diarization hints, the same in request-upload and PATCH (the core checks them
#: against ``MAX_SPEAKER_HINT``).
SPEAKER_HINTS = {
    "num_speakers": Field(
        "integer",
        nullable=True,
        minimum=1,
        maximum=MAX_SPEAKER_HINT,
        description="Exactly this many speakers (a hint for the diarization; it wins "
        "over max_speakers).",
    ),
    "max_speakers": Field(
        "integer",
        nullable=True,
        minimum=1,
        maximum=MAX_SPEAKER_HINT,
        description="At most this many speakers (a hint for the diarization).",
    ),
}
REQUEST_UPLOAD = Body(
    "RequestUpload",
    {
        "filename": Field(
            "string", required=True, min_length=1, max_length=255, example="meeting.webm"
        ),
        "file_size": Field(
            "integer",
            minimum=1,
            description="Bytes (required unless `upload` is `live`, where it is ignored).",
            example=10485760,
        ),
        "upload": Field(
            "string",
            choices=("file", "live"),
            description="`file` (the default): upload the whole file with one URL; `live`: "
            "upload it in chunks while it is recorded (see the chunks, upload and finish "
            "routes).",
        ),
        "quality": Field(
            "string",
            nullable=True,
            choices=("360p", "480p", "720p", "1080p", "1440p", "2160p", "4k", "auto"),
            example="1080p",
        ),
        "fps": Field("integer", nullable=True, minimum=1, maximum=240, example=30),
        "has_system_audio": Field("boolean"),
        "has_microphone": Field("boolean"),
        "title": Field("string", nullable=True, min_length=1, max_length=200),
        "language": Field(
            "string",
            nullable=True,
            max_length=20,
            pattern=LANGUAGE,
            pattern_message=LANGUAGE_MESSAGE,
            description="Spoken language, e.g. en.",
        ),
        **SPEAKER_HINTS,
    },
)
#: a base64 MD5 (16 bytes): what ``md5_hex`` accepts
CONTENT_MD5 = "[A-Za-z0-9+/]{22}=="
LIVE_CHUNK = Body(
    "LiveChunk",
    {
        "index": Field(
            "integer",
            required=True,
            minimum=0,
            maximum=MAX_CHUNKS - 1,
            description="The chunk's place in the stream, from 0.",
        ),
        "size": Field("integer", required=True, minimum=1, description="Bytes."),
        "md5": Field(
            "string",
            required=True,
            pattern=CONTENT_MD5,
            pattern_message="Send the base64 of the chunk's 16-byte MD5.",
            description="Base64 of the MD5 of the chunk's bytes (its Content-MD5).",
            example="1B2M2Y8AsgTpgAmY7PhCfg==",
        ),
    },
)
LIVE_CHUNKS = Body(
    "LiveChunks",
    {
        "chunks": Field(
            "array",
            required=True,
            min_items=1,
            max_items=MAX_CHUNKS_PER_REQUEST,
            items=Field("object"),
            description="The chunks about to be sent (each index once).",
        )
    },
)
LIVE_FINISH = Body(
    "LiveFinish",
    {
        "chunks": Field(
            "integer",
            required=True,
            minimum=1,
            maximum=MAX_CHUNKS,
            description="How many chunks the recording has (0 to chunks-1).",
        )
    },
)
UPLOAD_COMPLETE = Body(
    "UploadComplete", {"s3_key": Field("string", required=True, min_length=1, max_length=1024)}
)
RECORDING_PATCH = Body(
    "RecordingUpdate",
    {
        "title": Field("string", min_length=1, max_length=200),
        "description": Field("string", max_length=5000),
        "language": Field(
            "string",
            nullable=True,
            max_length=20,
            pattern=LANGUAGE,
            pattern_message=LANGUAGE_MESSAGE,
        ),
        **SPEAKER_HINTS,
    },
)
SPEAKERS = Body(
    "SpeakerNamesUpdate",
    {},
    extra=Field("string", max_length=100, description="Name of the speaker with this label."),
    extra_keys=SPEAKER_LABEL,
    extra_keys_message="Speaker labels are numbers like 0 or 1; names at most 100 characters.",
    min_fields=1,
)
WEBHOOK = Body(
    "WebhookCreate",
    {
        "url": Field(
            "string",
            required=True,
            min_length=1,
            max_length=2000,
            pattern=WEBHOOK_URL,
            pattern_message="Enter a valid http:// or https:// URL.",
            description="Where to POST; its host may not be a loopback, private or other "
            "internal address (checked again at each delivery).",
        ),
        "events": Field(
            "array",
            required=True,
            min_items=1,
            max_items=10,
            items=Field(
                "string",
                choices=tuple(event.value for event in WebhookEvent),
            ),
        ),
        "description": Field("string", max_length=500),
    },
)
ACCOUNT_PATCH = Body(
    "AccountUpdate",
    {
        "voice_profiles": Field(
            "boolean",
            required=True,
            description="Keep the voices of the speakers you name as voice profiles and "
            "name matching speakers of new recordings; false deletes every profile.",
        )
    },
)
VOICE_PROFILE_PATCH = Body(
    "VoiceProfileUpdate",
    {
        "name": Field(
            "string",
            required=True,
            min_length=1,
            max_length=100,
            description="The new name (speakers named by it follow).",
        )
    },
)
ASK = Body(
    "AskQuestion",
    {
        "question": Field(
            "string",
            required=True,
            min_length=1,
            max_length=1000,
            pattern=NOT_BLANK,
            pattern_message="This field may not be blank.",
            description="Your question; it is data for the answerer, never instructions.",
            example="Where did we decide the backup window?",
        )
    },
)
BODIES = (
    TOKEN,
    TOKEN_REFRESH,
    REQUEST_UPLOAD,
    UPLOAD_COMPLETE,
    RECORDING_PATCH,
    SPEAKERS,
    WEBHOOK,
    ACCOUNT_PATCH,
    VOICE_PROFILE_PATCH,
    ASK,
    LIVE_CHUNK,
    LIVE_CHUNKS,
    LIVE_FINISH,
)

# --------------------------------------------------------------------------- operator bodies
# (the staff-only routes of :mod:`elyune_http.operator`)

USERNAME = "[A-Za-z0-9_.@+-]{1,150}"
PASSWORD = "[^\\x00]{8,1024}"  # noqa: S105 - a pattern, not a secret
_PASSWORD_FIELD = Field(
    "string",
    required=True,
    pattern=PASSWORD,
    pattern_message="Use 8 to 1024 characters.",
    description="At least 8 characters.",
)
USER_CREATE = Body(
    "UserCreate",
    {
        "username": Field(
            "string",
            required=True,
            pattern=USERNAME,
            pattern_message="Use 1 to 150 letters, digits and the characters _ . @ + -.",
        ),
        "password": _PASSWORD_FIELD,
        "is_staff": Field("boolean", description="An operator (default: false)."),
    },
)
USER_PATCH = Body(
    "UserUpdate",
    {
        "is_active": Field("boolean", description="false: the user cannot log in any more."),
        "is_staff": Field("boolean", description="true: an operator."),
    },
)
USER_PASSWORD = Body("UserPassword", {"password": _PASSWORD_FIELD})
JOB_RETRY = Body(
    "JobRetry",
    {
        "step": Field(
            "string",
            choices=("probe", "transcode", "extract_audio", "thumbnail", "transcribe", "analyze"),
            description="Retry only this step (failed, or stuck on an expired lease); "
            "without it, every failed step.",
        )
    },
)
OPERATOR_BODIES = (USER_CREATE, USER_PATCH, USER_PASSWORD, JOB_RETRY)

# --------------------------------------------------------------------------- multipart bodies
# (the resumable uploads of :mod:`elyune_http.multipart`)

_UPLOAD_ID = Field(
    "string",
    required=True,
    min_length=1,
    max_length=1024,
    description="The id answered by POST /api/v1/recordings/{id}/multipart/.",
)
_PART_NUMBER = Field("integer", minimum=1, maximum=10_000, example=1)
MULTIPART_PARTS = Body(
    "MultipartSignParts",
    {
        "upload_id": _UPLOAD_ID,
        "numbers": Field(
            "array",
            required=True,
            items=_PART_NUMBER,
            min_items=1,
            max_items=1000,
            description="The part numbers to sign a PUT URL for (each once).",
            example=[1, 2, 3],
        ),
    },
)
MULTIPART_PART = Body(
    "MultipartPart",
    {
        "number": Field("integer", required=True, minimum=1, maximum=10_000),
        "etag": Field(
            "string",
            required=True,
            min_length=1,
            max_length=200,
            description="The ETag header answered by the part's PUT (quotes optional).",
        ),
    },
)
MULTIPART_COMPLETE = Body(
    "MultipartComplete",
    {
        "upload_id": _UPLOAD_ID,
        "parts": Field(
            "array",
            required=True,
            items=Field("object"),
            min_items=1,
            max_items=10_000,
            description="Every part of the file by ascending number: {number, etag}.",
        ),
    },
)
MULTIPART_BODIES = (MULTIPART_PARTS, MULTIPART_PART, MULTIPART_COMPLETE)
