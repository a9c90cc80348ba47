"""DeepgramTranscriber through the real deepgram-sdk against a local fake ``/v1/listen``."""

from __future__ import annotations

import logging
import math
import socket
import struct
import subprocess
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from deepgram import DeepgramClientEnvironment

from elyune_adapters.asr.deepgram import DeepgramTranscriber
from elyune_adapters.settings import SettingsError, load_settings
from elyune_adapters.sql.columns import words_from_rows, words_to_rows
from elyune_core.entities import Word
from elyune_core.errors import TranscriptionFailedError
from elyune_core.ids import RecordingId
from elyune_core.ports import TranscriptionRequest
from tests.fakes import ScriptedResponse
from tests.fakes.deepgram import FakeDeepgram, deepgram_error, listen_response
from tests.support.media import SAMPLE, ffmpeg_exe

API_KEY = "dg-test-key-5f1d0c2a9b"
RECORDING = RecordingId("rec-1")


@pytest.fixture
async def fake(aiohttp_server: Any) -> AsyncIterator[FakeDeepgram]:
    server_fake = FakeDeepgram()
    server = await aiohttp_server(server_fake.app)
    server_fake.base_url = str(server.make_url("")).rstrip("/")
    yield server_fake
    server_fake.release()


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    """Half a second of a 440 Hz tone as 16 kHz mono PCM WAV."""
    path = tmp_path / "audio.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16_000)))
                for i in range(8_000)
            )
        )
    return path


def environment(base: str) -> DeepgramClientEnvironment:
    socket_base = "ws" + base.removeprefix("http")
    return DeepgramClientEnvironment(
        base=base, production=socket_base, agent=socket_base, agent_rest=base
    )


def transcriber(fake: FakeDeepgram, **options: Any) -> DeepgramTranscriber:
    options.setdefault("backoff_base", 0.01)
    options.setdefault("timeout", 5.0)
    return DeepgramTranscriber(
        API_KEY,
        environment=environment(fake.base_url),
        **options,
    )


def request(audio: Path, language: str | None = None) -> TranscriptionRequest:
    return TranscriptionRequest(recording_id=RECORDING, audio=audio, language=language)


def ok(body: dict[str, Any]) -> ScriptedResponse:
    return ScriptedResponse(body=body)


# --------------------------------------------------------------------------- success


async def test_sends_the_audio_as_the_body_with_the_transcription_flags(
    fake: FakeDeepgram, audio: Path
) -> None:
    """The WAV bytes are the request body; model, diarization and formatting are query flags."""
    fake.enqueue(ok(listen_response(detected_language="en", language_confidence=0.99)))

    await transcriber(fake).transcribe(request(audio))

    [sent] = fake.requests
    assert sent.method == "POST"
    assert sent.path == "/v1/listen"
    assert sent.body == audio.read_bytes()
    assert sent.header("Content-Type") == "application/octet-stream"
    assert sent.header("Authorization") == f"Token {API_KEY}"
    for flag in ("smart_format", "punctuate", "utterances"):
        assert sent.param(flag) == "true", flag
    # diarize_model replaces the deprecated diarize=true; paragraphs are not read, so
    # not requested.
    assert sent.param("diarize_model") == "latest"
    assert "diarize" not in sent.query
    assert "paragraphs" not in sent.query
    assert sent.param("model") == "nova-3"
    assert sent.param("detect_language") == "true"
    assert "language" not in sent.query


