"""At speed 0 a run stores its events long before its receiver has them; a consumer that calls the twin back while
it handles a delivery still sees each object as that event tells it, not as the run's end does. The receiver here
is a consumer: for each delivery it reads every object the event names from the twin, then answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from simulator.providers.syncfy._values import TWOFA_SITES
from simulator.testing import WebhookSim
from tests.twins.conftest import KEY
from tests.twins.expect import agrees, at, named
from tests.twins.syncfy_harness import KEY as SYNCFY_KEY
from tests.twins.syncfy_harness import pull_to_its_end, run_events

Seen = list[tuple[dict[str, Any], Any]]  # (the event, what the twin answered while its delivery was handled)


@contextmanager
def receiving(handle: Callable[[bytes], None]) -> Iterator[str]:
    """A receiver on 127.0.0.1 that calls `handle(body)` for each delivery, then answers 200; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            handle(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def calling_back(look: Callable[[dict[str, Any]], Any]) -> Iterator[tuple[str, Seen]]:
    """A receiver that, for each delivery, records `look(body)` before it answers."""
    seen: Seen = []

    def handle(raw: bytes) -> None:
        body = json.loads(raw)
        seen.append((body, look(body)))

    with receiving(handle) as url:
        yield url, seen


@pytest.mark.parametrize("faults", [None, {"drop": 0.5}], ids=["all-sent", "half-dropped"])
def test_a_basis_theory_consumer_sees_each_object_as_the_event_it_handles(
    sim: WebhookSim, faults: dict[str, Any] | None
) -> None:
    """A dropped event happens when its lane would have sent it: after the one before it was answered."""
    with httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=10.0) as bt:

        def look(body: dict[str, Any]) -> list[tuple[Any, httpx.Response]]:
            return [(obj, bt.get(obj.path)) for obj in named(body["event"])]

        with calling_back(look) as (url, seen):
            handle = sim.run("basistheory-token-lifecycle", seed=11, speed=0, target=url, faults=faults)
            assert handle.wait(timeout=60).status == "completed"
            types = [body["event"]["type"] for body, _ in seen]
            assert types and (faults or types[-1] in ("token.expired", "token.deleted")), types
            each_as_told(seen)


def each_as_told(seen: Seen) -> int:
    """Check that every object each Basis Theory event named was answered as the event told it (gone where the
    event ends it); returns the number of fields compared."""
    checked = 0
    for body, answers in seen:
        event = body["event"]
        for obj, response in answers:
            if obj.ends:
                assert response.status_code == 404, (event["type"], response.text)
                continue
            assert response.status_code == 200, (event["type"], obj.path, response.text)
            for path, value in obj.fields.items():
                assert agrees(path, at(response.json(), path), value), (event["type"], path, response.json())
                checked += 1
    return checked


def test_a_syncfy_consumer_sees_each_credential_as_the_event_it_handles(sim: WebhookSim) -> None:
    auth = {"Authorization": f"api_key api_key={SYNCFY_KEY}"}
    with httpx.Client(base_url=f"{sim.url}/syncfy", headers=auth, timeout=10.0) as syncfy:

        def look(body: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
            out = []
            for event in body["events"]:
                path = event["payload"]["endpoints"]["credential"][0]
                out.append((event, syncfy.get(path).json()["response"]))
            return out

        with calling_back(look) as (url, seen):
            handle = sim.run("syncfy-two-factor", seed=7, speed=0, target=url)
            assert handle.wait(timeout=60).status == "completed"
            answers = [answer for _, batch in seen for answer in batch]
            assert {event["payload"].get("is_executing") for event, _ in answers} >= {0, 1}
            for event, credential in answers:
                payload, header = event["payload"], event["header"]["event"]
                shown = credential[0] if isinstance(credential, list) else credential
                # Syncfy's job codes: 1xx while the job runs and 410 while it waits for a second factor, 2xx and
                # up once it ended (PROVIDERS.md: is_executing is 1 while the extraction job runs).
                if header["name"] != "credentials.refreshed":
                    running = shown["code"] < 200 or shown["code"] == 410
                    assert running is bool(payload["is_executing"]), (header, payload, shown)
                at = datetime.strptime(header["at"], "%Y-%m-%d %H:%M:%S.%f%z").timestamp()
                assert shown["dt_refresh"] is None or shown["dt_refresh"] <= at, (header, shown)


@contextmanager
def slow_receiver(seconds: float) -> Iterator[str]:
    """A receiver that takes `seconds` over each delivery: a run at speed 0 to it is held back for long."""
    gone = threading.Event()
    with receiving(lambda _body: gone.wait(seconds) and None) as url:
        try:
            yield url
        finally:
            gone.set()


def test_what_other_sources_make_shows_at_once_beside_a_run_held_back(sim: WebhookSim) -> None:
    """Only a held run's own events wait: an ad-hoc event, and the twin's own objects, show as they are stored;
    a token the twin deleted stays deleted."""
    with (
        httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=10.0) as bt,
        slow_receiver(1.0) as url,
    ):
        handle = sim.run("basistheory-chaos", seed=22, speed=0, target=url)
        try:
            emitted = sim.emit("basistheory:token.created").body  # no subscription takes it: shown as stored
            token = emitted["data"]["token"]["id"]
            assert bt.get(f"/tokens/{token}").status_code == 200
            made = bt.post("/tokens", json={"type": "token", "data": "hello"})
            assert made.status_code == 201, made.text
            own = made.json()["id"]
            assert bt.get(f"/tokens/{own}").status_code == 200
            assert bt.delete(f"/tokens/{own}").status_code == 204
            for _ in range(5):  # read again and again while the run's events are still held back
                assert bt.get(f"/tokens/{own}").status_code == 404
            assert handle.get().status == "running"  # the twin was read while the run was held back
        finally:
            sim.client.cancel_run(handle.id)


