"""Every built-in scenario, run end to end at speed 0 against a real receiver: delivered, coherent, repeatable."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec
from simulator.receiving import Received
from simulator.scenarios import loader
from simulator.testing.receiver import Receiver
from simulator.timeutil import parse_time

BUILTIN = sorted(loader.discover([])[0])
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def run_to_end(sim: Simulator, name: str, url: str, seed: int = 1):
    run = await sim.runs.start(RunSpec(scenario=name, target=url, speed=0, seed=seed, start_time=START))
    return await asyncio.wait_for(sim.runs.wait(run.id), 60)


def events_of(receiver: Receiver) -> list[dict]:
    out = []
    for req in receiver.requests:
        body = req.json()
        out += body["events"] if "events" in body else [body["event"]]
    return out


def check_syncfy(events: list[dict]) -> None:
    created: set[str] = set()
    owner: dict[str, str] = {}
    for e in events:
        name, payload = e["header"]["event"]["name"], e["payload"]
        if "id_credential" in payload:  # a credential belongs to one user throughout
            user = owner.setdefault(payload["id_credential"], e["header"]["user"]["id_user"])
            assert user == e["header"]["user"]["id_user"]
        if name == "credentials.created":
            created.add(payload["id_credential"])
        elif name.startswith("credentials.") and created:
            assert payload["id_credential"] in created, f"{name} names a credential never created"


def check_basistheory(events: list[dict]) -> None:
    assert len({e["tenant_id"] for e in events}) == 1, "one tenant per run"
    intents: set[str] = set()
    tokens: set[str] = set()
    for e in events:
        kind, data = e["type"], e["data"]
        if kind == "token-intent.created":
            intents.add(data["token_intent"]["id"])
        elif kind == "token-intent.converted":
            if intents:
                assert data["token_intent"]["id"] in intents, "the converted intent is the created one"
            tokens.add(data["token"]["id"])
        elif kind == "token.created":
            tokens.add(data["token"]["id"])
        elif kind.startswith("token.") and tokens:
            assert data["token"]["id"] in tokens, f"{kind} names a token never created"


@pytest.mark.parametrize("name", BUILTIN)
async def test_builtin_scenario_runs_end_to_end(name, tmp_path):
    with Receiver() as receiver:
        sim = await Simulator.open(str(tmp_path / "s.db"))
        try:
            run = await run_to_end(sim, name, receiver.url)
        finally:
            await sim.close(grace=1)
        scenario = loader.find(name, [])
        if scenario.faults:
            assert run.status == "completed"
            return  # chaos scenarios are checked by the fault tests
        assert run.status == "completed", run.error
        assert run.events > 0
        assert run.counts == {"succeeded": run.events}
        events = events_of(receiver)
        assert len(events) == run.events
        (check_syncfy if scenario.provider == "syncfy" else check_basistheory)(events)
        if scenario.provider == "basistheory":
            check_delivered_now(receiver.requests)


def check_delivered_now(requests: list[Received]) -> None:
    """Each `delivered_at` is the real time of its attempt (within 5 s of the receiver's clock), whatever the
    simulated time of the event, and a subscription's deliveries never go back in time."""
    stamps = [parse_time(r.json()["delivered_at"]).timestamp() for r in requests]
    late = [(round(s - r.at, 3), r.json()["event"]["type"]) for s, r in zip(stamps, requests, strict=True)]
    assert all(abs(gap) <= 5 for gap, _ in late), late
    assert stamps == sorted(stamps)


async def test_same_seed_same_bytes_other_seed_other_ids(tmp_path):
    bodies = []
    for seed in (7, 7, 8):
        with Receiver() as receiver:
            sim = await Simulator.open(str(tmp_path / f"d{len(bodies)}.db"))
            try:
                await run_to_end(sim, "syncfy-credential-lifecycle", receiver.url, seed=seed)
            finally:
                await sim.close(grace=1)
            bodies.append([r.body for r in receiver.requests])
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]
    assert len(bodies[0]) == len(bodies[2])


async def test_basistheory_run_repeats_every_byte_but_delivered_at(tmp_path):
    runs: list[list[Received]] = []
    for i in range(2):
        with Receiver() as receiver:
            sim = await Simulator.open(str(tmp_path / f"b{i}.db"))
            try:
                await run_to_end(sim, "basistheory-token-intent-conversion", receiver.url, seed=3)
            finally:
                await sim.close(grace=1)
            runs.append(list(receiver.requests))
    first, second = ([without_delivered_at(r.body) for r in run] for run in runs)
    assert first == second and first
    for run in runs:
        check_delivered_now(run)  # the real time of each attempt, so the one part that differs


def without_delivered_at(body: bytes) -> bytes:
    return re.sub(rb',"delivered_at":"[^"]*"', b"", body)


@pytest.mark.parametrize("name", ["syncfy-credential-lifecycle", "basistheory-token-intent-conversion"])
async def test_another_start_time_is_another_run_with_new_ids(tmp_path, name):
    """Consumers deduplicate on event ids: two runs of one seed must not share any, unless one replays the
    other with the same start time."""
    ids: list[set[str]] = []
    for i, start in enumerate((START, START, START + timedelta(seconds=1))):
        with Receiver() as receiver:
            sim = await Simulator.open(str(tmp_path / f"i{i}.db"))
            try:
                run = await sim.runs.start(
                    RunSpec(scenario=name, target=receiver.url, speed=0, seed=5, start_time=start)
                )
                assert (await asyncio.wait_for(sim.runs.wait(run.id), 60)).status == "completed"
            finally:
                await sim.close(grace=1)
            events = events_of(receiver)
            ids.append({e["header"]["event"]["eid"] if "header" in e else e["id"] for e in events})
            ids[-1] |= {r.json()["rid"] for r in receiver.requests if "rid" in r.json()}
    assert ids[0] == ids[1]
    assert not ids[0] & ids[2]