async def test_maps_a_two_speaker_diarized_result(fake: FakeDeepgram, audio: Path) -> None:
    """Utterances become segments with speakers; words keep punctuation, timing and speaker."""
    fake.enqueue(
        ok(
            listen_response(
                request_id="req-42",
                duration=18.25,
                detected_language="en",
                language_confidence=0.99,
            )
        )
    )

    result = await transcriber(fake, model="nova-3").transcribe(request(audio))

    assert result.engine == "deepgram:nova-3"
    assert result.text.startswith("Good morning, Bob.")
    assert [s.id for s in result.segments] == [0, 1, 2, 3]
    assert [s.speaker for s in result.segments] == ["0", "1", "0", "1"]
    first = result.segments[0]
    assert (first.start, first.end) == (0.32, 4.1)
    assert first.text == "Good morning, Bob. Thanks for joining the weekly release meeting."
    assert first.confidence == 0.95
    assert result.words[0].text == "good"
    assert result.words[0].punctuated == "Good"
    assert result.words[0].speaker == "0"
    assert result.words[0].start == 0.32
    assert result.words[0].confidence == 0.98
    assert {w.speaker for w in result.words} == {"0", "1"}
    assert result.speaker_count == 2
    assert result.request_id == "req-42"
    assert result.audio_seconds == 18.25
    assert result.duration == 18.25
    assert result.language == "en"
    assert result.language_confidence == 0.99


async def test_voices_of_deepgrams_speakers_are_computed_locally(
    fake: FakeDeepgram, tmp_path: Path
) -> None:
    """For voice profiles, each Deepgram speaker gets a voice embedded from the WAV."""
    wav = tmp_path / "sample.wav"
    subprocess.run(
        [
            *(ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
            *("-i", str(SAMPLE), "-t", "18.5", "-vn", "-ac", "1", "-ar", "16000"),
            *("-c:a", "pcm_s16le", str(wav)),  # under the fake server's 1 MB body limit
        ],
        check=True,
    )
    fake.enqueue(ok(listen_response(request_id="req-7", duration=18.25)))
    result = await transcriber(fake).transcribe(request(wav))
    assert {v.label for v in result.voices} == {"0", "1"}
    assert all(len(v.embedding) == 256 and v.seconds > 1 for v in result.voices)
    fake.enqueue(ok(listen_response(request_id="req-8", duration=18.25)))
    quiet = await transcriber(fake, voices=False).transcribe(request(wav))
    assert quiet.voices == ()


async def test_a_known_language_is_sent_instead_of_detection(
    fake: FakeDeepgram, audio: Path
) -> None:
    """With a recording language, ``language`` is sent and ``detect_language`` is not."""
    fake.enqueue(ok(listen_response()))

    result = await transcriber(fake).transcribe(request(audio, language="de"))

    [sent] = fake.requests
    assert sent.param("language") == "de"
    assert "detect_language" not in sent.query
    assert result.language == "de"
    assert result.language_confidence is None


async def test_keeps_a_detected_non_english_language(fake: FakeDeepgram, audio: Path) -> None:
    """Deepgram's detected language and its confidence are kept."""
    fake.enqueue(
        ok(
            listen_response(
                [
                    (0, 0.5, 3.0, "Buenos días a todos."),
                    (1, 3.4, 6.0, "Hola, ¿empezamos la reunión?"),
                ],
                detected_language="es",
                language_confidence=0.93,
                model="nova-2",
            )
        )
    )

    result = await transcriber(fake, model="nova-2").transcribe(request(audio))

    assert fake.requests[0].param("model") == "nova-2"
    assert result.language == "es"
    assert result.language_confidence == 0.93
    assert result.segments[1].text == "Hola, ¿empezamos la reunión?"
    assert result.engine == "deepgram:nova-2"


async def test_a_base_url_points_every_endpoint_at_one_server(
    fake: FakeDeepgram, audio: Path
) -> None:
    """``base_url`` is enough to aim the SDK at another server (as the settings give it)."""
    fake.enqueue(ok(listen_response()))
    adapter = DeepgramTranscriber(API_KEY, base_url=fake.base_url + "/")

    result = await adapter.transcribe(request(audio))

    assert len(fake.requests) == 1
    assert result.speaker_count == 2


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("status", [401, 403])
async def test_a_rejected_key_fails_at_once(fake: FakeDeepgram, audio: Path, status: int) -> None:
    """401/403 fail permanently on the first answer, with a message free of the key."""
    fake.enqueue(deepgram_error(status, "INVALID_AUTH", f"Invalid credentials: {API_KEY}"))

    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake).transcribe(request(audio))

    assert str(caught.value) == "Deepgram rejected the API key"
    assert caught.value.transient is False
    assert len(fake.requests) == 1


