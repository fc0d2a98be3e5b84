"""What other processes change in a shared store reaches this process's watchers (the dashboard's stream), and
only that: a new stream on PostgreSQL was first told of the 500-700 deliveries its read looks back over, though
none of them had changed. A stream's first read is taken before its `ready`: taken after it, a row committed in
between was neither in the list its client read nor ever told."""

from __future__ import annotations

import pytest

from simulator.core.simulator import Simulator
from simulator.store.remote import RemoteChanges
from simulator.store.writer import Committed
from simulator.testing.receiver import Receiver
from tests.scale.helpers import publish, subscribe


async def quiet(sim: Simulator) -> RemoteChanges:
    """The simulator's own reader with its loop stopped, so that only the test reads. Left running beside a
    second reader, its loop takes a first read of its own once a watcher appears, and tells of the rows already
    there whenever its half-second tick falls inside the test."""
    assert sim.remote is not None  # a shared store: the simulator reads other processes' changes
    await sim.remote.stop()
    return sim.remote


async def test_a_watcher_is_told_of_what_changes_after_it_starts_and_of_nothing_before(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    sim = await Simulator.open(db, sends=False)  # deliveries stay pending: nothing else changes them
    try:
        with Receiver() as receiver:
            subs = await subscribe(sim, receiver, 2)
            await publish(sim, subs, 30)  # 60 deliveries before anyone watches
            await sim.store.writer.barrier()
            told: list[Committed] = []
            remote = await quiet(sim)
            sim.store.writer.listeners.append(told.append)
            await remote.joined()  # the stream's first read, before its `ready`: what is there
            await remote.read()
            assert told == []  # nothing changed since
            later = await publish(sim, subs[:1], 3, seed=99)
            await sim.store.writer.barrier()
            told.clear()
            await remote.read()
            announced = set().union(*(c.deliveries for c in told))
            assert len(announced) == len(later)  # the three new deliveries, once each
            await remote.read()
            assert set().union(*(c.deliveries for c in told)) == announced  # and not again
    finally:
        await sim.close()


async def test_what_commits_after_a_watcher_joined_is_told_by_the_next_read(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    sim = await Simulator.open(db, sends=False)
    try:
        with Receiver() as receiver:
            subs = await subscribe(sim, receiver, 1)
            await publish(sim, subs, 5)
            await sim.store.writer.barrier()
            told: list[Committed] = []
            remote = await quiet(sim)
            sim.store.writer.listeners.append(told.append)
            await remote.joined()
            await remote.joined()  # a second watcher joining learns nothing again
            later = await publish(sim, subs, 2, seed=7)  # after `ready`, before the loop's first read
            await sim.store.writer.barrier()
            told.clear()
            await remote.read()
            assert len(set().union(*(c.deliveries for c in told))) == len(later)  # one subscription: a delivery each
    finally:
        await sim.close()
