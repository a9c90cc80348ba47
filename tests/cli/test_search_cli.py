"""``elyune search`` and ``elyune ask`` on the processed sample meeting (real pipeline)."""

from __future__ import annotations

import pytest

from tests.support.media import copy_sample

pytestmark = pytest.mark.slow


def test_the_sample_meeting_is_found_at_the_moment_it_was_said(cli, tmp_path):
    """After ``elyune process``, searching words of the sample lands on the segment that
    holds them, with that segment's start and end; ask quotes real segments."""
    result, doc = cli.json("process", str(copy_sample(tmp_path)), "--json")
    assert result.exit_code == 0, result.output
    segments = doc["transcript"]["segments"]
    said = next(s for s in segments if "onboarding guide" in s["text"].lower())
    result, found = cli.json("search", '"onboarding guide"', "--json")
    assert result.exit_code == 0, result.output
    hits = [h for h in found["results"] if h["kind"] == "segment"]
    assert [(h["segment_id"], h["start"], h["end"]) for h in hits][:1] == [
        (said["id"], said["start"], said["end"])
    ]
    assert hits[0]["url"].startswith(f"/#/recordings/{doc['id']}?t=")
    result, answer = cli.json("ask", "Who reviews the onboarding guide?", "--json")
    assert result.exit_code == 0, result.output
    assert answer["kind"] == "extractive" and answer["citations"]
    texts = {s["id"]: s["text"] for s in segments}
    assert all(c["quote"] == texts[c["segment_id"]] for c in answer["citations"])
    assert said["id"] in {c["segment_id"] for c in answer["citations"]}


def test_search_input_errors_are_one_line_and_exit_2(cli):
    result = cli("search", "   ")
    assert result.exit_code == 2
    assert "q" in result.output and "blank" in result.output
    assert cli("search", "x", "--user", "nobody").exit_code == 3
