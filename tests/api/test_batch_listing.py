"""A Syncfy batch in `GET /deliveries`: listed where it was made, before and after its batch closes, and found by
the type of any event it carries."""

from __future__ import annotations

import httpx

from simulator.models import answers as schemas
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, ok


def _page(api: httpx.Client, **params: object) -> tuple[list[str], str | None]:
    page = ok(api.get("/deliveries", params=params), schemas.DeliveryPage)
    return [d["id"] for d in page["data"]], page["next_cursor"]


def _emit(api: httpx.Client, etype: str, sub_id: str) -> str:
    emitted = ok(api.post("/events", json={"type": etype, "subscriptions": [sub_id]}), schemas.EmittedEvent, 202)
    [delivery_id] = emitted["deliveries"]
    return delivery_id


def test_a_batch_keeps_its_place_in_the_list_when_it_closes(api: httpx.Client, receiver: Receiver) -> None:
    subscribe = {"url": receiver.url, "events": ["syncfy:*"], "batch": 5}
    batched = ok(api.post("/subscriptions", json=subscribe), schemas.Subscription, 201)
    plain = ok(api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"]}), schemas.Subscription, 201)
    batch = _emit(api, "syncfy:credentials.created", batched["id"])
    assert _emit(api, "syncfy:credentials.updated", batched["id"]) == batch  # the open batch carries both
    later = _emit(api, "token.created", plain["id"])
    # Walks begun while the batch is open: newest first, and oldest first, a delivery a page.
    newest, newest_cursor = _page(api, order="newest", limit=1)
    oldest, oldest_cursor = _page(api, limit=1)
    assert (newest, oldest) == ([later], [batch])
    assert ok(api.get(f"/deliveries/{batch}"), schemas.DeliveryDetail)["status"] == "pending"
    # The batch closes (a batch outside a run is held for a second at most) and is sent.
    eventually(lambda: api.get(f"/deliveries/{batch}").json()["status"] == "succeeded", what="the batch sent")
    # The walks go on: each sees each delivery once. Renumbered as it closed, the batch was missed newest first
    # and seen twice oldest first.
    assert _page(api, order="newest", cursor=newest_cursor) == ([batch], None)
    assert _page(api, cursor=oldest_cursor) == ([later], None)
    assert _page(api) == ([batch, later], None)
    # Found by either of its events' types, not only its first's.
    assert _page(api, type="syncfy:credentials.updated") == ([batch], None)
    assert _page(api, type="syncfy:credentials.created") == ([batch], None)
    assert _page(api, type="syncfy:credentials.refreshed") == ([], None)
    [sent] = [r.json() for r in receiver.wait_for(2) if "events" in r.json()]  # Syncfy's envelope
    assert [e["header"]["event"]["name"] for e in sent["events"]] == ["credentials.created", "credentials.updated"]