def test_with_several_in_flight_and_events_dropped_what_a_delivery_names_is_there(sim: WebhookSim) -> None:
    """Three in flight: an event the drop fault took waited for the event before it to be answered, and held back
    the run's next events with it, the one being delivered included (its documents answered 404)."""
    auth = {"Authorization": f"api_key api_key={SYNCFY_KEY}"}
    with httpx.Client(base_url=f"{sim.url}/syncfy", headers=auth, timeout=10.0) as syncfy:

        def look(body: dict[str, Any]) -> list[tuple[str, int]]:
            urls = []
            for event in body["events"]:
                endpoints = event["payload"]["endpoints"]  # documents events list them; the others group them
                named = endpoints if isinstance(endpoints, list) else [u for us in endpoints.values() for u in us]
                urls.extend(named)
            return [(url, syncfy.get(url).status_code) for url in urls]

        with calling_back(look) as (url, seen):
            handle = sim.run(
                "syncfy-credential-lifecycle",
                seed=4,
                speed=0,
                target=url,
                params={"refreshes": 3},
                faults={"drop": 0.5},
                max_in_flight=3,
            )
            assert handle.wait(timeout=60).status == "completed"
            answers = [answer for _, batch in seen for answer in batch]
            assert any("documents" in url for url, _ in answers), answers  # the case that went wrong is played
            assert [answer for answer in answers if answer[1] != 200] == []


def test_a_job_the_twin_starts_on_a_runs_credential_is_its_latest_state(sim: WebhookSim) -> None:
    """A run at speed 0 stamps its events on its own timeline, hours ahead; a pull asked after it ends is later
    still, though stamped now. The credential is its events folded in the order they happened: its state was the
    run's last refresh whatever the pull did (a consumer handling the pull's webhook read a finished job)."""
    auth = {"Authorization": f"api_key api_key={SYNCFY_KEY}"}
    with httpx.Client(base_url=f"{sim.url}/syncfy", headers=auth, timeout=10.0) as syncfy:
        handle = sim.run("syncfy-two-factor", seed=31, speed=0, target="http://127.0.0.1:9/")
        assert handle.wait(timeout=60).status in ("completed", "failed")  # every delivery refused: all stored
        with httpx.Client(base_url=sim.url, timeout=10.0) as control:
            (first, *_) = run_events(control, handle.id)
            path = f"/v1/credentials/{first['body']['payload']['id_credential']}"
            before = syncfy.get(path).json()["response"][0]
            assert before["dt_execute"] > time.time() + 3600, before  # the run's last refresh, hours ahead

            after = pull_to_its_end(control, syncfy, path)
        if after["id_site"] in TWOFA_SITES:
            assert after["code"] == 410, after  # the pull's job waits for its token, not the run's refresh
        else:
            assert after["dt_execute"] <= time.time() + 60, after  # the pull's, not the run's hours ahead
