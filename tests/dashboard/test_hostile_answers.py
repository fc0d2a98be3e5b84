"""A delivery's page in a real Chromium, fed by receivers over real sockets with answers made to hurt it: JSON
nested thousands deep (shown raw, not indented into hundreds of millions of characters), header names thousands
of characters long (wrapped within their column, not stretched over the other side), a 204 that declares a length
(not said to be cut by the log), and a bidi override in a body (marked, and reordering nothing around it)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.testing import serve_app
from tests.dashboard.conftest import Page
from tests.dashboard.test_cut_answer import raw_receiver


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


# Each side of the exchange, and every headers table and header name in it, with their left and right edges.
EDGES = """
const edges = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.right]; };
return {
  width: document.documentElement.scrollWidth, window: innerWidth,
  sides: ['.request', '.response'].map((side) => ({
    side: edges(document.querySelector(side)),
    tables: [...document.querySelectorAll(side + ' table.headers')].map(edges),
    names: [...document.querySelectorAll(side + ' table.headers th')].map((th) => th.textContent),
  })),
};
"""


def test_header_names_thousands_long_wrap_within_their_side(page: Page) -> None:
    """A 3,000-character name made its table 22,000 px wide: the request's ran over the response, and the values
    of every header were squeezed out of sight."""
    sent, answered = "X-" + "S" * 3000, "x-" + "r" * 3000
    with serve_app(answering('{"ok": true}', {answered: "v"})) as receiver:
        delivery = deliver_once(page, f"{receiver.url}/hook", headers={sent: "v"})
    page.open(f"/deliveries/{delivery['id']}")
    page.one('.response tr[data-name="content-type"]')
    found = page.js(EDGES)
    assert found["width"] <= found["window"], found["width"]
    for side, name in zip(found["sides"], (sent, answered), strict=True):
        [table] = side["tables"]
        assert side["side"][0] <= table[0] and table[1] <= side["side"][1] + 0.5, (side["side"], table)
        assert name in side["names"]  # whole, wrapped
    # The other rows stay readable: a value beside a short name keeps room to be read on a line or two.
    value = page.one('.response tr[data-name="content-type"] td')
    assert value.text == "application/json" and value.size["height"] < 40


# HTTP gives a 204 no body, whatever length it declares.
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 5000\r\n\r\n"


def test_a_204_declaring_a_length_is_not_said_to_be_cut(page: Page) -> None:
    """It was said to be "The first 0 bytes of 5,000: the log keeps 64 KiB of an answer"."""
    with raw_receiver(NO_CONTENT) as url:
        delivery = deliver_once(page, url)
    assert delivery["status"] == "succeeded"
    page.open(f"/deliveries/{delivery['id']}")
    page.one('.response tr[data-name="content-length"]')
    assert page.one(".response p.muted").text == "Empty body."
    assert not page.css(".response p.cut")


REORDERED = 'note: "\u202eevil.exe", amount: 100, to: "alice"'

# Where two words of the text in `selector` are drawn (the left edge of each), and the marks the page put in it.
WHERE = """
const [selector, first, second] = arguments;
const pre = document.querySelector(selector);
const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
const left = (word) => {
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(word);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + word.length);
    return range.getBoundingClientRect().left;
  }
  return null;
};
return {first: left(first), second: (walker.currentNode = pre, left(second)), text: pre.textContent,
  marks: [...pre.querySelectorAll('.bidi')].map((m) => m.dataset.code)};
"""


def test_a_bidi_override_in_a_body_reorders_nothing_and_is_marked(page: Page) -> None:
    """A U+202E drew the rest of the line right to left: `note: "}001 :tnuoma ,"exe.live` on screen."""
    override = {"data.token.metadata.note": "\u202eevil.exe"}
    with serve_app(answering(REORDERED)) as receiver, page.server.client() as api:
        made = api.post("/subscriptions", json={"url": f"{receiver.url}/hook", "retry": {"delays": []}})
        api.post("/events", json={"type": "basistheory:token.created", "overrides": override})
        [delivery] = page.wait(lambda: api.get("/deliveries", params={"status": "succeeded"}).json()["data"])
        assert delivery["subscription_id"] == made.json()["id"]
    page.open(f"/deliveries/{delivery['id']}")
    page.one(".response pre.response-body")
    answer = page.js(WHERE, ".response pre.response-body", "amount", "alice")
    assert answer["text"] == REORDERED  # the body itself, control included
    assert answer["first"] < answer["second"], answer  # left to right, as written
    assert answer["marks"] == ["U+202E"]
    sent = page.js(WHERE, ".request pre.request-body", "", "")  # the override, in the event as sent
    assert sent["marks"] == ["U+202E"] and "\u202eevil.exe" in sent["text"]
