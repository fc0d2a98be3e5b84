"""A V1 webhook being changed is there throughout, on each store: while `PUT /v1/webhooks/{id}` is sent again and
again, or several at once, every read finds it (`GET /v1/webhooks/{id}` and the list) and every PUT answers 200."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from simulator.testing import WebhookSim
from tests.twins.syncfy_harness import KEY, envelope, twin_client

HOOK = {"url": "http://127.0.0.1:9/hooks", "events": ["refresh"]}  # nothing is delivered: no event is emitted


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    """A webhook's row is written by each backend's own writer."""
    return sim_on_each_store


@pytest.fixture
def webhook(sim: WebhookSim) -> Iterator[str]:
    with twin_client(sim.url) as syncfy:
        id_webhook = str(envelope(syncfy.post("/v1/webhooks", json=HOOK))["id_webhook"])
        yield id_webhook
        envelope(syncfy.delete(f"/v1/webhooks/{id_webhook}"))


def client(sim: WebhookSim) -> httpx.AsyncClient:
    headers = {"Authorization": f"api_key api_key={KEY}"}
    return httpx.AsyncClient(base_url=f"{sim.url}/syncfy", headers=headers, timeout=30)


def test_a_webhook_being_changed_is_found_by_every_read(sim: WebhookSim, webhook: str) -> None:
    path = f"/v1/webhooks/{webhook}"

    async def play() -> Counter[str]:
        seen: Counter[str] = Counter()
        async with client(sim) as writer, client(sim) as reader:

            async def change() -> None:
                for i in range(40):
                    seen[f"PUT {(await writer.put(path, json={'delay': i % 3})).status_code}"] += 1

            async def read() -> None:
                for _ in range(60):
                    seen[f"GET {(await reader.get(path)).status_code}"] += 1
                    listed = (await reader.get("/v1/webhooks")).json()["response"]
                    seen["listed" if webhook in [w["id_webhook"] for w in listed] else "not listed"] += 1

            await asyncio.gather(change(), read())
        return seen

    assert asyncio.run(play()) == {"PUT 200": 40, "GET 200": 60, "listed": 60}


def test_changes_sent_together_all_apply(sim: WebhookSim, webhook: str) -> None:
    path = f"/v1/webhooks/{webhook}"
    names = [["refresh"], ["credential_create"], ["credential_update"], ["documents"]]

    async def play() -> Counter[str]:
        seen: Counter[str] = Counter()
        async with client(sim) as syncfy:
            for _ in range(3):
                puts = [syncfy.put(path, json={"events": names[i % 4]}) for i in range(12)]
                gets = [syncfy.get(path) for _ in range(6)]
                for answer in await asyncio.gather(*puts, *gets):
                    seen[f"{answer.request.method} {answer.status_code}"] += 1
        return seen

    assert asyncio.run(play()) == {"PUT 200": 36, "GET 200": 18}
    with twin_client(sim.url) as syncfy:
        (shown,) = envelope(syncfy.get(path))
    assert shown["events"] in names and shown["dt_modified"] is not None
