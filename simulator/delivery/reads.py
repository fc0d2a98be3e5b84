"""What a lane reads back from the outbox, as jobs: the next page after its position, and on a shared store what
other processes numbered behind it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from simulator.delivery.batches import Batches
from simulator.delivery.hooks import FaultHooks
from simulator.delivery.job import Job, event_from_row, job_from_row
from simulator.store import ACTIVE, Store


async def page(store: Store, batches: Batches, faults: FaultHooks, sub_id: str, after_n: int, limit: int) -> list[Job]:
    """The subscription's next `limit` active deliveries after position `after_n`."""
    # A batch's row as it stood while open (its position then) is partial, however the batch has moved on
    # during the read: it is sent once whole, at the new position closing gives it.
    seen = dict(batches.open_at)
    rows = await store.outbox_page(sub_id, after_n, limit)
    return faults.on_loaded(sub_id, _jobs(rows, batches, seen))  # never what a fault still holds back


async def behind(
    store: Store, batches: Batches, faults: FaultHooks, sub_id: str, upto_n: int, held: Callable[[], set[str]]
) -> list[Job]:
    """The active deliveries at or before `upto_n` that are not in `held` (asked again once the rows are read):
    on a shared store, those other processes numbered behind what the lane has read."""
    found = await store.outbox_ids_behind(sub_id, upto_n)
    holding = held()
    ids = [i for i in found if i not in holding]
    if not ids:
        return []
    seen = dict(batches.open_at)
    rows = sorted(await store.outbox_rows(ids), key=lambda r: r[0].n)
    left = held()
    free = [(r, e) for r, e in rows if r.status in ACTIVE and r.held_by is None and r.id not in left]
    return faults.on_loaded(sub_id, _jobs(free, batches, seen))


def _jobs(rows: Sequence[tuple[Any, list[Any]]], batches: Batches, seen: dict[str, int]) -> list[Job]:
    return [
        job_from_row(row, [event_from_row(e) for e in events])
        for row, events in rows
        if not batches.partial(row.id, row.n, seen)
    ]