async def test_a_bad_request_fails_with_deepgrams_message(fake: FakeDeepgram, audio: Path) -> None:
    """A 400 is permanent and carries Deepgram's own explanation."""
    fake.enqueue(
        deepgram_error(
            400, "Bad Request", "Bad Request: failed to process audio: corrupt or unsupported data"
        )
    )

    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake).transcribe(request(audio))

    assert caught.value.transient is False
    assert "corrupt or unsupported data" in str(caught.value)
    assert len(fake.requests) == 1


async def test_retries_a_429_honouring_retry_after(fake: FakeDeepgram, audio: Path) -> None:
    """A 429 with ``Retry-After: 0`` is retried at once, despite a long backoff setting."""
    fake.enqueue(
        deepgram_error(429, "TOO_MANY_REQUESTS", "Too many requests", headers={"Retry-After": "0"}),
        ok(listen_response(request_id="after-429")),
    )

    result = await transcriber(fake, backoff_base=30.0).transcribe(request(audio))

    assert result.request_id == "after-429"
    assert len(fake.requests) == 2
    assert fake.requests[0].body == fake.requests[1].body == audio.read_bytes()


async def test_retries_a_server_error(fake: FakeDeepgram, audio: Path) -> None:
    """A 500 is retried with backoff, and the retry succeeds."""
    fake.enqueue(
        ScriptedResponse(status=500, body="upstream exploded"),
        ok(listen_response(request_id="after-500")),
    )

    result = await transcriber(fake).transcribe(request(audio))

    assert result.request_id == "after-500"
    assert len(fake.requests) == 2


async def test_gives_up_after_max_attempts_as_transient(fake: FakeDeepgram, audio: Path) -> None:
    """Server errors that persist end as a transient failure after ``max_attempts`` tries."""
    fake.enqueue(deepgram_error(503, "SERVICE_UNAVAILABLE", "try later") for _ in range(3))

    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake, max_attempts=3).transcribe(request(audio))

    assert caught.value.transient is True
    assert "503" in str(caught.value)
    assert len(fake.requests) == 3


async def test_a_retry_after_beyond_the_limit_is_left_to_the_pipeline(
    fake: FakeDeepgram, audio: Path
) -> None:
    """A ``Retry-After`` longer than ``max_retry_delay`` is not slept through here."""
    fake.enqueue(
        deepgram_error(429, "TOO_MANY_REQUESTS", "slow down", headers={"Retry-After": "3600"})
    )

    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake, max_retry_delay=5.0).transcribe(request(audio))

    assert caught.value.transient is True
    assert len(fake.requests) == 1


async def test_a_timeout_is_transient(fake: FakeDeepgram, audio: Path) -> None:
    """No answer within the timeout is a transient failure."""
    fake.enqueue(ScriptedResponse(body=listen_response(), delay=5.0))

    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake, timeout=0.2).transcribe(request(audio))

    assert caught.value.transient is True
    assert "did not answer" in str(caught.value)


