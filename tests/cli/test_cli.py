"""The ``elyune`` command end to end: real ffmpeg, real faster-whisper, local analyses."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.media import (
    SAMPLE_DURATION,
    copy_sample,
    make_audio_only_webm,
    make_empty_file,
    make_silent_webm,
    make_text_as_webm,
    make_truncated_webm,
    make_video_only_webm,
)

pytestmark = pytest.mark.slow


def _steps(doc):
    return {s["name"]: s for s in doc["job"]["steps"]}


def test_process_turns_the_sample_into_a_transcript_and_four_analyses(cli, tmp_path):
    sample = copy_sample(tmp_path, name="Réunion hebdo – équipe.webm")  # spaces + non-ASCII
    result, doc = cli.json("process", str(sample), "--json")
    assert result.exit_code == 0
    assert doc["status"] == "ready"
    assert doc["title"] == "Réunion hebdo – équipe"
    assert {f["kind"] for f in doc["files"]} == {"source", "video", "audio", "thumbnail"}
    assert abs(doc["duration"] - SAMPLE_DURATION) < 0.5
    steps = _steps(doc)
    assert all(s["status"] == "succeeded" for s in steps.values())
    transcript = doc["transcript"]
    text = transcript["text"].lower()
    for said in ("release notes", "marketing team", "onboarding guide", "login bug"):
        assert said in text
    assert transcript["language"] == "en"
    assert all(0 <= w["start"] <= w["end"] <= SAMPLE_DURATION + 0.5 for w in transcript["words"])
    analyses = doc["analyses"]
    assert set(analyses) == {"summary", "action_items", "key_points", "sentiment"}
    assert all(a["status"] == "succeeded" for a in analyses.values())
    items = analyses["action_items"]["content"]["items"]
    guide = next(i for i in items if "onboarding guide" in i["text"].lower())
    assert 20 < guide["timestamp"] < 40  # said about half-way through the meeting
    assert analyses["sentiment"]["content"]["label"] == "positive"


def test_process_prints_progress_the_transcript_and_analyses(cli):
    from tests.support.media import SAMPLE

    result = cli("process", str(SAMPLE))
    assert result.exit_code == 0, result.output
    assert "Converting to MP4: succeeded" in result.stderr
    assert re.search(r"\[0:\d\d\] .*release notes", result.stdout)
    assert "Action Items" in result.stdout
    assert "Sentiment" in result.stdout


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (make_empty_file, "empty"),
        (make_text_as_webm, "not"),
    ],
)
def test_unreadable_files_fail_the_probe_with_a_clear_reason(cli, tmp_path, make, message):
    bad = make(tmp_path)
    result, doc = cli.json("process", str(bad), "--json")
    assert result.exit_code == 1
    assert doc["status"] == "failed"
    probe = _steps(doc)["probe"]
    assert probe["status"] == "failed"
    assert probe["attempts"] == 1
    assert message in probe["error"]
    assert doc["error"].startswith("Reading the file failed:")
    assert "Traceback" not in result.output
    listed = cli("recordings", "list", "--json")  # the database is intact
    assert listed.exit_code == 0
    assert '"count": 1' in listed.stdout


def test_a_truncated_webm_fails_with_a_clear_reason(cli, tmp_path):
    truncated = make_truncated_webm(tmp_path, copy_sample(tmp_path), fraction=0.6)
    result, doc = cli.json("process", str(truncated), "--json")
    assert result.exit_code == 1
    probe = _steps(doc)["probe"]
    assert probe["status"] == "failed"
    assert "truncated" in probe["error"]


def test_video_without_audio_skips_transcription_and_analysis(cli, tmp_path):
    result, doc = cli.json("process", str(make_video_only_webm(tmp_path)), "--json")
    assert result.exit_code == 0
    assert doc["status"] == "ready"
    steps = _steps(doc)
    for name in ("extract_audio", "transcribe", "analyze"):
        assert steps[name]["status"] == "skipped"
    assert steps["transcribe"]["output"]["reason"] == "the recording has no audio track"
    assert steps["transcode"]["status"] == "succeeded"
    assert doc["transcript"] is None


def test_audio_only_webm_skips_the_thumbnail(cli, tmp_path):
    result, doc = cli.json("process", str(make_audio_only_webm(tmp_path)), "--json")
    assert result.exit_code == 0
    steps = _steps(doc)
    assert steps["thumbnail"]["status"] == "skipped"
    assert steps["transcode"]["status"] == "succeeded"
    assert steps["transcribe"]["status"] == "succeeded"
    assert doc["media"]["has_video"] is False


def test_silence_gives_an_empty_transcript_and_skipped_analyses(cli, tmp_path):
    result, doc = cli.json("process", str(make_silent_webm(tmp_path, seconds=4)), "--json")
    assert result.exit_code == 0
    assert doc["status"] == "ready"
    assert doc["transcript"]["text"] == ""
    assert doc["transcript"]["segments"] == []
    assert {a["status"] for a in doc["analyses"].values()} == {"skipped"}
    assert _steps(doc)["analyze"]["status"] == "skipped"


def test_a_missing_file_is_one_clear_line_and_exit_2(cli, tmp_path):
    result = cli("process", str(tmp_path / "nope.webm"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.output


def test_bad_speaker_hints_are_a_clear_error(cli, tmp_path):
    media = tmp_path / "talk.webm"
    media.write_bytes(b"\x1aE\xdf\xa3" + b"\0" * 60)
    result = cli("process", str(media), "--speakers", "0", "--max-speakers", "2")
    assert result.exit_code == 2
    assert "num_speakers" in result.stderr
    assert "Traceback" not in result.output


def test_bad_settings_name_the_variable(cli):
    result = cli("recordings", "list", MAX_ATTEMPTS="many")
    assert result.exit_code == 2
    assert "MAX_ATTEMPTS must be a whole number" in result.stderr


def test_list_show_and_export_a_processed_recording(cli, tmp_path):
    _, doc = cli.json("process", str(make_audio_only_webm(tmp_path, seconds=2)), "--json")
    rid = doc["id"]
    listed = cli("recordings", "list")
    assert rid in listed.stdout
    shown = cli("recordings", "show", rid)
    assert shown.exit_code == 0
    assert "Converting to MP4" in shown.stdout
    missing = cli("recordings", "show", "does-not-exist")
    assert missing.exit_code == 3
    assert "not found" in missing.stderr.lower()


def test_export_formats(cli, tmp_path):
    from tests.support.media import SAMPLE

    _, doc = cli.json("process", str(SAMPLE), "--json")
    rid = doc["id"]
    srt = cli("recordings", "export", rid, "--format", "srt")
    assert srt.exit_code == 0
    assert re.match(r"1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n", srt.stdout)
    vtt = cli("recordings", "export", rid, "--format", "vtt")
    assert vtt.stdout.startswith("WEBVTT\n\n00:00:")
    out = tmp_path / "t.txt"
    txt = cli("recordings", "export", rid, "--format", "txt", "-o", str(out))
    assert txt.exit_code == 0
    assert "release notes" in out.read_text()
    bad = cli("recordings", "export", rid, "--format", "docx")
    assert bad.exit_code == 2


def test_retry_reruns_failed_steps_only(cli, tmp_path):
    """A transcode that failed (an ffmpeg without libx264) is retried alone later."""
    from tests.support.media import ffmpeg_exe

    broken = tmp_path / "ffmpeg-without-x264"
    broken.write_text(
        "#!/bin/sh\n"
        'case "$*" in *libx264*) echo "Unknown encoder libx264" >&2; exit 1;; esac\n'
        f'exec "{ffmpeg_exe()}" "$@"\n'
    )
    broken.chmod(0o755)
    sample = make_video_only_webm(tmp_path, seconds=3)
    result, doc = cli.json(
        "process", str(sample), "--json", FFMPEG_PATH=str(broken), MAX_ATTEMPTS="1"
    )
    assert result.exit_code == 1
    steps = _steps(doc)
    assert steps["transcode"]["status"] == "failed"
    assert "libx264" in steps["transcode"]["error"]
    assert doc["error"].startswith("Converting to MP4 failed:")
    probe_done = steps["probe"]["finished_at"]
    retried = cli("jobs", "retry", doc["id"])
    assert retried.exit_code == 0, retried.output
    assert "Retrying: transcode" in retried.stderr
    _, after = cli.json("recordings", "show", doc["id"], "--json")
    assert after["status"] == "ready"
    assert after["error"] is None
    assert _steps(after)["probe"]["finished_at"] == probe_done  # not re-run
    again = cli("jobs", "retry", doc["id"])
    assert again.exit_code == 2
    assert "Nothing to retry" in again.stderr


def test_users_create_list_and_set_password(cli):
    created = cli("users", "create", "alice", "--password-stdin", input="correct horse\n")
    assert created.exit_code == 0, created.output
    dup = cli("users", "create", "alice", "--password-stdin", input="correct horse\n")
    assert dup.exit_code == 1
    assert "already exists" in dup.stderr
    short = cli("users", "create", "bob", "--password-stdin", input="short\n")
    assert short.exit_code == 2
    assert "at least 8" in short.stderr
    assert "alice" in cli("users", "list").stdout
    changed = cli("users", "set-password", "alice", "--password-stdin", input="new password!\n")
    assert changed.exit_code == 0
    nobody = cli("users", "set-password", "zed", "--password-stdin", input="new password!\n")
    assert nobody.exit_code == 3


def test_storage_cleanup_and_usage(cli, tmp_path):
    _, doc = cli.json("process", str(make_audio_only_webm(tmp_path, seconds=2)), "--json")
    objects = cli.data_dir / "objects"
    assert any(objects.rglob("source.webm"))
    dry = cli("storage", "cleanup", "--older-than", "1m", "--dry-run")
    assert dry.exit_code == 0
    assert "Would delete 0 recording(s)" in dry.stdout
    usage = cli("usage", "--since", "1d", "--json")
    assert usage.exit_code == 0
    assert '"username": "local"' in usage.stdout
    assert '"recordings": 1' in usage.stdout
    bad = cli("storage", "cleanup", "--older-than", "soon")
    assert bad.exit_code == 2
    assert "like 30d" in bad.stderr
    time.sleep(1.1)
    gone = cli("storage", "cleanup", "--older-than", "1s")
    assert gone.exit_code == 0, gone.output
    assert "Deleted 1 recording(s), 3 object(s)" in gone.stdout
    assert not any(objects.rglob("*.*"))
    assert '"count": 0' in cli("recordings", "list", "--json").stdout


def test_process_refuses_a_language_the_transcriber_does_not_know(cli):
    import json

    from tests.support.media import SAMPLE

    result = cli("process", str(SAMPLE), "--language", "zz")
    assert result.exit_code == 2, result.output
    assert "zz" in result.output
    listed = cli("recordings", "list", "--json")
    assert json.loads(listed.stdout)["count"] == 0  # nothing was imported
