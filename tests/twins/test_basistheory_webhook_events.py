"""A Basis Theory webhook's `events` are the event types its subscription delivers, whatever filters the control
API gave that subscription: a glob or a provider's `*` is shown as the types it selects, another provider's
types not at all, so what a client reads it can send back with `PUT /webhooks/{id}`."""

from __future__ import annotations

import fnmatch

import httpx
import pytest

from simulator.testing import WebhookSim
from tests.twins.test_api import subscription_of


@pytest.mark.parametrize(
    "filters,shown",
    [
        (["basistheory:token.*", "syncfy:credentials.created"], ["token.*"]),
        (["token-intent.converted", "basistheory:token.created"], ["token-intent.converted", "token.created"]),
    ],
)
def test_a_webhook_shows_the_types_its_subscription_delivers_and_takes_them_back(
    sim: WebhookSim, bt: httpx.Client, control: httpx.Client, filters: list[str], shown: list[str]
) -> None:
    # A glob stands for the documented types it selects, read from the twin's list of them (`token.*`: six of them).
    types = bt.get("/webhooks/event-types").json()
    shown = [t for pattern in shown for t in types if fnmatch.fnmatchcase(t, pattern)]
    assert len(shown) >= 2
    url = f"http://127.0.0.1:9/filters-{len(filters)}-{filters[0].replace(':', '-')}"
    hook = bt.post("/webhooks", json={"name": "filters", "url": url, "events": ["token.created"]})
    assert hook.status_code == 201, hook.text
    try:
        sub = subscription_of(sim, url)
        assert control.patch(f"/subscriptions/{sub['id']}", json={"events": filters}).status_code == 200
        read = bt.get(f"/webhooks/{hook.json()['id']}").json()
        assert read["events"] == shown
        assert [w["events"] for w in bt.get("/webhooks").json()["data"] if w["id"] == read["id"]] == [shown]
        again = {k: read[k] for k in ("name", "url", "notify_email", "events", "status")}
        put = bt.put(f"/webhooks/{read['id']}", json=again)
        assert put.status_code == 200 and put.json()["events"] == shown, put.text
    finally:
        bt.delete(f"/webhooks/{hook.json()['id']}")


def test_a_subscription_with_no_filter_shows_every_type(
    sim: WebhookSim, bt: httpx.Client, control: httpx.Client
) -> None:
    url = "http://127.0.0.1:9/no-filter"
    hook = bt.post("/webhooks", json={"name": "all", "url": url, "events": ["token.created"]}).json()
    try:
        sub = subscription_of(sim, url)
        assert control.patch(f"/subscriptions/{sub['id']}", json={"events": []}).status_code == 200
        assert bt.get(f"/webhooks/{hook['id']}").json()["events"] == bt.get("/webhooks/event-types").json()
    finally:
        bt.delete(f"/webhooks/{hook['id']}")
