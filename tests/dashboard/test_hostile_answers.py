"""A delivery's page in a real Chromium, fed by receivers over real sockets with answers made to hurt it: JSON
nested thousands deep is shown raw, not indented into hundreds of millions of characters."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.testing import serve_app
from tests.dashboard.conftest import Page


def deliver_once(page: Page, url: str, **subscription: Any) -> dict[str, Any]:
    """One event to a new subscription to `url` (no retry); the delivery once it is final."""
    with page.server.client() as api:
        made = api.post("/subscriptions", json={"url": url, "retry": {"delays": []}, **subscription})
        assert made.status_code == 201, made.text
        api.post("/events", json={"type": "basistheory:token.created"})

        def final() -> list[dict[str, Any]]:
            found = api.get("/deliveries", params={"subscription": made.json()["id"]}).json()["data"]
            return [d for d in found if d["status"] in ("succeeded", "dead")]

        [delivery] = page.wait(final, what="the delivery final")
    return delivery


def answering(body: str, headers: dict[str, str] | None = None) -> Starlette:
    async def answer(request: Request) -> Response:
        return Response(body, headers=headers, media_type="application/json")

    return Starlette(routes=[Route("/hook", answer, methods=["POST"])])


# 64 KiB, all the log keeps of an answer: indented as JSON.stringify would, it came to 2 billion characters, past
# what a string can hold, and the page said "Cannot read delivery"; 4 KiB came to 8 million (16 KiB froze the tab
# for 20 s).
@pytest.mark.parametrize("depth", [32 * 1024, 2 * 1024])
def test_json_nested_thousands_deep_is_shown_raw(page: Page, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    with serve_app(answering(nested)) as receiver:
        delivery = deliver_once(page, f"{receiver.url}/hook")
    page.open(f"/deliveries/{delivery['id']}")
    shown = page.one(".response pre.response-body")
    assert shown.get_attribute("data-view") == "raw"
    assert shown.get_attribute("textContent") == nested
    assert not page.css("main p.error")
