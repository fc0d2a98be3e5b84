"""Watching deliveries change, for the control API's event stream (`GET /stream`) and so the dashboard.

The store tells a watch which deliveries each commit touched; the watch gathers them and, when asked, reads those
that match its filters in one query per 500. A burst of thousands of changes is one read, and past `MAX_PENDING`
changed deliveries the watch stops listing them and says so (`overflow`): reading the list again is cheaper.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from simulator.models import Delivery
from simulator.store import Store
from simulator.store.writer import Committed
from simulator.waiting import set_within

MAX_PENDING = 1000


@dataclass(frozen=True)
class Filters:
    """Which deliveries a watch reports (the filters of GET /deliveries; `type` is the stored, bare name)."""

    run_id: str | None = None
    subscription_id: str | None = None
    status: str | None = None
    type: str | None = None
    text: str | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.run_id, self.subscription_id, self.status, self.type, self.text))


@dataclass(frozen=True)
class Change:
    """What changed since the last `Change`."""

    deliveries: list[Delivery] = field(default_factory=list)  # changed and matching the filters, newest first
    left: list[str] = field(default_factory=list)  # changed and not matching (any more): drop them if shown
    runs: list[str] = field(default_factory=list)  # runs whose deliveries changed
    other: bool = False  # something besides deliveries changed (runs, subscriptions, schedules…)
    overflow: bool = False  # too many deliveries changed to list: read the list again
    reset: bool = False  # everything was deleted


class DeliveryWatch:
    """Use as a context manager: it listens to the store while open."""

    def __init__(self, store: Store, filters: Filters) -> None:
        self._store = store
        self._filters = filters
        self._ids: set[str] = set()
        self._other = self._overflow = self._reset = False
        self._changed = asyncio.Event()
        self._stop: Callable[[], None] | None = None

    def __enter__(self) -> DeliveryWatch:
        self._stop = self._store.watch(self._committed)
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def _committed(self, change: Committed) -> None:
        if change.reset:
            self._reset, self._ids = True, set()
        elif not self._overflow:
            self._ids |= change.deliveries
            if len(self._ids) > MAX_PENDING:
                self._overflow, self._ids = True, set()
        self._other |= change.other
        if change.deliveries or change.other or change.reset:
            self._changed.set()

    async def wait(self, timeout: float) -> bool:
        """Wait until something changed (True) or `timeout` seconds passed (False)."""
        return await set_within(self._changed, timeout)

    async def take(self) -> Change:
        """What changed since the last call, read from the store now."""
        ids, other, overflow, reset = self._ids, self._other, self._overflow, self._reset
        self._ids, self._other, self._overflow, self._reset = set(), False, False, False
        self._changed.clear()
        if reset or overflow:
            return Change(other=other, overflow=overflow, reset=reset)
        if not ids:
            return Change(other=other)
        matching = await self._matching(sorted(ids))
        found = {d.id for d in matching}
        # Not matching the filters any more, or (without filters) gone: a retention pass deleted them.
        left = sorted(ids - found)
        runs = sorted(await self._store.run_ids_of(sorted(ids)))
        return Change(matching, left, runs, other)

    async def _matching(self, ids: list[str]) -> list[Delivery]:
        f = self._filters
        out: list[tuple[int, Delivery]] = []
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            found = await self._store.list_deliveries(
                run_id=f.run_id,
                subscription_id=f.subscription_id,
                status=f.status,
                type=f.type,
                text=f.text,
                ids=ids[i : i + 500],
                newest_first=True,
            )
            out.extend(found)
        # Newest first across the chunks too, by the position `GET /deliveries?order=newest` sorts by: deliveries
        # written together share their `created_at` to the millisecond.
        out.sort(key=lambda found: found[0], reverse=True)
        return [d for _, d in out]