async def test_an_unreachable_server_is_transient(audio: Path) -> None:
    """A refused connection is retried, then reported as transient."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = DeepgramTranscriber(
        API_KEY, base_url=f"http://127.0.0.1:{port}", backoff_base=0.01, max_attempts=2
    )

    with pytest.raises(TranscriptionFailedError) as caught:
        await adapter.transcribe(request(audio))

    assert caught.value.transient is True


def _without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


def _set(body: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(_without(listen_response(), "results"), "missing results", id="no-results"),
        pytest.param(
            _without(listen_response(), "results", "utterances"),
            "missing results.utterances",
            id="no-utterances",
        ),
        pytest.param(
            _set(listen_response(), [], "results", "channels"),
            "results.channels is empty",
            id="no-channels",
        ),
        pytest.param(
            _without(listen_response(), "results", "channels", 0, "alternatives", 0, "words"),
            "words",
            id="no-words",
        ),
        pytest.param(
            _set(listen_response(), "soon", "results", "utterances", 1, "start"),
            "results.utterances[1].start is not a number",
            id="bad-start",
        ),
        pytest.param(
            _without(listen_response(), "metadata", "duration"),
            "missing metadata.duration",
            id="no-duration",
        ),
        pytest.param({"request_id": "cb-1"}, "missing metadata", id="callback-accepted"),
        pytest.param([1, 2, 3], "missing metadata", id="a-list"),
    ],
)
async def test_an_incomplete_response_is_a_clear_permanent_failure(
    fake: FakeDeepgram, audio: Path, body: Any, expected: str
) -> None:
    """Missing or mistyped fields fail permanently with a message naming the field."""
    fake.enqueue(ok(body))

    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake).transcribe(request(audio))

    assert caught.value.transient is False
    assert expected in str(caught.value)
    assert "incomplete" in str(caught.value)


async def test_a_body_that_is_not_json_is_a_permanent_failure(
    fake: FakeDeepgram, audio: Path
) -> None:
    """A 200 with a body that is not JSON fails permanently, not with a decoder error."""
    fake.enqueue(ScriptedResponse(body="<html>proxy error</html>"))

    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake).transcribe(request(audio))

    assert caught.value.transient is False


async def test_a_missing_audio_file_is_a_permanent_failure(
    fake: FakeDeepgram, tmp_path: Path
) -> None:
    """Nothing is sent when the audio file is missing."""
    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake).transcribe(request(tmp_path / "missing.wav"))

    assert caught.value.transient is False
    assert fake.requests == []


async def test_the_key_is_sent_but_never_logged(
    fake: FakeDeepgram, audio: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The key goes in the Authorization header only: no log record or error shows it."""
    caplog.set_level(logging.DEBUG)
    fake.enqueue(
        deepgram_error(500, "INTERNAL", f"boom for key {API_KEY}"),
        ok(listen_response()),
        deepgram_error(401, "INVALID_AUTH", f"Invalid credentials {API_KEY}"),
    )
    adapter = transcriber(fake)

    await adapter.transcribe(request(audio))
    with pytest.raises(TranscriptionFailedError) as caught:
        await adapter.transcribe(request(audio))

    assert all(r.header("Authorization") == f"Token {API_KEY}" for r in fake.requests)
    assert caplog.records, "expected the adapter and the HTTP stack to log something"
    assert API_KEY not in caplog.text
    assert all(API_KEY not in r.getMessage() for r in caplog.records)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(adapter)


# --------------------------------------------------------------------------- real shapes


async def test_segments_follow_the_words_speakers_not_the_utterances(
    fake: FakeDeepgram, audio: Path
) -> None:
    """An utterance whose last words Deepgram gives to another speaker is split there:
    each segment has the speaker of its words, and the words keep speaker_confidence."""
    fake.enqueue(ok(listen_response(word_speakers={1: [1, 1, 1, 1, 1, 1, 1, 0, 0]})))

    result = await transcriber(fake).transcribe(request(audio))

    assert [(s.id, s.speaker) for s in result.segments] == [
        (0, "0"),
        (1, "1"),
        (2, "0"),
        (3, "0"),
        (4, "1"),
    ]
    split, moved = result.segments[1], result.segments[2]
    assert split.text == "Good morning, Alice. The customers love the"
    assert moved.text == "new dashboard."
    assert split.start == 4.6
    assert moved.end == 9.78
    assert split.end < moved.start
    assert moved.confidence == 0.98
    flipped = [w for w in result.words if w.punctuated in ("new", "dashboard.")]
    assert [(w.speaker, w.speaker_confidence) for w in flipped] == [("0", 0.47), ("0", 0.47)]
    assert result.words[0].speaker_confidence == 0.91
    # Every word is in a segment of its own speaker.
    for word in result.words:
        [home] = [s for s in result.segments if s.start <= word.start <= s.end]
        assert home.speaker == word.speaker, word


