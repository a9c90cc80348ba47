"""``elyune recordings speakers``, ``elyune profiles`` and ``elyune users voice-profiles``:
name the speakers of a processed recording, see them recognised in the next one."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.media import SAMPLE, ffmpeg_exe

pytestmark = pytest.mark.slow


def _cut(directory):
    target = directory / "follow-up.wav"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-ss", "3", "-t", "30", "-i", str(SAMPLE), "-vn", "-ac", "1", "-ar", "16000",
         str(target)],
        check=True,
    )  # fmt: skip
    return target


def _says(doc, words):
    segment = next(s for s in doc["transcript"]["segments"] if words in s["text"].lower())
    return segment["speaker"], segment["speaker_name"]


def test_named_speakers_become_profiles_that_name_the_next_recording(cli, tmp_path):
    _, first = cli.json("process", str(SAMPLE), "--json")
    host, _ = _says(first, "good morning, bob")
    guest, _ = _says(first, "customers love")
    assert host != guest
    named = cli("recordings", "speakers", first["id"], f"{host}=Alice", f"{guest}=Bob [b]")
    assert named.exit_code == 0, named.output
    assert "Bob [b]" in named.stdout  # user text, not markup

    result, listed = cli.json("profiles", "list", "--json")
    assert result.exit_code == 0
    profiles = {p["name"]: p for p in listed["results"]}
    assert set(profiles) == {"Alice", "Bob [b]"}
    table = cli("profiles", "list")
    assert "Bob [b]" in table.stdout and "2 voice profile(s)" in table.stdout

    _, second = cli.json("process", str(_cut(tmp_path)), "--json")
    assert _says(second, "customers love")[1] == "Bob [b]"
    label = _says(second, "customers love")[0]
    assert second["speaker_matches"][label]["profile_id"] == profiles["Bob [b]"]["id"]
    speakers = {s["label"]: s for s in second["transcript"]["speakers"]}
    assert speakers[label]["source"] == "auto" and speakers[label]["confidence"] > 0.5

    renamed = cli("profiles", "rename", profiles["Bob [b]"]["id"], "Robert")
    assert renamed.exit_code == 0, renamed.output
    _, shown = cli.json("recordings", "show", second["id"], "--json")
    assert _says(shown, "customers love")[1] == "Robert"

    assert cli("profiles", "rename", profiles["Alice"]["id"], "  ").exit_code == 2
    assert cli("profiles", "rename", profiles["Alice"]["id"], "robert").exit_code == 1  # taken
    assert cli("profiles", "delete", "no-such-profile").exit_code == 3
    assert cli("profiles", "list", "--user", "nobody").exit_code == 3
    assert cli("recordings", "speakers", second["id"], "Alice").exit_code == 2

    deleted = cli("profiles", "delete", profiles["Alice"]["id"])
    assert deleted.exit_code == 0, deleted.output
    off = cli("users", "voice-profiles", "local", "--off")
    assert off.exit_code == 0, off.output
    assert "off; 1 profile(s) deleted" in off.stdout
    _, listed = cli.json("profiles", "list", "--json")
    assert listed == {"count": 0, "results": []}
    _, shown = cli.json("recordings", "show", second["id"], "--json")
    assert shown["speaker_matches"] == {} and shown["speaker_names"] == {}
