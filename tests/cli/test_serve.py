"""``elyune serve --host/--port``: the URLs it signs and prints follow the options."""

from __future__ import annotations

import json
import urllib.request

from tests.support.live import free_port, live_server


def test_serve_port_option_gives_upload_urls_and_docs_link_on_that_port(tmp_path):
    port = free_port()
    with live_server(tmp_path / "data", port=port) as server:
        tokens = server.user()
        status, _, body = server.request(
            "POST",
            "/api/v1/recordings/request-upload/",
            {"filename": "m.webm", "file_size": 4},
            token=tokens["access"],
        )
        assert status == 201, body
        ticket = json.loads(body)
        assert ticket["upload_url"].startswith(f"http://127.0.0.1:{port}/api/v1/storage/")
        assert ticket["upload_post"]["url"] == f"http://127.0.0.1:{port}/api/v1/storage/"
        put = urllib.request.Request(ticket["upload_url"], data=b"webm", method="PUT")
        with urllib.request.urlopen(put, timeout=10) as response:
            assert response.status == 200
        _, _, schema = server.request("GET", "/api/schema/")
        assert json.loads(schema)["servers"][0]["url"] == f"http://127.0.0.1:{port}"
    assert f"docs at http://127.0.0.1:{port}/api/docs/" in server.log.read_text()


def test_public_url_setting_still_wins_over_the_port_option(tmp_path):
    with live_server(tmp_path / "data", ELYUNE_PUBLIC_URL="https://elyune.example.com") as server:
        tokens = server.user()
        _, _, body = server.request(
            "POST",
            "/api/v1/recordings/request-upload/",
            {"filename": "m.webm", "file_size": 4},
            token=tokens["access"],
        )
        assert json.loads(body)["upload_url"].startswith("https://elyune.example.com/api/v1/")


def test_users_set_password_ends_the_sessions_of_a_running_server(tmp_path):
    import time

    with live_server(tmp_path / "data") as server:
        tokens = server.user("erin")
        assert server.request("GET", "/api/v1/recordings/", token=tokens["access"])[0] == 200
        changed = server.cli(
            "users", "set-password", "erin", "--password-stdin", input="another password\n"
        )
        assert changed.returncode == 0, changed.stderr
        refreshed = server.request("POST", "/api/token/refresh/", {"refresh": tokens["refresh"]})
        assert refreshed[0] == 401
        time.sleep(5.2)  # the server's token cache window
        assert server.request("GET", "/api/v1/recordings/", token=tokens["access"])[0] == 401
        fresh = server.login("erin", "another password")
        assert server.request("GET", "/api/v1/recordings/", token=fresh["access"])[0] == 200
