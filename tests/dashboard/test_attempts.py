"""What an attempt keeps, read through GET /deliveries/{id} over real HTTP: the request exactly as the receiver got
it (every header, the body byte for byte, a body a fault damaged included), the answer's headers and body up to
64 KiB, the kind of a failure; the list newest first and searched; a store from before these columns, upgraded."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.store import Store
from simulator.testing import serve_app
from simulator.testing.receiver import Received, Receiver
from tests.api.harness import ApiServer, eventually
from tests.dashboard.conftest import start_server
from tests.ports import refused_port

SECRETS = {"standard": "whsec_" + "YXR0ZW1wdHMtdGVzdC1zZWNyZXQ=", "syncfy": "YXR0ZW1wdHMtdGVzdC1zZWNyZXQ="}


def final(api: httpx.Client, count: int = 1, **filters: str) -> list[dict[str, Any]]:
    """The first `count` deliveries once each is final, with their attempts."""

    def done() -> bool:
        found = api.get("/deliveries", params=filters).json()["data"]
        return len(found) >= count and all(d["status"] not in ("pending", "failed") for d in found)

    eventually(done, 20, "final deliveries")
    return [api.get(f"/deliveries/{d['id']}").json() for d in api.get("/deliveries", params=filters).json()["data"]]


def assert_sent_as_received(request: dict[str, Any], received: Received) -> None:
    assert {k.lower(): v for k, v in request["headers"].items()} == received.headers
    assert request["body_encoding"] == "utf-8"
    assert request["body"].encode() == received.body
    assert request["method"] == "POST" and request["url"].endswith(received.path)


@pytest.mark.parametrize(
    ("signing", "etype"),
    [
        ("standard", "syncfy:credentials.created"),
        (None, "basistheory:token.updated"),
        ("syncfy", "syncfy:documents.success"),
    ],
)
def test_the_request_is_kept_as_the_receiver_got_it(
    server: ApiServer, webhook_receiver: Receiver, signing: str | None, etype: str
) -> None:
    with server.client() as api:
        spec = {"url": webhook_receiver.url, "signing": signing, "secret": SECRETS.get(signing or "")}
        api.post("/subscriptions", json={k: v for k, v in spec.items() if v is not None})
        api.post("/events", json={"type": etype})
        [delivery] = final(api)
    [received] = webhook_receiver.requests
    [attempt] = delivery["attempt_log"]
    assert_sent_as_received(attempt["request"], received)
    assert attempt["error_kind"] is None and attempt["status_code"] == 204 and "date" in attempt["response_headers"]


def test_a_syncfy_batch_and_its_retry_are_each_kept(
    server: ApiServer, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_webhook_receiver(fail=1)
    with server.client() as api:
        sub = api.post("/subscriptions", json={"url": receiver.url, "batch": 3, "retry": {"delays": [0.05]}}).json()
        api.post("/runs", json={"scenario": "dash-batch", "subscriptions": [sub["id"]], "speed": 0})
        [delivery] = final(api)
    first, second = receiver.wait_for(2)
    assert len(delivery["event_ids"]) == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 204]
    assert delivery["attempt_log"][0]["error_kind"] == "http"
    for attempt, received in zip(delivery["attempt_log"], (first, second), strict=True):
        assert_sent_as_received(attempt["request"], received)


def test_a_body_a_fault_damaged_is_kept_as_sent(
    server: ApiServer, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_webhook_receiver(fail=1, fail_status=400)  # refuses the damaged body: a retry sends it whole
    with server.client() as api:
        faults = {"malformed": {"probability": 1, "kind": "truncated"}}
        api.post("/subscriptions", json={"url": receiver.url, "faults": faults, "retry": {"delays": [0.05]}})
        api.post("/events", json={"type": "basistheory:token.created"})
        [delivery] = final(api)
    damaged, whole = receiver.wait_for(2)
    assert len(damaged.body) < len(whole.body)
    first, second = delivery["attempt_log"]
    assert first["faults"]["malformed"]["kind"] == "truncated"
    assert_sent_as_received(first["request"], damaged)
    assert_sent_as_received(second["request"], whole)


def test_the_answer_is_kept_up_to_64_kib(server: ApiServer) -> None:
    big = ("0123456789abcdef" * 8192).encode()  # 128 KiB

    async def answer(_request: Request) -> Response:
        return Response(big, status_code=202, headers={"X-Receiver": "big"}, media_type="text/plain")

    app = Starlette(routes=[Route("/hook", answer, methods=["POST"])])
    with serve_app(app) as receiver, server.client() as api:
        api.post("/subscriptions", json={"url": f"{receiver.url}/hook"})
        api.post("/events", json={"type": "basistheory:token.created"})
        [delivery] = final(api)
    [attempt] = delivery["attempt_log"]
    assert attempt["status_code"] == 202
    assert attempt["response"] == big[: 64 * 1024].decode()
    assert attempt["response_headers"]["x-receiver"] == "big"
    assert attempt["response_headers"]["content-type"].startswith("text/plain")


def test_failures_say_what_kind_they_are(server: ApiServer, make_webhook_receiver: Callable[..., Receiver]) -> None:
    closed = f"http://127.0.0.1:{refused_port()}/hook"
    slow = make_webhook_receiver(delay=2.0)
    with server.client() as api:
        for url, timeout in ((closed, 5.0), (slow.url, 0.2)):
            api.post("/subscriptions", json={"url": url, "timeout": timeout, "retry": {"delays": []}})
        api.post("/events", json={"type": "basistheory:token.created"})
        deliveries = final(api, 2)
    kinds = {d["attempt_log"][0]["request"]["url"]: d["attempt_log"][0]["error_kind"] for d in deliveries}
    assert kinds == {closed: "refused", slow.url: "timeout"}
    assert all(d["status"] == "dead" and d["attempt_log"][0]["response_headers"] is None for d in deliveries)


def test_newest_first_and_searched_by_body_text(server: ApiServer, webhook_receiver: Receiver) -> None:
    with server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        for note in ("alpha-note", "beta_note", "gamma%note"):
            override = {"data.token.metadata.note": note}
            api.post("/events", json={"type": "basistheory:token.created", "overrides": override})
        oldest = [d["id"] for d in api.get("/deliveries").json()["data"]]
        newest = [d["id"] for d in api.get("/deliveries", params={"order": "newest"}).json()["data"]]
        assert newest == oldest[::-1] and len(newest) == 3
        page = api.get("/deliveries", params={"order": "newest", "limit": 2}).json()
        rest = api.get("/deliveries", params={"order": "newest", "cursor": page["next_cursor"]}).json()
        assert [d["id"] for d in page["data"] + rest["data"]] == newest and rest["next_cursor"] is None

        def found(text: str) -> list[str]:
            return [d["id"] for d in api.get("/deliveries", params={"q": text}).json()["data"]]

        assert found("ALPHA-NOTE") == [oldest[0]]  # ASCII letters in any case
        assert found("beta_") == [oldest[1]] and found("alpha_note") == []  # `_` is itself, not any character
        assert found("gamma%") == [oldest[2]] and found("%") == [oldest[2]]
        assert found("no such text") == []
        assert api.get("/deliveries", params={"q": ""}).status_code == 422


def test_a_store_from_before_is_upgraded(tmp_path: Path, webhook_receiver: Receiver) -> None:
    db = tmp_path / "dash.db"  # where start_server(tmp_path) keeps its store

    async def make_old_store() -> None:  # today's schema less what attempts and deliveries gained since
        store = await Store.open(str(db))
        await store.close()

    asyncio.run(make_old_store())
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX ix_deliveries_n")
        for column in ("request_url", "request_headers", "request_body", "response_headers", "response_encoding"):
            conn.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
        conn.execute(
            "INSERT INTO deliveries (id, n, subscription_id, event_keys, event_ids, type, status, attempts, retries,"
            " sim_offset, speed, next_attempt_at, created_at, last_status) VALUES ('msg_old', 1, 'sub_gone', '[]',"
            " '[]', 'token.created', 'succeeded', 1, 0, 0, 1, 0, 1700000000, 204)"
        )
        conn.execute(
            "INSERT INTO attempts (delivery_id, number, started_at, latency_ms, status_code, response)"
            " VALUES ('msg_old', 1, 1700000000, 12.5, 204, 'ok')"
        )
    srv = start_server(tmp_path)
    try:
        with srv.client() as api:
            old = api.get("/deliveries/msg_old").json()
            assert old["attempt_log"][0]["request"] is None and old["attempt_log"][0]["response"] == "ok"
            assert old["attempt_log"][0]["response_encoding"] == "utf-8"
            api.post("/subscriptions", json={"url": webhook_receiver.url})
            api.post("/events", json={"type": "basistheory:token.created"})
            [new, _old] = final(api, 2, order="newest")
        assert_sent_as_received(new["attempt_log"][0]["request"], webhook_receiver.requests[0])
    finally:
        srv.stop()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ix_deliveries_n'").fetchone()


def test_attempts_never_hold_the_secret(tmp_path: Path, webhook_receiver: Receiver) -> None:
    srv = start_server(tmp_path)
    try:
        with srv.client() as api:
            api.post(
                "/subscriptions", json={"url": webhook_receiver.url, "signing": "syncfy", "secret": SECRETS["syncfy"]}
            )
            api.post("/events", json={"type": "syncfy:credentials.created"})
            final(api)
    finally:
        srv.stop()
    with sqlite3.connect(tmp_path / "dash.db") as conn:
        rows = conn.execute(
            "SELECT request_url, request_headers, request_body, response_headers FROM attempts"
        ).fetchall()
    assert rows and all(SECRETS["syncfy"] not in repr(row) for row in rows)


def test_searched_by_text_as_it_reads_in_the_body(server: ApiServer, webhook_receiver: Receiver) -> None:
    """Bodies are kept as JSON text, where a `"` or `\\` in a string is escaped, and Syncfy's letters past ASCII
    are `\\u` escapes: a search for the text as the body reads found none of them. JSON as written (keys and
    quotes) is still found."""
    with server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        for note in ('say "hi"', "C:\\temp", "José"):
            override = {"data.token.metadata.note": note}
            assert api.post("/events", json={"type": "basistheory:token.created", "overrides": override}).is_success
        external = {"payload.id_external": 'Núñez "ho" D:\\tmp'}
        assert api.post("/events", json={"type": "syncfy:credentials.created", "overrides": external}).is_success
        made = [d["id"] for d in api.get("/deliveries").json()["data"]]
        assert len(made) == 4

        def found(text: str) -> list[str]:
            return [d["id"] for d in api.get("/deliveries", params={"q": text}).json()["data"]]

        assert [found('say "hi"'), found("C:\\temp"), found("José")] == [[made[0]], [made[1]], [made[2]]]
        assert found("Núñez") == found('"ho"') == found("D:\\tmp") == found('Núñez "ho" D:\\') == [made[3]]
        assert found('"note":"José"') == [made[2]]  # JSON as written
        assert found('"hi') == [made[0]] and found("\\t") == [made[1], made[3]]
