"""The web app's search box in a real headless Chromium: hits with highlighted words,
shown as text, and a hit opens the recording with the player at that moment."""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.test_web_app import _errors, _log_in, _process_through_api, _shot


@pytest.fixture(scope="module")
def searcher(live):
    tokens = live.user("sam")
    recording = _process_through_api(live, tokens["access"], title="Search <b>demo</b>")
    status, _, body = live.request(
        "GET", '/api/v1/search/?q="onboarding+guide"', token=tokens["access"]
    )
    assert status == 200, body
    return {"name": "sam", "recording": recording, "hits": json.loads(body)["results"]}


def test_a_search_hit_opens_the_recording_at_its_moment(live, page, searcher):
    from playwright.sync_api import expect

    _log_in(page, live, searcher["name"])
    page.fill("#search-box", '"onboarding guide"')
    page.press("#search-box", "Enter")
    hits = page.locator("#hits .hit")
    expect(hits.first).to_be_visible()
    expect(page.locator("#hits-summary")).to_contain_text("match")
    marks = hits.first.locator("mark").all_text_contents()
    assert " ".join(marks).lower() == "onboarding guide"  # the phrase (FTS5 marks it whole)
    # the title's markup is text, not HTML
    expect(hits.first.locator(".title")).to_have_text("Search <b>demo</b>")
    _shot(page, "search")
    expected = next(h for h in searcher["hits"] if h["kind"] == "segment")
    page.locator("#hits .hit .hit-link").first.click()
    expect(page).to_have_url(re.compile(rf"#/recordings/{searcher['recording']}\?t="))
    expect(page.locator("#transcript .segment").first).to_be_visible()
    page.wait_for_function(
        "(t) => { const v = document.getElementById('player');"
        " return v && v.readyState >= 1 && Math.abs(v.currentTime - t) < 0.3; }",
        arg=expected["start"],
        timeout=30_000,
    )
    current = page.locator("#transcript .segment.current")
    expect(current).to_have_count(1)
    assert abs(float(current.get_attribute("data-start")) - expected["start"]) < 0.01
    assert not _errors(page), _errors(page)
