"""Shared fixtures of the browser tests: Debian's chromium driven by Playwright, and a
real ``elyune serve`` on a free loopback port.

Playwright cannot download its own browser here: it drives ``/usr/bin/chromium``
(``make test`` installs the Debian package when it is missing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.live import LiveServer, free_port, live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # a page's AudioContext plays without a click (the live recording test feeds
    # the sample meeting into MediaRecorder through WebAudio)
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless chromium per test module. Not per session: Playwright's sync API
    keeps an event loop running in the main thread while it is open, and every asyncio
    test after the browser tests would fail with "cannot be called from a running event
    loop"."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is needed for the browser tests: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a bound on waiting (see ``page``), not a speed test
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh page (its own cookies and cache); console errors are kept on it."""
    context = browser.new_context()
    # Bounds on waiting, not measures of speed: a page on a loaded 2-core machine (the
    # whole suite, benchmarks beside it) can take far longer than Playwright's 5 s.
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda message: message.type == "error" and page.console_errors.append(message.text),
    )
    try:
        yield page
    finally:
        context.close()


class _AppPage(BaseHTTPRequestHandler):
    BODY = b"<!doctype html><html><head><title>app</title></head><body></body></html>"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def app_origin() -> Iterator[str]:
    """The origin of a web app page (a real server on another loopback port: Chromium
    lets a loopback page call a loopback API) that calls the API from elsewhere."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _AppPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def live(tmp_path_factory, app_origin) -> Iterator[LiveServer]:
    """``elyune serve`` on a free port; the app origin may call it (CORS)."""
    with live_server(
        tmp_path_factory.mktemp("live") / "data", CORS_ALLOWED_ORIGINS=app_origin
    ) as server:
        yield server
