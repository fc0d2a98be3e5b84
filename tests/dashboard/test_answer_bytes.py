"""A receiver's answer is kept exactly, over real HTTP: UTF-8 as text, any other bytes as base64 (said so by
`response_encoding`), an answer cut at 64 KiB inside a character still text; the API, the store, the CLI's line
and the run report each say base64 where it is; a store from before the column is upgraded on opening."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.cli.remote import outcome
from simulator.client import DeliveryInfo
from simulator.core import report
from simulator.delivery.sender import RESPONSE_EXCERPT
from simulator.models import answers
from simulator.store import Store
from simulator.testing import serve_app
from tests.api.harness import ok
from tests.dashboard.conftest import Page, start_server
from tests.dashboard.test_attempts import final

BOUND = 64 * 1024
# The cut at 64 KiB falls after the first byte of a three-byte character (✓ is E2 9C 93).
CUT_TEXT = "a" * (BOUND - 1) + "✓" * 100
ANSWERS = {
    "png": b"\x89PNG\r\n\x1a\n\x00\xff",
    "latin1": "caf\xe9".encode("latin-1"),
    "utf8": "café ✓".encode(),
    "cut": CUT_TEXT.encode(),
    "big-binary": bytes(range(256)) * 512,  # 128 KiB, not UTF-8 from its 129th byte
}


def answering_app(status: int = 400) -> Starlette:
    """A receiver whose path `/<name>` answers `ANSWERS[name]` as octet-stream, byte for byte."""

    async def answer(request: Request) -> Response:
        body = ANSWERS[request.path_params["name"]]
        return Response(body, status_code=status, media_type="application/octet-stream")

    return Starlette(routes=[Route("/{name}", answer, methods=["POST"])])


def deliver_to_each(api: httpx.Client, base: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """One event to a subscription per answer (no retries); each final delivery with its attempts, by name."""
    subs = {}
    for name in names:
        sub = api.post("/subscriptions", json={"url": f"{base}/{name}", "retry": {"delays": []}})
        subs[sub.json()["id"]] = name
    api.post("/events", json={"type": "basistheory:token.created"})
    found = {name: final(api, 1, subscription=sub_id)[0] for sub_id, name in subs.items()}
    for name, detail in found.items():  # each exactly the documented answer
        assert ok(api.get(f"/deliveries/{detail['id']}"), answers.DeliveryDetail) == detail, name
    return found


def test_answers_are_kept_exactly_text_or_base64(tmp_path: Path) -> None:
    assert RESPONSE_EXCERPT == BOUND
    srv = start_server(tmp_path)
    try:
        with serve_app(answering_app()) as receiver, srv.client() as api:
            found = deliver_to_each(api, receiver.url, list(ANSWERS))
    finally:
        srv.stop()
    kept = {name: d["attempt_log"][0] for name, d in found.items()}
    assert all(a["status_code"] == 400 for a in kept.values())
    for name in ("png", "latin1"):
        assert kept[name]["response_encoding"] == "base64", name
        assert base64.b64decode(kept[name]["response"], validate=True) == ANSWERS[name], name
    assert kept["utf8"]["response_encoding"] == "utf-8" and kept["utf8"]["response"] == "café ✓"
    # Cut at 64 KiB inside a character: still text, up to that character.
    assert kept["cut"]["response_encoding"] == "utf-8"
    assert kept["cut"]["response"] == ANSWERS["cut"][:BOUND].decode(errors="ignore") == "a" * (BOUND - 1)
    # The bound is on the bytes received, before base64.
    assert kept["big-binary"]["response_encoding"] == "base64"
    assert base64.b64decode(kept["big-binary"]["response"]) == ANSWERS["big-binary"][:BOUND]

    # The CLI's one-line form of a delivery (`deliveries`, `trigger`) says base64 where it is.
    png64 = base64.b64encode(ANSWERS["png"]).decode()
    assert outcome(DeliveryInfo.of(found["png"])).endswith(f"; answer: (base64) {png64}")
    assert outcome(DeliveryInfo.of(found["utf8"])).endswith("; answer: café ✓")

    async def from_the_store() -> None:  # the same record read back from the SQLite file, and the run report's form
        store = await Store.open(str(tmp_path / "dash.db"))
        try:
            png = await store.get_delivery(found["png"]["id"])
            text = await store.get_delivery(found["utf8"]["id"])
        finally:
            await store.close()
        assert png is not None and text is not None
        assert png.attempt_log[0].response_encoding == "base64"
        assert base64.b64decode(png.attempt_log[0].response or "") == ANSWERS["png"]
        assert report.outcome(png)["response"] == f"(base64) {png64}"
        assert report.outcome(text)["response"] == "café ✓"

    asyncio.run(from_the_store())


def test_a_store_from_before_the_column_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "dash.db"  # where start_server(tmp_path) keeps its store

    async def make_store() -> None:
        store = await Store.open(str(db))
        await store.close()

    asyncio.run(make_store())
    with sqlite3.connect(db) as conn:  # the attempts table as the release before kept it
        conn.execute("ALTER TABLE attempts DROP COLUMN response_encoding")
        conn.execute(
            "INSERT INTO deliveries (id, n, subscription_id, event_keys, event_ids, type, status, attempts, retries,"
            " sim_offset, speed, next_attempt_at, created_at, last_status) VALUES ('msg_old', 1, 'sub_gone', '[]',"
            " '[]', 'token.created', 'dead', 1, 0, 0, 1, 0, 1700000000, 500)"
        )
        conn.execute(
            "INSERT INTO attempts (delivery_id, number, started_at, latency_ms, status_code, response)"
            " VALUES ('msg_old', 1, 1700000000, 12.5, 500, 'iVBORw0KGgo=')"  # text that happens to look like base64
        )
    srv = start_server(tmp_path)
    try:
        with serve_app(answering_app()) as receiver, srv.client() as api:
            [old] = ok(api.get("/deliveries/msg_old"), answers.DeliveryDetail)["attempt_log"]
            new = deliver_to_each(api, receiver.url, ["png"])["png"]["attempt_log"][0]
    finally:
        srv.stop()
    assert old["response"] == "iVBORw0KGgo=" and old["response_encoding"] == "utf-8"  # NULL: text, as it was
    assert new["response_encoding"] == "base64" and base64.b64decode(new["response"]) == ANSWERS["png"]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT delivery_id, response_encoding FROM attempts ORDER BY id").fetchall()
    assert rows == [("msg_old", None), (rows[1][0], "base64")] and rows[1][0] != "msg_old"


def test_the_dashboard_shows_a_binary_answer_as_base64_and_says_so(page: Page) -> None:
    with serve_app(answering_app(status=200)) as receiver, page.server.client() as api:
        delivered = deliver_to_each(api, receiver.url, ["png", "utf8"])

    def shows(text: str) -> bool:
        found = page.css(".response pre.response-body")
        return bool(found) and found[0].get_attribute("textContent") == text

    for name, text in (("png", f"(base64) {base64.b64encode(ANSWERS['png']).decode()}"), ("utf8", "café ✓")):
        page.open(f"/deliveries/{delivered[name]['id']}")
        page.wait(partial(shows, text), what=f"the {name} answer shown as {text!r}")
