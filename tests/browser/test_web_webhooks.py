"""The web app's webhooks page in headless Chromium (issue 12): create one (its secret
shown once), see its deliveries to a real receiver, delete it."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.test_web_app import _errors, _log_in, _shot
from tests.support.live import LiveServer, free_port, live_server


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, object]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append(
            {"event": self.headers.get("X-Elyune-Event"), "body": json.loads(body or b"{}")}
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[LiveServer]:
    """A server that may deliver to the loopback receiver."""
    with live_server(tmp_path_factory.mktemp("hooks") / "data", WEBHOOK_ALLOW_PRIVATE="1") as s:
        yield s


def test_create_a_webhook_see_its_deliveries_and_delete_it(live, page, receiver):
    from playwright.sync_api import expect

    tokens = live.user("wendy")
    _log_in(page, live, "wendy")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.locator("#webhooks .empty")).to_have_text("No webhooks yet.")
    # A bad URL is refused with the API's message, and nothing is created.
    page.fill("#webhook-url", "ftp://example.com/hook")
    page.get_by_role("button", name="Create webhook").click()
    expect(page.locator("#webhook-form-error")).to_contain_text("url")
    page.fill("#webhook-url", receiver)
    page.fill("#webhook-description", "<b>CI</b> hook")
    page.check("#event-recording\\.uploaded")
    page.get_by_role("button", name="Create webhook").click()
    secret = page.locator("#secret-value")
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    expect(page.locator("#webhooks .webhook")).to_have_count(1)
    expect(page.locator(".webhook-description")).to_have_text("<b>CI</b> hook")
    _shot(page, "webhooks")
    # The secret is shown once: the page read again does not have it.
    page.reload()
    expect(page.locator("#webhooks .webhook")).to_have_count(1)
    expect(page.locator("#secret-value")).to_have_count(0)
    assert secret_not_in_listing(live, tokens["access"])

    # An upload sends recording.uploaded; its delivery is in the log.
    status, _, body = live.request(
        "POST",
        "/api/v1/recordings/request-upload/",
        {"filename": "a.webm", "file_size": 4},
        token=tokens["access"],
    )
    ticket = json.loads(body)
    put = urllib.request.Request(
        ticket["upload_url"], data=b"abcd", method="PUT", headers=ticket["upload_headers"]
    )
    urllib.request.urlopen(put, timeout=30).close()
    live.request(
        "POST",
        f"/api/v1/recordings/{ticket['recording_id']}/upload-complete/",
        {"s3_key": ticket["s3_key"]},
        token=tokens["access"],
    )
    page.get_by_role("button", name="Delivery log").click()
    # The open log follows the delivery until the receiver has answered.
    row = page.locator(".delivery").filter(has_text="recording.uploaded")
    expect(row.filter(has_text="HTTP 200")).to_have_count(1, timeout=60_000)
    expect(row.locator("td").nth(1)).to_have_text("succeeded")
    assert any(r["event"] == "recording.uploaded" for r in _Receiver.received)

    # Deleting asks first.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("#webhooks .empty")).to_have_text("No webhooks yet.")
    assert not _errors(page), _errors(page)


def secret_not_in_listing(live, access: str) -> bool:
    _, _, body = live.request("GET", "/api/v1/webhooks/", token=access)
    return all("secret" not in hook for hook in json.loads(body)["results"])
