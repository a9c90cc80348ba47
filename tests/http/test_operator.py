"""The operator API: staff only (401 without a token, 403 for other users), every user's
jobs with filters and retries, the queue, the users; the regular routes' isolation is
unchanged for staff too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dependency_injector import providers

from elyune_adapters.container import resolve
from elyune_adapters.memory import RecordingJobQueue
from elyune_core import JobId, Recording, RecordingId, RecordingStatus, StepName, new_job
from elyune_core._pipeline import derive_status
from elyune_core.use_cases import CreateUserInput
from tests.http.conftest import PASSWORD

OPERATOR_GETS = (
    "/api/v1/operator/jobs/",
    "/api/v1/operator/jobs/job-failed/",
    "/api/v1/operator/queue/",
    "/api/v1/operator/users/",
)


async def _staff(api, name: str = "olga") -> str:
    create = await resolve(api.container.create_user())
    await create.execute(CreateUserInput(name, PASSWORD, is_staff=True))
    response = await api.client.post("/api/token/", json={"username": name, "password": PASSWORD})
    assert response.status == 200
    return (await response.json())["access"]


async def _seed(api, owner_name: str = "alice") -> dict[str, str]:
    """Three jobs of *owner_name*: one failed (probe), one stuck (probe running on a lease
    that ran out), one succeeded; returns their recording ids by kind."""
    now = datetime.now(UTC)
    factory = await resolve(api.container.uow())
    async with factory() as uow:
        owner = await uow.users.get_by_username(owner_name)
        ids = {}
        for n, kind in enumerate(("failed", "stuck", "done")):
            rid = RecordingId(f"rec-{kind}")
            created = now - timedelta(minutes=10 - n)
            recording = Recording.awaiting_upload(
                rid,
                owner.id,
                f"{kind}.webm",
                f"recordings/{owner.id}/{rid}/source.webm",
                created,
                title=f"<b>{kind}</b> meeting",
            )
            job = new_job(JobId(f"job-{kind}"), rid, created)
            probe = job.step(StepName.PROBE).claim("host:1:abc", created, created + timedelta(30))
            if kind == "failed":
                probe = probe.fail(created + timedelta(seconds=2), "Not a media file.")
            elif kind == "stuck":
                probe = probe.claim("host:2:def", created, now - timedelta(seconds=5))
            job = job.with_step(probe)
            if kind == "done":
                for step in job.steps:
                    job = job.with_step(
                        step.claim("host:1:abc", created, created).succeed(
                            created + timedelta(seconds=3), {}
                        )
                    )
            job = derive_status(job, now)
            await uow.recordings.add(recording.follow_job(job, now))
            await uow.jobs.add(job)
            ids[kind] = rid
        await uow.commit()
    return ids


@pytest.fixture
async def queue(api) -> RecordingJobQueue:
    """The job queue, recorded instead of run (retries are observed, not executed)."""
    recorded = RecordingJobQueue()
    api.container.job_queue.override(providers.Object(recorded))
    return recorded


async def test_operator_routes_need_a_token_and_a_staff_user(api):
    alice = await api.user("alice")
    staff = await _staff(api)
    for path in OPERATOR_GETS:
        anonymous = await api.client.get(path)
        assert anonymous.status == 401, path
        refused = await api.client.get(path, headers=api.auth(alice))
        assert refused.status == 403, path
        assert "staff" in (await refused.json())["detail"]
    for method, path, body in (
        ("POST", "/api/v1/operator/jobs/job-failed/retry/", None),
        ("POST", "/api/v1/operator/users/", {"username": "eve", "password": PASSWORD}),
        ("PATCH", "/api/v1/operator/users/whoever/", {"is_active": False}),
        ("POST", "/api/v1/operator/users/whoever/password/", {"password": PASSWORD}),
    ):
        response = await api.client.request(method, path, json=body, headers=api.auth(alice))
        assert response.status == 403, path
    ok = await api.client.get("/api/v1/operator/jobs/", headers=api.auth(staff))
    assert ok.status == 200
    me = await (await api.client.get("/api/v1/me/", headers=api.auth(alice))).json()
    assert me["username"] == "alice" and me["is_staff"] is False
    me = await (await api.client.get("/api/v1/me/", headers=api.auth(staff))).json()
    assert me["is_staff"] is True


async def test_staff_see_every_users_jobs_only_in_the_operator_view(api, queue):
    alice = await api.user("alice")
    staff = await _staff(api)
    ids = await _seed(api)
    # the regular API: alice's recordings are alice's, staff or not
    for rid in ids.values():
        other = await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(staff))
        assert other.status == 404
        retry = await api.client.post(f"/api/v1/recordings/{rid}/retry/", headers=api.auth(staff))
        assert retry.status == 404
        mine = await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(alice))
        assert mine.status == 200
    listing = await (await api.client.get("/api/v1/recordings/", headers=api.auth(staff))).json()
    assert listing["count"] == 0
    # the operator view: all of them, newest first, with owner and title
    body = await (await api.client.get("/api/v1/operator/jobs/", headers=api.auth(staff))).json()
    assert body["count"] == 3
    assert [j["id"] for j in body["results"]] == ["job-done", "job-stuck", "job-failed"]
    failed = body["results"][2]
    assert failed["owner"]["username"] == "alice"
    assert failed["recording"]["title"] == "<b>failed</b> meeting"
    probe = failed["steps"][0]
    assert probe["status"] == "failed" and probe["error"] == "Not a media file."
    assert probe["attempts"] == 1 and probe["worker"] == "host:1:abc"
    assert probe["stuck"] is False
    stuck = body["results"][1]
    assert stuck["stuck"] is True
    assert [s["name"] for s in stuck["steps"] if s["stuck"]] == ["probe"]
    assert stuck["steps"][0]["worker"] == "host:2:def" and stuck["steps"][0]["attempts"] == 2


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("failed", ["job-failed"]),
        ("running", ["job-stuck"]),
        ("stuck", ["job-stuck"]),
        ("succeeded", ["job-done"]),
        ("pending", []),
        ("", ["job-done", "job-stuck", "job-failed"]),
    ],
)
async def test_jobs_are_filtered_by_status_and_stuck(api, status, expected):
    await api.user("alice")
    staff = await _staff(api)
    await _seed(api)
    response = await api.client.get(
        "/api/v1/operator/jobs/", params={"status": status}, headers=api.auth(staff)
    )
    assert response.status == 200
    body = await response.json()
    assert [j["id"] for j in body["results"]] == expected
    assert body["count"] == len(expected)
    stuck = {j["id"]: j["stuck"] for j in body["results"]}
    assert all(value == (key == "job-stuck") for key, value in stuck.items())


async def test_bad_filters_and_pages_are_refused_with_a_field_message(api):
    staff = await _staff(api)
    for params, field in (
        ({"status": "broken"}, "status"),
        ({"page": "0"}, "page"),
        ({"page_size": "500"}, "page_size"),
        ({"page": "x"}, "page"),
    ):
        response = await api.client.get(
            "/api/v1/operator/jobs/", params=params, headers=api.auth(staff)
        )
        assert response.status == 400
        assert field in await response.json()


async def test_pages_of_jobs(api):
    await api.user("alice")
    staff = await _staff(api)
    await _seed(api)
    first = await (
        await api.client.get(
            "/api/v1/operator/jobs/", params={"page_size": "2"}, headers=api.auth(staff)
        )
    ).json()
    second = await (
        await api.client.get(
            "/api/v1/operator/jobs/",
            params={"page_size": "2", "page": "2"},
            headers=api.auth(staff),
        )
    ).json()
    assert first["count"] == second["count"] == 3
    assert [j["id"] for j in first["results"] + second["results"]] == [
        "job-done",
        "job-stuck",
        "job-failed",
    ]


async def test_a_staff_retry_resets_the_failed_step_and_queues_it(api, queue):
    await api.user("alice")
    staff = await _staff(api)
    ids = await _seed(api)
    response = await api.client.post(
        "/api/v1/operator/jobs/job-failed/retry/", headers=api.auth(staff)
    )
    assert response.status == 202, await response.text()
    assert await response.json() == {
        "job_id": "job-failed",
        "reset": ["probe"],
        "queued": ["probe"],
    }
    assert queue.enqueued == [("job-failed", StepName.PROBE)]
    job = await (
        await api.client.get("/api/v1/operator/jobs/job-failed/", headers=api.auth(staff))
    ).json()
    assert job["status"] == "pending"
    assert job["steps"][0]["status"] == "pending" and job["steps"][0]["attempts"] == 0
    assert job["recording"]["status"] == RecordingStatus.UPLOADED.value
    assert job["recording"]["id"] == ids["failed"]
    again = await api.client.post(
        "/api/v1/operator/jobs/job-failed/retry/", headers=api.auth(staff)
    )
    assert again.status == 409  # nothing failed any more


async def test_a_stuck_step_is_queued_again_and_a_healthy_one_is_refused(api, queue):
    await api.user("alice")
    staff = await _staff(api)
    await _seed(api)
    stuck = await api.client.post(
        "/api/v1/operator/jobs/job-stuck/retry/", json={"step": "probe"}, headers=api.auth(staff)
    )
    assert stuck.status == 202
    assert (await stuck.json())["queued"] == ["probe"]
    assert queue.enqueued == [("job-stuck", StepName.PROBE)]
    done = await api.client.post(
        "/api/v1/operator/jobs/job-done/retry/", json={"step": "probe"}, headers=api.auth(staff)
    )
    assert done.status == 409
    assert "only a failed or stuck step" in (await done.json())["detail"]
    bad = await api.client.post(
        "/api/v1/operator/jobs/job-done/retry/", json={"step": "dance"}, headers=api.auth(staff)
    )
    assert bad.status == 400 and "step" in await bad.json()
    missing = await api.client.post("/api/v1/operator/jobs/nope/retry/", headers=api.auth(staff))
    assert missing.status == 404


async def test_the_queue_shows_depth_and_recent_workers(api):
    await api.user("alice")
    staff = await _staff(api)
    await _seed(api)
    body = await (await api.client.get("/api/v1/operator/queue/", headers=api.auth(staff))).json()
    assert body["available"] is True and body["backend"] == "inprocess"
    assert body["waiting"] == 0 and body["running"] == 0
    assert len(body["consumers"]) == 1
    names = [w["name"] for w in body["workers"]]
    assert set(names) == {"host:1:abc", "host:2:def"}
    running = {w["name"]: w["running"] for w in body["workers"]}
    assert running["host:2:def"] == 1
    assert body["jobs"] == {"failed": 1, "running": 1, "succeeded": 1}
    assert body["stuck_steps"] == 1


async def test_staff_manage_users(api):
    await api.user("alice")
    staff = await _staff(api)
    created = await api.client.post(
        "/api/v1/operator/users/",
        json={"username": "bob", "password": PASSWORD, "is_staff": False},
        headers=api.auth(staff),
    )
    assert created.status == 201
    bob = await created.json()
    assert bob["username"] == "bob" and bob["is_active"] and not bob["is_staff"]
    assert "password" not in str(bob)
    taken = await api.client.post(
        "/api/v1/operator/users/",
        json={"username": "bob", "password": PASSWORD},
        headers=api.auth(staff),
    )
    assert taken.status == 409
    short = await api.client.post(
        "/api/v1/operator/users/",
        json={"username": "carl", "password": "short"},
        headers=api.auth(staff),
    )
    assert short.status == 400 and "password" in await short.json()
    users = await (await api.client.get("/api/v1/operator/users/", headers=api.auth(staff))).json()
    assert [u["username"] for u in users["results"]] == ["alice", "bob", "olga"]
    alice_id = next(u["id"] for u in users["results"] if u["username"] == "alice")

    off = await api.client.patch(
        f"/api/v1/operator/users/{alice_id}/", json={"is_active": False}, headers=api.auth(staff)
    )
    assert off.status == 200 and (await off.json())["is_active"] is False
    login = await api.client.post("/api/token/", json={"username": "alice", "password": PASSWORD})
    assert login.status == 401
    on = await api.client.patch(
        f"/api/v1/operator/users/{alice_id}/", json={"is_active": True}, headers=api.auth(staff)
    )
    assert (await on.json())["is_active"] is True

    reset = await api.client.post(
        f"/api/v1/operator/users/{alice_id}/password/",
        json={"password": "a brand new secret"},
        headers=api.auth(staff),
    )
    assert reset.status == 204
    old = await api.client.post("/api/token/", json={"username": "alice", "password": PASSWORD})
    assert old.status == 401
    new = await api.client.post(
        "/api/token/", json={"username": "alice", "password": "a brand new secret"}
    )
    assert new.status == 200

    me = await (await api.client.get("/api/v1/me/", headers=api.auth(staff))).json()
    myself = await api.client.patch(
        f"/api/v1/operator/users/{me['id']}/", json={"is_staff": False}, headers=api.auth(staff)
    )
    assert myself.status == 409
    nobody = await api.client.patch(
        "/api/v1/operator/users/nobody/", json={"is_active": False}, headers=api.auth(staff)
    )
    assert nobody.status == 404
    empty = await api.client.patch(
        f"/api/v1/operator/users/{alice_id}/", json={}, headers=api.auth(staff)
    )
    assert empty.status == 400


async def test_operator_answers_match_the_openapi_document(api, queue):
    from jsonschema import Draft202012Validator

    from elyune_http.openapi import document

    spec = document("http://test")
    await api.user("alice")
    staff = await _staff(api)
    await _seed(api)
    auth = api.auth(staff)
    checks = [
        ("OperatorJobPage", "GET", "/api/v1/operator/jobs/", None),
        ("OperatorJob", "GET", "/api/v1/operator/jobs/job-stuck/", None),
        ("Queued", "POST", "/api/v1/operator/jobs/job-failed/retry/", None),
        ("QueueOverview", "GET", "/api/v1/operator/queue/", None),
        ("UserList", "GET", "/api/v1/operator/users/", None),
        ("User", "POST", "/api/v1/operator/users/", {"username": "bo", "password": PASSWORD}),
        ("Account", "GET", "/api/v1/me/", None),
    ]
    for name, method, path, body in checks:
        response = await api.client.request(method, path, json=body, headers=auth)
        assert response.status < 300, path
        schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        Draft202012Validator(schema).validate(await response.json())
    for name in ("UserCreate", "UserUpdate", "UserPassword", "JobRetry"):
        Draft202012Validator.check_schema(spec["components"]["schemas"][name])
    for path in ("/api/v1/operator/jobs/", "/api/v1/operator/users/{id}/", "/metrics"):
        operation = next(iter(spec["paths"][path].values()))
        assert {"401", "403"} <= set(operation["responses"])
