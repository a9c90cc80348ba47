"""The operator view in a real headless Chromium: refused to (and not linked for) a user
who is not staff; a staff user sees every user's jobs, filters the failed ones, opens one
and retries it; users are created, deactivated and get a new password."""

from __future__ import annotations

import json
import time
import urllib.request

from tests.browser.test_web_app import _errors, _log_in, _shot
from tests.support.live import PASSWORD

TITLE = '<script>alert("x")</script> Broken upload'


def _staff(live, name: str) -> dict[str, str]:
    created = live.cli(
        "users", "create", name, "--staff", "--password-stdin", input=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    return live.login(name)


def _failed_recording(live, owner: str) -> str:
    """A recording of *owner* whose file is no media: its probe step fails."""
    tokens = live.user(owner)
    data = b"not media at all"
    status, _, body = live.request(
        "POST",
        "/api/v1/recordings/request-upload/",
        {"filename": "broken.webm", "file_size": len(data), "title": TITLE},
        token=tokens["access"],
    )
    assert status == 201, body
    ticket = json.loads(body)
    put = urllib.request.Request(
        ticket["upload_url"], data=data, method="PUT", headers=ticket["upload_headers"]
    )
    urllib.request.urlopen(put, timeout=30).close()
    status, _, body = live.request(
        "POST",
        f"/api/v1/recordings/{ticket['recording_id']}/upload-complete/",
        {"s3_key": ticket["s3_key"]},
        token=tokens["access"],
    )
    assert status == 200, body
    job_id = json.loads(body)["job_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        _, _, body = live.request(
            "GET", f"/api/v1/recordings/{ticket['recording_id']}/", token=tokens["access"]
        )
        if json.loads(body)["status"] == "failed":
            return str(job_id)
        time.sleep(0.3)
    raise AssertionError(f"the recording did not fail: {body!r}")


def test_a_user_who_is_not_staff_is_sent_back_from_the_operator_view(live, page):
    from playwright.sync_api import expect

    live.user("nora")
    _log_in(page, live, "nora")
    expect(page.locator("#nav-operator")).to_be_hidden()
    page.goto(f"{live.url}/#/operator")
    expect(page.locator("#refused")).to_have_text("The operator view is for staff users only.")
    expect(page.get_by_role("heading", name="Your recordings")).to_be_visible()
    assert page.url.endswith("#/")
    expect(page.locator("#jobs")).to_have_count(0)
    page.goto(f"{live.url}/#/operator/users")
    expect(page.locator("#refused")).to_be_visible()
    expect(page.locator("#users")).to_have_count(0)
    assert not _errors(page), _errors(page)


def test_a_staff_user_sees_every_job_and_retries_a_failed_one(live, page):
    from playwright.sync_api import expect

    job_id = _failed_recording(live, "fay")
    staff = _staff(live, "sam")
    _log_in(page, live, "sam")
    operator = page.locator("#nav-operator")
    expect(operator).to_be_visible()
    operator.click()
    expect(page.get_by_role("heading", name="Operator")).to_be_visible()
    expect(page.locator("#queue-depth")).to_contain_text("waiting")
    expect(page.locator("#workers .worker").first).to_be_visible()
    page.select_option("#job-filter", "failed")
    row = page.locator(f'#jobs tr[data-id="{job_id}"]')
    expect(row).to_be_visible()
    # another user's title, shown as text (no script ran: no dialog, no console error)
    expect(row.locator(".job-title")).to_have_text(TITLE)
    expect(row).to_contain_text("fay")
    expect(row.locator(".badge")).to_have_text("failed")
    assert "status=failed" in page.url
    _shot(page, "operator")

    row.locator(".job-link").click()
    probe = page.locator('#job-steps [data-step="probe"]')
    expect(probe.locator(".step-status")).to_have_text("failed")
    reason = probe.locator(".step-error").text_content()
    assert reason
    expect(page.locator("#job-failure")).to_contain_text(reason)
    expect(page.locator("#job-owner")).to_have_text("fay")
    expect(page.locator(".job-recording")).to_have_text(TITLE)
    _shot(page, "operator-job")

    _, _, body = live.request("GET", f"/api/v1/operator/jobs/{job_id}/", token=staff["access"])
    first_run = json.loads(body)["steps"][0]["started_at"]
    page.locator("#retry-job").click()
    expect(page.locator("#job-notice")).to_have_text("Retrying: probe.")
    # the probe runs again (a new start), and fails again: the file is still no media
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        _, _, body = live.request("GET", f"/api/v1/operator/jobs/{job_id}/", token=staff["access"])
        step = json.loads(body)["steps"][0]
        if step["started_at"] != first_run and step["status"] == "failed":
            break
        time.sleep(0.3)
    assert step["started_at"] != first_run and step["status"] == "failed", step
    expect(probe.locator(".step-status")).to_have_text("failed", timeout=20_000)
    assert not _errors(page), _errors(page)


def test_a_staff_user_manages_users_from_the_page(live, page):
    from playwright.sync_api import expect

    _staff(live, "otto")
    _log_in(page, live, "otto")
    page.goto(f"{live.url}/#/operator/users")
    page.fill("#new-username", "vic")
    page.fill("#new-password", PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#users-notice")).to_have_text("Created vic.")
    row = page.locator("#users tr", has=page.locator(".user-name", has_text="vic"))
    expect(row).to_contain_text("active")
    live.login("vic")  # vic can log in
    row.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#users-notice")).to_have_text("vic is deactivated.")
    expect(row).to_contain_text("inactive")
    status, _, _ = live.request("POST", "/api/token/", {"username": "vic", "password": PASSWORD})
    assert status == 401
    row.get_by_role("button", name="Activate").click()
    expect(row.get_by_role("button", name="Deactivate")).to_be_visible()
    row.get_by_role("button", name="Reset password").click()
    page.get_by_label("New password for vic").fill("another long password")
    page.get_by_role("button", name="Set password", exact=True).click()
    expect(page.locator("#users-notice")).to_contain_text("The password of vic was reset")
    live.login("vic", "another long password")
    _shot(page, "operator-users")
    assert not _errors(page), _errors(page)
