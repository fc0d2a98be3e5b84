"""A run's records as its readers and its next player read them: its events in order, and its attempts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from simulator.store import tables as t


class RunReads:
    """The store's reads of a run's records (a mixin: the store provides `_all`)."""

    async def _all(self, stmt: Any) -> Sequence[Any]:
        raise NotImplementedError

    async def run_events(self, run_id: str, limit: int | None = None, cursor: int | None = None) -> list[Any]:
        stmt = select(t.events).where(t.events.c.run_id == run_id).order_by(t.events.c.seq)
        if cursor is not None:
            stmt = stmt.where(t.events.c.seq > cursor)
        if limit:
            stmt = stmt.limit(limit)
        return list(await self._all(stmt))

    async def run_event(self, run_id: str, seq: int) -> Any | None:
        """A run's event row by its place in the run (its key, `<run id>/<seq>`), or None."""
        rows = await self._all(select(t.events).where(t.events.c.key == f"{run_id}/{seq}"))
        return rows[0] if rows else None

    async def run_placements(self, run_id: str) -> dict[tuple[str, str, int], int]:
        """How many of a run's deliveries the `reorder` and `burst` faults placed, by (fault, subscription, size):
        where a resumed run's windows and groups go on (see `faults_hold.Holds.resume`)."""
        d = t.deliveries.c
        stmt = select(d.subscription_id, d.faults).where(
            d.run_id == run_id, d.faults.like('%"reorder"%') | d.faults.like('%"burst"%')
        )
        counts: dict[tuple[str, str, int], int] = {}
        for sub_id, text in await self._all(stmt):
            record = json.loads(text)
            if not isinstance(record, dict):
                continue
            for kind, size_key in (("reorder", "window"), ("burst", "size")):
                placed = record.get(kind)
                if isinstance(placed, dict) and isinstance(size := placed.get(size_key), int):
                    counts[(kind, sub_id, size)] = counts.get((kind, sub_id, size), 0) + 1
        return counts

    async def count_run_events(self, run_id: str) -> int:
        """How many events of `run_id` are stored."""
        rows = await self._all(select(func.count()).select_from(t.events).where(t.events.c.run_id == run_id))
        return int(rows[0][0])

    async def run_attempt_stats(self, run_id: str) -> tuple[int, list[float]]:
        """How many attempts a run's deliveries made, and the latencies (ms) of those that got an answer."""
        a, d = t.attempts.c, t.deliveries.c
        stmt = (
            select(a.latency_ms, a.status_code)
            .select_from(t.attempts.join(t.deliveries, a.delivery_id == d.id))
            .where(d.run_id == run_id)
        )
        rows = await self._all(stmt)
        return len(rows), sorted(r.latency_ms for r in rows if r.status_code is not None)
