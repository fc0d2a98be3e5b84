"""GET /stream over real HTTP: the opening `ready`, deliveries as they change (filtered, and those that leave the
filter), runs, a reset; a plain GET that ends at once; the bearer token."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer, problem
from tests.dashboard.conftest import TOKEN, start_server
from tests.dashboard.sse import Stream


def test_a_plain_get_gets_the_ready_event_and_ends(server: ApiServer) -> None:
    with server.client() as api:
        response = api.get("/stream", params={"status": "dead"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.text == 'event: ready\ndata: {"filters":{"status":"dead"}}\n\n'


def test_deliveries_arrive_as_they_change(server: ApiServer, webhook_receiver: Receiver) -> None:
    with server.client() as api, Stream(server.url) as stream:
        stream.next("ready")
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        [delivery_id] = api.post("/events", json={"type": "basistheory:token.created"}).json()["deliveries"]
        final = stream.next("deliveries", lambda m: any(d["status"] == "succeeded" for d in m["data"]))
        [delivery] = final["data"]
        assert delivery == api.get("/deliveries").json()["data"][0]  # the same object as the list's
        assert delivery["id"] == delivery_id and delivery["last_status"] == 204
        assert final["left"] == []


def test_a_filtered_stream_names_what_leaves_the_filter(
    server: ApiServer, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    # Pending for as long as the answer takes: long enough that a loaded machine's stream reads the delivery
    # while it is still pending (it gathers for 0.1 s, then reads the rows as they are by then).
    slow = make_webhook_receiver(delay=2.0)
    with server.client() as api, Stream(server.url, {"status": "pending"}) as stream:
        stream.next("ready")
        api.post("/subscriptions", json={"url": slow.url})
        [delivery_id] = api.post("/events", json={"type": "basistheory:token.created"}).json()["deliveries"]
        pending = stream.next("deliveries", lambda m: m["data"])
        assert [(d["id"], d["status"]) for d in pending["data"]] == [(delivery_id, "pending")]
        left = stream.next("deliveries", lambda m: m["left"])
        assert left == {"data": [], "left": [delivery_id]}


def test_runs_and_resets_are_announced(server: ApiServer, webhook_receiver: Receiver) -> None:
    with server.client() as api, Stream(server.url) as stream:
        stream.next("ready")
        run = api.post("/runs", json={"scenario": "dash-slow", "target": webhook_receiver.url}).json()
        stream.next("runs", lambda m: run["id"] in m["ids"])
        api.post("/reset")
        assert stream.next("reload") == {"reason": "reset"}


def test_the_stream_needs_the_token(tmp_path) -> None:
    srv = start_server(tmp_path, TOKEN)
    try:
        problem(httpx.get(f"{srv.url}/stream", headers={"Accept": "text/event-stream"}), 401)
        with Stream(srv.url, token=TOKEN) as stream:
            assert stream.next("ready") == {"filters": {}}
    finally:
        srv.stop()


def test_bad_filters_are_refused(server: ApiServer) -> None:
    with server.client() as api:
        problem(api.get("/stream", params={"status": "lost"}), 422, "status")
        problem(api.get("/stream", params={"type": "no.such.type"}), 422, "type")
        problem(api.get("/stream", params={"colour": "blue"}), 422, "colour")
