"""The API docs page as a person sees it in a browser."""

from __future__ import annotations

import json


def test_docs_page_lists_every_operation_from_local_assets(live, page):
    _, _, schema = live.request("GET", "/api/schema/")
    document = json.loads(schema)
    assert document["openapi"].startswith("3.1")
    operations = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30_000)

    assert "Unable to render this definition" not in page.content()
    shown = page.locator(".opblock-summary-method").all_inner_texts()
    assert len(shown) == len(operations)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {p.replace("\u200b", "") for p in paths} == {path for _, path in operations}
    assert page.locator(".info .title").inner_text().startswith(document["info"]["title"])
    # everything came from the server itself: no CDN, nothing else on the network
    assert requested and all(url.startswith(live.url) for url in requested), requested
    assert not page.console_errors


def test_favicon_is_an_image_not_a_401(live, page):
    response = page.goto(f"{live.url}/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    assert response.body()[:8] == b"\x89PNG\r\n\x1a\n"
