"""A run played on PostgreSQL goes on through a restart of the database: it chooses its receivers from the
store again at least every second, and a read refused while the server restarts failed the run ("Connection
refused") with most of its events never made."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from simulator.core import run_receivers
from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, RunSpec, SubscriptionSpec
from simulator.testing.receiver import Receiver
from tests.conftest import silent_receiver
from tests.scale.helpers import distinct, until
from tests.store import pg

EVENTS = 40


async def test_a_run_goes_on_through_a_database_restart(
    db: str, cluster: pg.Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    monkeypatch.setattr(run_receivers, "RECHOOSE", 0.0)  # every event reads the store: some fall within the restart
    (tmp_path / "paced.yaml").write_text(
        "name: paced\nprovider: basistheory\ndescription: evenly paced tokens\nsteps:\n"
        f"  - repeat: {EVENTS}\n    steps:\n      - wait: 100ms\n      - emit: token.created\n"
    )
    sim = await Simulator.open(db, scenario_dirs=[tmp_path])  # it sends, so it plays its own run
    try:
        with Receiver() as receiver:
            spec = RunSpec(scenario="paced", speed=1, seed=3, target=receiver.url, signing="standard")
            run = await sim.runs.start(spec)
            await until(lambda: distinct(receiver) >= 5, 30, "the run's first deliveries")
            await asyncio.to_thread(pg.restart, cluster)
            done = await sim.runs.wait(run.id, timeout=90)
            assert (done.status, done.events, done.error) == ("completed", EVENTS, None), done
            await until(lambda: distinct(receiver) >= EVENTS, 60, "every delivery")
    finally:
        await sim.close()


async def test_a_run_a_stopping_process_cuts_short_on_a_shared_store_goes_on_in_a_process_that_plays_runs(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not failed, nor left for a next start: it goes back to the store, and a process that plays runs goes on with
    it from where it stopped. Every event reaches the receiver."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    (tmp_path / "slow.yaml").write_text(
        "name: slow\nprovider: basistheory\ndescription: five tokens a second\nsteps:\n"
        "  - repeat: 20\n    steps:\n      - emit: token.created\n      - wait: 200ms\n"
    )
    with Receiver() as receiver:
        sim = await Simulator.open(db, scenario_dirs=[tmp_path])
        try:
            spec = RunSpec(scenario="slow", speed=1, seed=3, target=receiver.url, signing="standard")
            run = await sim.runs.start(spec)
            await until(lambda: distinct(receiver) >= 1, 30, "the run's first delivery")
        finally:
            await asyncio.wait_for(sim.close(grace=0.5), 30)
        cut = distinct(receiver)
        assert cut < 20
        again = await Simulator.open(db, scenario_dirs=[tmp_path], claims=True)
        try:
            done = await again.runs.wait(run.id, timeout=60)
            assert (done.status, done.events, done.error) == ("completed", 20, None), done
            await until(lambda: distinct(receiver) >= 20, 30, "every delivery")
        finally:
            await again.close()


async def test_an_attempt_a_stopping_process_cuts_short_on_a_shared_store_says_who_sends_it_again(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    async with silent_receiver() as (url, got):
        sim = await Simulator.open(db)
        try:
            await sim.create_subscription(SubscriptionSpec(url=url, timeout=60, signing="standard"))
            _, [delivery_id] = await sim.emit(EventSpec(type="token.created"))
            await until(lambda: len(got) == 1, 30, "the request")
        finally:
            await asyncio.wait_for(sim.close(grace=0.2), 30)
        again = await Simulator.open(db)
        try:
            [first, *_] = (await again.delivery(delivery_id)).attempt_log
            assert first.error == (
                "interrupted: the sender stopped before an answer came "
                "(the delivery is sent again by a process that sends on this store)"
            )
        finally:
            await asyncio.wait_for(again.close(grace=0.2), 30)


async def test_a_sender_goes_on_sending_after_the_store_was_away_longer_than_its_lanes_wait(
    db: str, cluster: pg.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Away past `SAFE` of a lease, the store's absence stops this process's lanes (their leases may have lapsed).
    Once it answered, the leases were renewed, still held with no lane, and no one could claim them: nothing of
    the subscription was sent again until the process restarted."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    sim = await Simulator.open(db, lease_ttl=2.0)
    try:
        with Receiver() as receiver:
            await sim.create_subscription(SubscriptionSpec(url=receiver.url, signing="standard"))
            await sim.emit(EventSpec(type="token.created"))
            await until(lambda: distinct(receiver) == 1, 30, "the first delivery")
            await asyncio.to_thread(pg.restart, cluster, "stop")
            try:
                await until(lambda: not sim.engine.lanes, 30, "the lanes stopped while the store is away")
            finally:
                await asyncio.to_thread(pg.restart, cluster, "start")
            for _ in range(1500):  # the writer takes changes again once it has reconnected
                try:
                    await sim.emit(EventSpec(type="token.created"))
                    break
                except Exception:
                    await asyncio.sleep(0.02)
            await until(lambda: distinct(receiver) == 2, 30, "the delivery made after the store came back")
    finally:
        await asyncio.wait_for(sim.close(grace=0.5), 30)


async def test_a_sender_whose_writer_is_held_still_stops_its_lanes_once_its_leases_may_have_lapsed(
    db: str, cluster: pg.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle lane's poll waits for the writer's barrier first. With the writer held (its records retried while the
    store is away), that wait held the rounds too: the check that stops the lanes once the leases may have lapsed
    never ran, and the lanes went on sending past their leases for as long as the store was away."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    sim = await Simulator.open(db, lease_ttl=2.0)
    gate = asyncio.Event()

    async def hold(conn: Any) -> None:
        await gate.wait()

    try:
        with Receiver() as receiver:
            await sim.create_subscription(SubscriptionSpec(url=receiver.url, signing="standard"))
            await sim.emit(EventSpec(type="token.created"))
            await until(lambda: distinct(receiver) == 1, 30, "the first delivery")
            held = asyncio.create_task(sim.store.writer.submit(hold))  # a write that does not end meanwhile
            await asyncio.to_thread(pg.restart, cluster, "stop")
            try:
                await until(lambda: not sim.engine.lanes, 30, "the lanes stopped while the store is away")
            finally:
                gate.set()
                await asyncio.wait_for(held, 30)
                await asyncio.to_thread(pg.restart, cluster, "start")
    finally:
        await asyncio.wait_for(sim.close(grace=0.5), 30)
