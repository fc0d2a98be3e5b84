"""A subscription named twice in a request (`"subscriptions": [a, a]`) still gets each event once: it got every
event twice, under two message ids, and a Syncfy batch carried the same event twice in one body."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, serving_api


def test_an_event_named_to_one_subscription_twice_goes_once(tmp_path: Path) -> None:
    with Receiver() as receiver, serving_api(tmp_path) as server, server.client() as api:
        sub = api.post("/subscriptions", json={"url": receiver.url, "signing": "none"}).json()
        response = api.post("/events", json={"type": "token.created", "subscriptions": [sub["id"], sub["id"]]})
        assert response.status_code == 202, response.text
        assert len(response.json()["deliveries"]) == 1
        eventually(lambda: receiver.requests, what="the delivery")
        listed = api.get("/deliveries", params={"subscription": sub["id"]}).json()["data"]
        assert [d["event_ids"] for d in listed] == [[response.json()["id"]]]


def test_a_disabled_subscription_named_twice_is_said_skipped_once(tmp_path: Path) -> None:
    with serving_api(tmp_path) as server, server.client() as api:
        sub = api.post("/subscriptions", json={"url": "http://127.0.0.1:9/x", "enabled": False}).json()
        response = api.post("/events", json={"type": "token.created", "subscriptions": [sub["id"], sub["id"]]})
        assert response.status_code == 202, response.text
        assert [s["subscription"] for s in response.json()["skipped"]] == [sub["id"]]
        assert response.json()["deliveries"] == []


def test_a_run_naming_a_syncfy_batch_twice_sends_each_event_once(tmp_path: Path) -> None:
    with Receiver() as receiver, serving_api(tmp_path) as server, server.client() as api:
        sub = api.post("/subscriptions", json={"url": receiver.url, "batch": 5}).json()
        spec = {"scenario": "api-one-event", "speed": 0, "seed": 1, "subscriptions": [sub["id"], sub["id"]]}
        run = api.post("/runs", json=spec).json()
        eventually(lambda: api.get(f"/runs/{run['id']}").json()["status"] == "completed", what="the run's end")
        eventually(lambda: receiver.requests, what="the batch")
        (received,) = receiver.requests
        eids = [e["header"]["event"]["eid"] for e in json.loads(received.body)["events"]]
        assert Counter(eids) == {eids[0]: 1}
        assert len(api.get("/deliveries", params={"run": run["id"]}).json()["data"]) == 1
