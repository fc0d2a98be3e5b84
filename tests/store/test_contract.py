"""The store contract, on SQLite and on PostgreSQL alike: every test here runs against both backends (see the
`store_url` fixture), through the public Store and the writer's batched rows, as the engine uses them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulator.models import Subscription
from simulator.models.records import RetryPolicy
from simulator.store import Store
from simulator.store import tables as t
from simulator.store.writer import Op


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    yield opened
    await asyncio.wait_for(opened.close(), 30)


def _subscription(sub_id: str, **changes: Any) -> Subscription:
    values: dict[str, Any] = {
        "id": sub_id,
        "url": f"http://127.0.0.1:9/{sub_id}",
        "events": ("syncfy:*", "token.*"),
        "secret": "c2VjcmV0",
        "headers": {"X-One": "1", "X-Two": "ü"},
        "timeout": 2.5,
        "retry": RetryPolicy(delays=(1.0, 30.0), jitter=0.0),
        "max_in_flight": 4,
        "strict_order": True,
        "batch": 3,
        "faults": {"drop": 0.5},
        "created_at": 1_700_000_000.25,
    }
    values.update(changes)
    return Subscription(**values)


def _event(run_id: str, seq: int) -> dict[str, Any]:
    return {
        "key": f"{run_id}/{seq}",
        "id": f"evt_{run_id}_{seq}",
        "run_id": run_id,
        "seq": seq,
        "provider": "syncfy",
        "type": "credentials.created",
        "occurred_at": "2024-01-01T00:00:00.000Z",
        "envelope_id": None,
        "body": json.dumps({"id_credential": f"cred-{seq}", "note": "Ünïcode Needle"}),
    }


def _delivery(delivery_id: str, n: int, sub_id: str, run_id: str, keys: list[str]) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "n": n,
        "subscription_id": sub_id,
        "run_id": run_id,
        "event_keys": json.dumps(keys),
        "event_ids": json.dumps([f"evt_{k}" for k in keys]),
        "type": "credentials.created",
        "envelope_id": None,
        "status": "pending",
        "attempts": 0,
        "retries": 0,
        "sim_offset": 0.0,
        "speed": 1.0,
        "next_attempt_at": 1_700_000_000.5,
        "created_at": 1_700_000_000.5,
        "finished_at": None,
        "last_status": None,
        "last_error": None,
        "faults": None,
        "held_by": None,
        "listed": n,
    }


def _attempt(delivery_id: str, number: int, status_code: int | None, latency: float) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "number": number,
        "started_at": 1_700_000_001.0 + number,
        "latency_ms": latency,
        "status_code": status_code,
        "error": None if status_code else "connection refused",
        "response": "ok" if status_code else None,
        "response_encoding": None,
        "delivered_at": "2024-01-01T00:00:01.000Z",
        "faults": None,
        "request_url": "http://127.0.0.1:9/x",
        "request_headers": json.dumps({"webhook-id": delivery_id}),
        "request_body": b"\x00raw",
        "response_headers": json.dumps({"content-type": "text/plain"}),
    }


def _update(delivery_id: str, status: str, attempts: int, last_status: int | None) -> dict[str, Any]:
    return {
        "_id": delivery_id,
        "status": status,
        "attempts": attempts,
        "retries": attempts - 1 if status != "succeeded" else 0,
        "sim_offset": 0.0,
        "next_attempt_at": 1_700_000_100.0,
        "finished_at": 1_700_000_002.0 if status == "succeeded" else None,
        "last_status": last_status,
        "last_error": None,
        "faults": None,
        "held_by": None,
    }


async def _run_with_deliveries(store: Store, run_id: str = "run_1", sub_id: str = "sub_a") -> list[str]:
    """A run of three events, delivered to `sub_id` (the last two batched in one delivery)."""
    await store.put_run(run_id, scenario="demo", spec={"seed": 7}, status="running", events=3, created_at=1.5)
    events = tuple(_event(run_id, seq) for seq in (1, 2, 3))
    base = await store.max_delivery_n()
    deliveries = (
        _delivery(f"msg_{run_id}_1", base + 1, sub_id, run_id, [events[0]["key"]]),
        _delivery(f"msg_{run_id}_2", base + 2, sub_id, run_id, [events[1]["key"], events[2]["key"]]),
    )
    await store.write(Op(events=events, deliveries=deliveries))
    await store.writer.barrier()
    return [d["id"] for d in deliveries]


async def test_subscriptions_put_get_update_list_with_cursors_and_delete(store: Store):
    for sub_id in ("sub_c", "sub_a", "sub_b", "sub_d"):
        await store.put_subscription(_subscription(sub_id))
    assert await store.get_subscription("sub_a") == _subscription("sub_a")
    changed = _subscription("sub_a", url="http://127.0.0.1:9/new", retry=None, strict_order=False, signing="none")
    await store.put_subscription(changed)
    assert await store.get_subscription("sub_a") == changed
    first = await store.list_subscriptions(limit=2)
    assert [s.id for s in first] == ["sub_a", "sub_b"]
    rest = await store.list_subscriptions(limit=2, cursor=first[-1].id)
    assert [s.id for s in rest] == ["sub_c", "sub_d"]
    assert await store.list_subscriptions(limit=2, cursor="sub_d") == []
    store.save_subscription_state("sub_b", "disabled", 5)
    await store.delete_subscription("sub_c")
    await store.writer.barrier()
    sub_b = await store.get_subscription("sub_b")
    assert sub_b is not None and (sub_b.status, sub_b.consecutive_dead) == ("disabled", 5)
    assert await store.get_subscription("sub_c") is None


async def test_runs_are_inserted_updated_listed_and_counted(store: Store):
    await store.put_subscription(_subscription("sub_a"))
    ids = await _run_with_deliveries(store, "run_1")
    await store.put_run("run_2", scenario="other", spec={}, status="pending", created_at=2.0)
    await store.put_run("run_1", status="completed", finished_at=9.75)
    run = await store.get_run("run_1")
    assert run is not None and run.status == "completed" and run.finished_at == 9.75
    assert await store.delivery_counts("run_1") == {"pending": 2}
    assert [r.id for r in await store.list_runs(limit=1)] == ["run_1"]
    assert [r.id for r in await store.list_runs(limit=5, cursor="run_1")] == ["run_2"]
    assert await store.run_ids_of(ids) == {"run_1"}
    assert await store.count_run_events("run_1") == 3
    assert [e.seq for e in await store.run_events("run_1", limit=2, cursor=1)] == [2, 3]
    # An update of a run a reset deleted has nothing to update: it inserted the part it had, which failed the
    # row's constraints (a failed write and a traceback for every run started as a reset ran).
    await store.put_run("run_gone", status="running", started_at=3.0)
    assert await store.get_run("run_gone") is None


async def test_deliveries_with_their_events_attempts_and_status_updates(store: Store):
    await store.put_subscription(_subscription("sub_a"))
    first, second = await _run_with_deliveries(store)
    assert await store.max_delivery_n() == 2
    assert await store.active_subscription_ids() == ["sub_a"]
    page = await store.outbox_page("sub_a", 0, 10)
    assert [(row.id, [e.seq for e in events]) for row, events in page] == [(first, [1]), (second, [2, 3])]
    await store.write(Op(attempts=(_attempt(first, 1, None, 12.5),), updates=(_update(first, "failed", 1, None),)))
    await store.write(Op(attempts=(_attempt(first, 2, 204, 3.25),), updates=(_update(first, "succeeded", 2, 204),)))
    await store.writer.barrier()
    delivery = await store.get_delivery(first)
    assert delivery is not None
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("succeeded", 2, 204)
    assert [(a.number, a.status_code, a.latency_ms) for a in delivery.attempt_log] == [(1, None, 12.5), (2, 204, 3.25)]
    assert [a.number for a in await store.attempts(first)] == [1, 2]
    assert await store.run_attempt_stats("run_1") == (2, [3.25])
    assert await store.delivery_counts(subscription_id="sub_a") == {"succeeded": 1, "pending": 1}
    listed = await store.list_deliveries(run_id="run_1", newest_first=True)
    assert [(n, d.id) for n, d in listed] == [(2, second), (1, first)]
    assert dict((d.id, d.last_latency_ms) for _, d in listed) == {second: None, first: 3.25}
    # When it was first sent: its first attempt's start, listed and read alike.
    assert dict((d.id, d.first_attempt_at) for _, d in listed) == {second: None, first: 1_700_000_002.0}
    assert delivery.first_attempt_at == 1_700_000_002.0
    assert [d.id for _, d in await store.list_deliveries(status="pending")] == [second]
    assert [d.id for _, d in await store.list_deliveries(cursor=1, limit=5)] == [second]


async def test_deliveries_are_found_by_text_in_their_events_bodies_in_any_ascii_case(store: Store):
    await store.put_subscription(_subscription("sub_a"))
    first, second = await _run_with_deliveries(store)
    found = await store.list_deliveries(text="cred-3")
    assert [d.id for _, d in found] == [second]
    assert {d.id for _, d in await store.list_deliveries(text="needle")} == {first, second}
    assert await store.list_deliveries(text="needle_%") == []  # LIKE's wildcards are literal


async def test_a_permanent_failure_fails_only_its_own_change(store: Store):
    await store.put_subscription(_subscription("sub_a"))
    await store.put_run("run_x", scenario="demo", spec={}, status="running", created_at=1.0)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await store.writer.submit(
            lambda conn: conn.execute(
                t.runs.insert().values(id="run_x", scenario="d", spec="{}", status="s", created_at=1)
            )
        )
    assert (await store.get_run("run_x")) is not None
    assert await store.get_subscription("sub_a") is not None


async def test_settings_and_reset(store: Store):
    await store.set_setting("k", "one")
    await store.set_setting("k", "two")
    assert await store.get_setting("k") == "two"
    assert await store.get_setting("absent") is None
    await store.put_subscription(_subscription("sub_a"))
    await _run_with_deliveries(store)
    await store.reset()
    assert await store.list_subscriptions() == []
    assert await store.list_runs() == []
    assert await store.list_deliveries() == []
    assert await store.get_setting("k") == "two"  # settings outlive a reset


async def test_a_store_keeps_its_rows_across_a_reopen(store_url: str):
    first = await Store.open(store_url)
    try:
        await first.put_subscription(_subscription("sub_a"))
    finally:
        await first.close()
    again = await Store.open(store_url)
    try:
        assert await again.get_subscription("sub_a") == _subscription("sub_a")
    finally:
        await again.close()


async def test_the_writer_takes_a_few_thousand_rows_in_batches(store: Store):
    await store.put_subscription(_subscription("sub_a"))
    await store.put_run("run_big", scenario="demo", spec={}, status="running", created_at=1.0)
    started = time.perf_counter()
    for chunk in range(10):
        events = tuple(_event("run_big", chunk * 300 + i) for i in range(300))
        deliveries = tuple(
            _delivery(f"m{chunk}_{i}", chunk * 300 + i + 1, "sub_a", "run_big", [e["key"]])
            for i, e in enumerate(events)
        )
        await store.write(Op(events=events, deliveries=deliveries))
    await store.writer.barrier()
    assert await store.count_run_events("run_big") == 3000
    assert await store.delivery_counts("run_big") == {"pending": 3000}
    assert time.perf_counter() - started < 60
