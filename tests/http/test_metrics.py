"""``/metrics``: the Prometheus text format, read back with prometheus_client's parser;
who may read it (the metrics token or a staff token), and what it counts."""

from __future__ import annotations

import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http.test_operator import _seed, _staff

TOKEN = "m" * 32


def _families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(family, **labels: str) -> float:
    for sample in family.samples:
        if all(sample.labels.get(k) == v for k, v in labels.items()) and (
            sample.name == family.name or sample.name.endswith("_total")
        ):
            return sample.value
    raise AssertionError(f"no sample {labels} in {family.name}")


async def test_metrics_are_refused_without_a_token_or_to_a_regular_user(make_api):
    api = await make_api(METRICS_TOKEN=TOKEN)
    alice = await api.user("alice")
    anonymous = await api.client.get("/metrics")
    assert anonymous.status == 401
    assert "elyune_" not in await anonymous.text()
    wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
    assert wrong.status == 401
    regular = await api.client.get("/metrics", headers=api.auth(alice))
    assert regular.status == 403
    assert "elyune_" not in await regular.text()
    good = await api.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status == 200
    assert good.headers["Content-Type"].startswith("text/plain; version=0.0.4")


async def test_without_a_metrics_token_only_staff_read_metrics(api):
    alice = await api.user("alice")
    staff = await _staff(api)
    assert (await api.client.get("/metrics")).status == 401
    assert (await api.client.get("/metrics", headers=api.auth(alice))).status == 403
    # no token configured: a bearer that happens to be empty or random is no key
    assert (
        await api.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    ).status == 401
    assert (await api.client.get("/metrics", headers=api.auth(staff))).status == 200


async def test_metrics_count_jobs_steps_durations_queue_and_requests(make_api):
    api = await make_api(METRICS_TOKEN=TOKEN)
    alice = await api.user("alice")
    await _seed(api)
    for _ in range(3):
        listing = await api.client.get("/api/v1/recordings/", headers=api.auth(alice))
        assert listing.status == 200
    missing = await api.client.get("/api/v1/recordings/rec-nope/", headers=api.auth(alice))
    assert missing.status == 404
    nowhere = await api.client.get("/no/such/page-42/", headers=api.auth(alice))
    assert nowhere.status == 404
    response = await api.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    families = _families(await response.text())

    jobs = families["elyune_jobs"]
    assert _value(jobs, status="failed") == 1
    assert _value(jobs, status="running") == 1
    assert _value(jobs, status="succeeded") == 1
    assert _value(jobs, status="pending") == 0
    steps = families["elyune_steps"]
    assert _value(steps, step="probe", status="failed") == 1
    assert _value(steps, step="probe", status="running") == 1
    assert _value(steps, step="transcribe", status="succeeded") == 1
    assert _value(steps, step="transcribe", status="pending") == 2
    assert _value(families["elyune_steps_stuck"]) == 1

    durations = families["elyune_step_duration_seconds"]
    samples = {
        (s.name, s.labels.get("le")): s.value
        for s in durations.samples
        if s.labels.get("step") == "transcribe"
    }
    assert samples[("elyune_step_duration_seconds_count", None)] == 1
    assert samples[("elyune_step_duration_seconds_sum", None)] == pytest.approx(3.0, abs=1e-3)
    assert samples[("elyune_step_duration_seconds_bucket", "2.5")] == 0
    assert samples[("elyune_step_duration_seconds_bucket", "5.0")] == 1
    assert samples[("elyune_step_duration_seconds_bucket", "+Inf")] == 1

    assert _value(families["elyune_queue_up"]) == 1
    assert _value(families["elyune_queue_waiting"]) == 0
    assert _value(families["elyune_workers_recent"]) == 2
    assert _value(families["elyune_webhook_deliveries"], status="succeeded") == 0

    requests = families["elyune_http_requests"]
    assert _value(requests, method="GET", route="/api/v1/recordings/", status="200") == 3
    # the route pattern, never the raw path (no series per recording id)
    routes = {s.labels["route"] for s in requests.samples}
    assert "/api/v1/recordings/{id}/" in routes
    assert not any("rec-nope" in route or "page-42" in route for route in routes)
    assert _value(requests, route="unmatched", status="404") == 1
    latency = families["elyune_http_request_duration_seconds"]
    counts = [
        s.value
        for s in latency.samples
        if s.name.endswith("_count") and s.labels["route"] == "/api/v1/recordings/"
    ]
    assert counts == [3]


def test_serve_shares_the_http_series_through_a_folder_it_empties(tmp_path, monkeypatch):
    from elyune_http.metrics import MULTIPROC_ENV, shared_between_processes

    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with shared_between_processes() as folder:
        assert os.environ[MULTIPROC_ENV] == str(folder) and folder.is_dir()
        (folder / "counter_1.db").write_bytes(b"x")
    assert not folder.exists() and MULTIPROC_ENV not in os.environ
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_9.db").write_bytes(b"stale")
    (given / "keep.txt").write_text("not ours")
    monkeypatch.setenv(MULTIPROC_ENV, str(given))
    with shared_between_processes() as folder:
        assert folder == given
        assert not (given / "counter_9.db").exists()  # an earlier run's samples
    assert (given / "keep.txt").exists()