async def test_a_one_word_utterance_takes_its_words_speaker(
    fake: FakeDeepgram, audio: Path
) -> None:
    """One-word utterances occur; when its word belongs to someone else, so does it."""
    utterances = (
        (0, 0.3, 2.0, "Shall we ship on Friday?"),
        (0, 2.1, 2.5, "Yes."),
        (1, 2.9, 3.3, "Okay."),
    )
    fake.enqueue(ok(listen_response(utterances, word_speakers={1: [1]})))

    result = await transcriber(fake).transcribe(request(audio))

    assert [(s.text, s.speaker, s.start, s.end) for s in result.segments] == [
        ("Shall we ship on Friday?", "0", 0.3, 2.0),
        ("Yes.", "1", 2.1, 2.5),
        ("Okay.", "1", 2.9, 3.3),
    ]
    assert result.segments[1].confidence == 0.95
    assert result.speaker_count == 2


async def test_multilingual_audio_keeps_the_dominant_language(
    fake: FakeDeepgram, audio: Path
) -> None:
    """With language=multi, Deepgram lists the languages by word count; the first is the
    transcript's language (no confidence is given for it)."""
    fake.enqueue(
        ok(
            listen_response(
                [(0, 0.2, 3.0, "Hola a todos, empezamos."), (1, 3.3, 5.0, "Sounds good.")],
                languages=["es", "en"],
            )
        )
    )

    result = await transcriber(fake).transcribe(request(audio, language="multi"))

    assert fake.requests[0].param("language") == "multi"
    assert result.language == "es"
    assert result.language_confidence is None
    assert [s.speaker for s in result.segments] == ["0", "1"]


async def test_the_engine_is_the_model_deepgram_reports(fake: FakeDeepgram, audio: Path) -> None:
    """model_info says which model ran (an alias may resolve to another): that is the
    engine label, not the configured name."""
    fake.enqueue(ok(listen_response(model="nova-3-general")))

    result = await transcriber(fake, model="nova-3").transcribe(request(audio))

    assert result.engine == "deepgram:nova-3-general"


async def test_a_configured_diarizer_is_sent(fake: FakeDeepgram, audio: Path) -> None:
    """DEEPGRAM_DIARIZE_MODEL pins a diarizer; the settings refuse unknown ones."""
    fake.enqueue(ok(listen_response(diarizer="v1")))

    await transcriber(fake, diarize_model="v1").transcribe(request(audio))

    assert fake.requests[0].param("diarize_model") == "v1"
    settings = load_settings({"DEEPGRAM_API_KEY": "k", "DEEPGRAM_DIARIZE_MODEL": "v2"})
    assert settings.transcriber.deepgram_diarize_model == "v2"
    assert load_settings({"DEEPGRAM_API_KEY": "k"}).transcriber.deepgram_diarize_model == "latest"
    with pytest.raises(SettingsError):
        load_settings({"DEEPGRAM_API_KEY": "k", "DEEPGRAM_DIARIZE_MODEL": "v3"})


async def test_a_403_without_an_auth_problem_says_what_was_denied(
    fake: FakeDeepgram, audio: Path
) -> None:
    """A project without access to the model is not a rejected key: Deepgram's code and
    message are kept."""
    fake.enqueue(
        deepgram_error(
            403, "INSUFFICIENT_PERMISSIONS", "Project does not have access to the requested model."
        )
    )

    with pytest.raises(TranscriptionFailedError) as caught:
        await transcriber(fake).transcribe(request(audio))

    assert str(caught.value) == (
        "Deepgram denied access (403 INSUFFICIENT_PERMISSIONS): "
        "Project does not have access to the requested model."
    )
    assert caught.value.transient is False
    assert len(fake.requests) == 1


def test_speaker_confidence_survives_storage() -> None:
    """Words are stored as compact rows; speaker_confidence is kept, older rows still read."""
    words = (Word("yes", 0.1, 0.4, 0.98, "1", "Yes.", 0.47), Word("no", 0.5, 0.7, 0.9, "0"))

    assert words_from_rows(words_to_rows(words)) == words
    assert words_from_rows([["ok", 0.0, 0.2, 0.9, "0", "Ok."]])[0].speaker_confidence is None
