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


def envelope_of(sub_id: str, events: list[Event]) -> str:
    """One event keeps its own envelope id; a batch's is fixed by its subscription and its events."""
    if len(events) == 1:
        return events[0].envelope_id or events[0].id
    return derived_uuid4("batch", sub_id, *(e.id for e in events))


class Batches:
    def __init__(self) -> None:
        self._open: dict[BatchKey, OpenBatch] = {}
        self.ids: set[str] = set()  # delivery ids of the open batches: lanes must not read them back

    def get(self, key: BatchKey) -> OpenBatch | None:
        return self._open.get(key)

    def open(self, key: BatchKey, batch: OpenBatch) -> None:
        self._open[key] = batch
        self.ids.add(batch.job.id)

    @staticmethod
    def join(batch: OpenBatch, event: Event, key: str) -> None:
        batch.job.events.append(event)
        batch.keys.append(key)
        batch.job.envelope_id = envelope_of(batch.sub.id, batch.job.events)

    def take(self, key: BatchKey) -> OpenBatch | None:
        batch = self._open.pop(key, None)
        if batch is not None:
            self.ids.discard(batch.job.id)
        return batch

    def keys(self, run_id: str | None = None) -> list[BatchKey]:
        """The open batches of one run, or of all runs when None."""
        return [k for k in self._open if run_id is None or k[1] == run_id]

    def forget(self, sub_id: str) -> None:
        """A subscription was removed: its open batches stay in the store as they are, unsent."""
        for key in [k for k in self._open if k[0] == sub_id]:
            self.take(key)

    def holds(self, run_id: str | None) -> bool:
        return any(k[1] == run_id for k in self._open)
