"""A property-based fuzz pass over the API: whatever comes in, never a 500."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elyune_http import schema

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 10, max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutated(body: schema.Body) -> st.SearchStrategy[dict]:
    """Bodies close to valid ones: known field names with arbitrary values, plus extras."""
    names = list(body.fields) or ["0", "1"]
    return st.dictionaries(
        st.sampled_from(names) | st.text(max_size=10), JSON_VALUES, max_size=len(names) + 1
    )


TARGETS = [
    ("POST", "/api/token/", schema.TOKEN),
    ("POST", "/api/token/refresh/", schema.TOKEN_REFRESH),
    ("POST", "/api/v1/recordings/request-upload/", schema.REQUEST_UPLOAD),
    ("POST", "/api/v1/recordings/{id}/upload-complete/", schema.UPLOAD_COMPLETE),
    ("PATCH", "/api/v1/recordings/{id}/", schema.RECORDING_PATCH),
    ("PATCH", "/api/v1/recordings/{id}/speakers/", schema.SPEAKERS),
    ("POST", "/api/v1/webhooks/", schema.WEBHOOK),
]

fuzz = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@fuzz
@given(
    target=st.sampled_from(TARGETS),
    data=st.data(),
    raw=st.booleans(),
)
async def test_no_body_makes_the_api_fail(fuzz_api, target, data, raw):
    api, token, rid = fuzz_api
    method, path, body = target
    if raw:
        payload = data.draw(
            st.binary(max_size=64) | JSON_VALUES.map(lambda v: json.dumps(v).encode())
        )
        kwargs = {
            "data": payload,
            "headers": {**api.auth(token), "Content-Type": "application/json"},
        }
    else:
        kwargs = {"json": data.draw(_mutated(body)), "headers": api.auth(token)}
    response = await api.client.request(method, path.format(id=rid), **kwargs)
    assert response.status < 500, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")


SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"), max_size=30
)


@fuzz
@given(
    segment=SEGMENT,
    query=st.dictionaries(
        st.sampled_from(["page", "page_size", "status", "search", "format", "x"]),
        st.text(max_size=20) | st.integers().map(str) | st.integers(1, 5000).map(lambda n: "9" * n),
        max_size=3,
    ),
    suffix=st.sampled_from(["", "status/", "transcript/", "retry/", "analyses/summary/rerun/"]),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
)
async def test_no_path_or_query_makes_the_api_fail(fuzz_api, segment, query, suffix, method):
    api, token, _ = fuzz_api
    from urllib.parse import quote

    path = (
        f"/api/v1/recordings/{quote(segment, safe='')}/{suffix}"
        if segment
        else "/api/v1/recordings/"
    )
    response = await api.client.request(method, path, params=query, headers=api.auth(token))
    assert response.status < 500, await response.text()


@fuzz
@given(header=st.text(max_size=200).filter(lambda h: "\n" not in h and "\r" not in h))
async def test_no_authorization_header_makes_the_api_fail(fuzz_api, header):
    api, _, _ = fuzz_api
    try:
        response = await api.client.get("/api/v1/recordings/", headers={"Authorization": header})
    except ValueError:  # the client itself refuses some header bytes
        return
    assert response.status in (200, 401)
