"""A V1 webhook's `events` are its subscription's filters after `PUT /v1/webhooks/{id}`s that overlap, on each
store: what `GET /v1/webhooks/{id}` shows is what the webhook is sent."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import pytest

from simulator.core.syncfy_admin import Accounts
from simulator.providers.syncfy import api
from simulator.store.syncfy_twin import SyncfyTwinStore
from simulator.testing import WebhookSim
from tests.twins.syncfy_harness import KEY, envelope, twin_client


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    """A change is held across processes on PostgreSQL, within the server on SQLite."""
    return sim_on_each_store


@pytest.fixture
def webhook(sim: WebhookSim) -> Iterator[tuple[str, str]]:
    """A webhook to a URL of its own (nothing is delivered: no event is emitted): its id and its subscription's."""
    url = f"http://127.0.0.1:9/hooks/{uuid.uuid4().hex}"
    with twin_client(sim.url) as syncfy, httpx.Client(base_url=sim.url, timeout=30) as control:
        id_webhook = str(envelope(syncfy.post("/v1/webhooks", json={"url": url, "events": ["refresh"]}))["id_webhook"])
        (sub,) = [s for s in control.get("/subscriptions").json()["data"] if s["url"] == url]
        yield id_webhook, sub["id"]
        envelope(syncfy.delete(f"/v1/webhooks/{id_webhook}"))


def test_a_put_sent_while_another_is_under_way_keeps_events_and_filters_alike(
    sim: WebhookSim, webhook: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first PUT is held once it has changed the subscription, before it writes the webhook's row; a second
    PUT is sent meanwhile. The second changed the subscription and the row in between, the first then wrote its
    `events` over the row: the webhook showed one list of events and was sent another's. The first is let go once
    the second has ended or waits for the webhook's lock (taken while another holds it)."""
    id_webhook, sub_id = webhook
    path = f"/v1/webhooks/{id_webhook}"
    entered, release = threading.Event(), threading.Event()
    real = SyncfyTwinStore.update_webhook

    async def held(tables: SyncfyTwinStore, id_webhook: str, values: dict[str, Any]) -> bool:
        if not entered.is_set():
            entered.set()
            await asyncio.to_thread(release.wait, 30)
        return await real(tables, id_webhook, values)

    monkeypatch.setattr(SyncfyTwinStore, "update_webhook", held)
    waiting = threading.Event()

    class Watched(asyncio.Lock):
        async def acquire(self) -> Literal[True]:
            if self.locked():
                waiting.set()
            return await super().acquire()

    real_editing = Accounts._editing

    def editing(accounts: Accounts, id_webhook: str) -> Any:
        if not isinstance(accounts._webhook_edits, Watched):
            monkeypatch.setattr(accounts, "_webhook_edits", Watched())
        return real_editing(accounts, id_webhook)

    monkeypatch.setattr(Accounts, "_editing", editing)
    headers = {"Authorization": f"api_key api_key={KEY}"}

    async def play() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=f"{sim.url}/syncfy", headers=headers, timeout=30) as syncfy:
            first = asyncio.ensure_future(syncfy.put(path, json={"events": ["credential_create"]}))
            try:
                assert await asyncio.to_thread(entered.wait, 10), "the first PUT never wrote the webhook's row"
                second = asyncio.ensure_future(syncfy.put(path, json={"events": ["documents"]}))
                # The second either ends while the first is held, or waits for the first to end.
                for _ in range(1000):
                    if second.done() or waiting.is_set():
                        break
                    await asyncio.sleep(0.01)
                assert second.done() or waiting.is_set(), "the second PUT neither ended nor waited for the first"
            finally:
                release.set()
            return list(await asyncio.gather(first, second))

    assert [answer.status_code for answer in asyncio.run(play())] == [200, 200]
    with twin_client(sim.url) as syncfy, httpx.Client(base_url=sim.url, timeout=30) as control:
        (shown,) = envelope(syncfy.get(path))
        filters = control.get(f"/subscriptions/{sub_id}").json()["events"]
    assert api.v3_filters(shown["events"]) == filters
