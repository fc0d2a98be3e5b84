"""`deliveries --follow` and a delivery deleted while it is followed (a retention pass, a reset, between two looks):
it says so on stderr and follows on. It read the delivery by its id, had a 404, and exited 2 with it."""

from __future__ import annotations

import argparse

import httpx
import pytest

from simulator.cli import deliveries
from simulator.client import Client
from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer, eventually


def test_a_followed_delivery_deleted_between_two_looks_is_let_go(
    server: ApiServer, api: httpx.Client, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.respond(500)
    api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"], "retry": {"delays": [3600]}})
    [delivery] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "failed", what="waiting for a retry")
    shown = deliveries.Shown(argparse.Namespace(json=False, status=None))
    with Client(server.url) as client:
        cursor = deliveries._look(client, shown, {}, None)
        assert shown.active() == [delivery]  # under way: read by its id at each look
        assert api.post("/reset").status_code in (200, 202, 204)
        deliveries._look(client, shown, {}, cursor)  # its 404 is said, not raised
        assert shown.active() == []
    err = capsys.readouterr().err
    assert f"{delivery}: no longer in the store" in err
