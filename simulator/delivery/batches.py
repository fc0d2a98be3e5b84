"""Syncfy batches while they collect events.

An open batch is a delivery row from its first event on, rewritten as each event joins, so a process that dies
before sending it loses nothing: the next start finds a pending delivery carrying what had been collected and
sends it. While open, the engine keeps lanes from reading it back (it is not complete yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulator.delivery.job import Job
from simulator.ids import derived_uuid4
from simulator.models import Event, Subscription

BatchKey = tuple[str, str | None]  # (subscription id, run id)


@dataclass(slots=True)
class OpenBatch:
    job: Job
    keys: list[str]  # the events' store keys, in order
    sub: Subscription
    speed: float
    faults: Mapping[str, Any] | None
    seed: int | None
    due: float = 0.0  # when its latest event is due: a run makes events ahead of time, and a batch is not sent early


def envelope_of(events: list[Event]) -> str:
    """One event keeps its own envelope id; a batch's is fixed by its events."""
    if len(events) == 1:
        return events[0].envelope_id or events[0].id
    # Not by the subscription: its id is the server's own, new on every server, so a replay of the run (same seed
    # and start time, hence the same event ids) sent other `rid`s. A run's event ids are its own already; one
    # event's `rid` is the same for every subscription too.
    return derived_uuid4("batch", *(e.id for e in events))


class Batches:
    def __init__(self) -> None:
        self._open: dict[BatchKey, OpenBatch] = {}
        # The position each batch had while open, by delivery id, until its final row commits: a row read at
        # that position is a partial batch (closing gives it a new position, written with its last events).
        self.open_at: dict[str, int] = {}

    def get(self, key: BatchKey) -> OpenBatch | None:
        return self._open.get(key)

    def open(self, key: BatchKey, batch: OpenBatch) -> None:
        self._open[key] = batch
        self.open_at[batch.job.id] = batch.job.n

    @staticmethod
    def join(batch: OpenBatch, event: Event, key: str) -> None:
        batch.job.events.append(event)
        batch.keys.append(key)
        batch.job.envelope_id = envelope_of(batch.job.events)

    def take(self, key: BatchKey) -> OpenBatch | None:
        return self._open.pop(key, None)

    def committed(self, delivery_id: str) -> None:
        """A closed batch's final row is in the store (or its write failed for good): no read can be partial."""
        self.open_at.pop(delivery_id, None)

    def partial(self, delivery_id: str, n: int, seen: dict[str, int]) -> bool:
        """Whether a row read from the store is a batch as it was while open; `seen` is `open_at` as it was
        when the read began (a batch may have closed and committed during it)."""
        return n in (self.open_at.get(delivery_id), seen.get(delivery_id))

    def keys(self, run_id: str | None = None) -> list[BatchKey]:
        """The open batches of one run, or of all runs when None."""
        return [k for k in self._open if run_id is None or k[1] == run_id]

    def forget(self, sub_id: str) -> None:
        """A subscription was removed: its open batches stay in the store as they are, unsent."""
        for key in [k for k in self._open if k[0] == sub_id]:
            batch = self.take(key)
            if batch is not None:
                self.committed(batch.job.id)

    def holds(self, run_id: str | None) -> bool:
        return any(k[1] == run_id for k in self._open)
