"""A speed-0 run's events built by a process of its own: the same events, and the run never lost with it."""

from __future__ import annotations

import asyncio
import io
import os
import pickle
import struct
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from simulator.scenarios import load_text, offload, play, runner

START = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
# Several types, an override and a choice: the builders' shared world and both random streams; and a beginning
# whose end the run looks ahead for (`documents.completed`: `Event.ends_with`).
MIXED = """name: mixed
provider: syncfy
steps:
  - repeat: {n}
    steps:
      - emit: credentials.created
      - choose:
          - weight: 2
            steps: [{{emit: credentials.updated, with: {{payload.is_executing: 1}}}}]
          - weight: 1
            steps: [{{emit: credentials.refreshed}}]
      - emit: documents.completed
      - emit: documents.success
"""


def mixed(n: int):
    return load_text(MIXED.format(n=n))


async def played(s, handoff: int | None, on_event=None, speed: float = 0, on_start=None) -> list[tuple]:
    out: list[tuple] = []

    async def emit(event, step):
        out.append(
            (event.seq, event.id, event.type, event.occurred_at, event.json, event.run_id, event.ends_with, step)
        )
        if on_event is not None:
            await on_event(len(out))

    count = await play(
        s, seed=7, params={}, start_time=START, speed=speed, emit=emit, run_id="r1", handoff=handoff, on_start=on_start
    )
    assert count == len(out)
    return out


class Spy:
    """Records the building processes started, and may kill one once it has sent its first events."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.processes: list[asyncio.subprocess.Process] = []
        real = offload._start

        async def start(job, skip):
            process = await real(job, skip)
            self.processes.append(process)
            return process

        monkeypatch.setattr(offload, "_start", start)


async def test_events_built_by_another_process_are_the_same_events(monkeypatch):
    monkeypatch.setattr(offload, "BUILD_WHILE_STARTING", False)  # every event after the 60th from the process
    here = await played(mixed(200), handoff=None)
    spy = Spy(monkeypatch)
    there = await played(mixed(200), handoff=60)
    assert len(spy.processes) == 1 and spy.processes[0].returncode is not None  # used, then waited for
    assert len(here) >= 600 and there == here
    assert {e[6] for e in there} == {None, "documents.success"}  # the ends a run looked ahead for, kept


async def test_events_from_the_process_carry_their_text_and_give_the_same_object(monkeypatch):
    """What crosses the pipe is the event's text alone: the object, which a fault that changes the body asks for,
    is parsed from it and is the one built here."""
    monkeypatch.setattr(offload, "BUILD_WHILE_STARTING", False)

    async def events(handoff: int | None) -> list:
        out: list = []

        async def emit(event, step):
            out.append(event)

        await play(mixed(50), seed=7, params={}, start_time=START, speed=0, emit=emit, run_id="r1", handoff=handoff)
        return out

    here, there = await events(None), await events(20)
    assert len(there) == len(here) >= 150
    assert all(e.data is not None for e in here) and all(e.data is None for e in there[20:])
    assert [e.parsed() for e in there] == [e.data for e in here]
    assert there[20:] == [replace(e, data=None) for e in here[20:]]  # every other field, as built here
    assert any(e.envelope_id for e in there[20:])  # Syncfy's `rid` among them


async def test_events_built_here_while_the_process_starts_are_not_sent_twice(monkeypatch):
    """This process builds on until the other's first events arrive, and drops those it already has."""
    here = await played(mixed(600), handoff=None)
    received: list[int] = []
    emitted_when_first_came: list[int] = []
    emitted = 0
    real = offload._message

    async def message(process):
        chunk = await real(process)
        if not emitted_when_first_came:
            emitted_when_first_came.append(emitted)
        received.extend(offload._unpacked(item)[1].seq for item in chunk or [])
        return chunk

    async def paced(n):  # slow here until the process's first events come, so that it surely catches up
        nonlocal emitted
        emitted = n
        if not emitted_when_first_came:
            await asyncio.sleep(0.005)

    monkeypatch.setattr(offload, "_message", message)
    there = await played(mixed(600), handoff=60, on_event=paced)
    assert emitted_when_first_came[0] > 60  # built here past the hand-off while the process started
    assert received[0] == 60 and received[-1] == len(here) - 1  # the process built from the 60th to the end
    assert there == here  # those it built twice went once


async def test_a_run_at_speed_builds_its_events_elsewhere_too(monkeypatch):
    monkeypatch.setattr(offload, "BUILD_WHILE_STARTING", False)
    here = await played(mixed(100), handoff=None, speed=1e7)  # a step of minutes is then a few microseconds
    spy = Spy(monkeypatch)
    there = await played(mixed(100), handoff=30, speed=1e7)
    assert len(spy.processes) == 1 and len(here) >= 300 and there == here


async def test_a_run_handed_off_from_its_start_waits_for_the_process_and_builds_nothing(monkeypatch):
    """`handoff=0` (a long timed run): its clock starts once the process's first events are here, and this
    process builds none of them, not even while that process starts."""
    here = await played(mixed(100), handoff=None, speed=1e7)
    order: list[str] = []
    built_here = []
    real_build, real_message = runner.build, offload._message

    def build(*args, **kwargs):
        for item in real_build(*args, **kwargs):
            built_here.append(item[1].seq)
            yield item

    async def message(process):
        got = await real_message(process)
        order.append("message")
        return got

    monkeypatch.setattr(runner, "build", build)
    monkeypatch.setattr(offload, "_message", message)
    spy = Spy(monkeypatch)
    there = await played(mixed(100), handoff=0, speed=1e7, on_start=lambda: order.append("start"))
    assert there == here and len(spy.processes) == 1
    assert order[:2] == ["message", "start"] and built_here == []


async def test_past_the_most_processes_a_run_builds_its_own(monkeypatch):
    monkeypatch.setattr(offload, "MAX_PROCESSES", 1)
    spy = Spy(monkeypatch)
    first_events = asyncio.Event()

    async def hold(n):  # the first run holds its process while the second one plays whole
        if n == 100:
            first_events.set()
            await asyncio.wait_for(second_done.wait(), 30)

    second_done = asyncio.Event()
    first = asyncio.create_task(played(mixed(100), handoff=50, on_event=hold))
    await asyncio.wait_for(first_events.wait(), 30)
    second = await played(mixed(100), handoff=50)
    second_done.set()
    assert await asyncio.wait_for(first, 30) == second
    assert len(spy.processes) == 1  # the first run's only


async def test_a_run_shorter_than_the_handoff_starts_no_process(monkeypatch):
    spy = Spy(monkeypatch)
    events = await played(mixed(10), handoff=1000)
    assert len(events) >= 30 and spy.processes == []


async def test_a_building_process_killed_mid_run_loses_nothing(monkeypatch):
    monkeypatch.setattr(offload, "BUILD_WHILE_STARTING", False)
    here = await played(mixed(300), handoff=None)
    spy = Spy(monkeypatch)
    killed = []

    async def kill_once(n):
        # Well past the hand-off, once events have come from the process: then it dies.
        if n == 700 and spy.processes and not killed:
            spy.processes[0].kill()
            killed.append(await asyncio.wait_for(spy.processes[0].wait(), 30))  # a loaded machine reaps late

    there = await played(mixed(300), handoff=50, on_event=kill_once)
    assert killed and there == here


async def behind(process: asyncio.subprocess.Process, timeout: float = 30.0) -> None:
    """Until the run is so far behind the process that its pipe is no longer read (its buffer is full)."""
    pipe = process._transport.get_pipe_transport(1)  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while pipe.is_reading():
        assert time.monotonic() < deadline, "the run never fell behind its building process"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(("speed", "handoff"), [(0, 50), (1e7, 0)])
async def test_cancelling_the_run_stops_its_building_process(monkeypatch, speed, handoff):
    spy = Spy(monkeypatch)
    reached = asyncio.Event()

    async def slow(n):
        if n >= 300:
            reached.set()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(played(mixed(100_000), handoff=handoff, on_event=slow, speed=speed))
    await asyncio.wait_for(reached.wait(), 30)
    await behind(spy.processes[0])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert len(spy.processes) == 1 and spy.processes[0].returncode is not None
    # Its pipe read to the end, so its transport is closed: with the run far behind the process, a pipe left as it
    # was kept the transport open after the process died, and it was warned of as unclosed when collected.
    assert spy.processes[0]._transport.is_closing()


def test_a_process_that_cannot_build_says_so_in_one_line_and_fails(capsys):
    job = offload.Job(mixed(5), 7, {}, "not a time", "r1")  # type: ignore[arg-type]
    given, out = io.BytesIO(pickle.dumps((job, 0))), io.BytesIO()
    with pytest.raises(SystemExit) as stopped:
        offload.produce(given, out)
    assert stopped.value.code == 1
    size = struct.unpack("!I", out.getvalue()[:4])[0]
    assert pickle.loads(out.getvalue()[4 : 4 + size]) == "failed"
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1 and "building process stopped: TypeError" in said[0]  # one line: the log's records


async def test_the_building_process_is_out_of_this_process_group(monkeypatch):
    """A signal to the group (Ctrl-C, a CI job's timeout) is this process's to act on: sent to the building process
    too, it printed a traceback of its own beside the run's summary. This process stops it when the run ends."""
    monkeypatch.setattr(offload, "BUILD_WHILE_STARTING", False)
    spy = Spy(monkeypatch)
    groups: list[int] = []

    async def on_event(n: int) -> None:
        if n == 100 and spy.processes:
            groups.append(os.getpgid(spy.processes[0].pid))

    await played(mixed(100), handoff=30, on_event=on_event)
    assert groups and groups[0] != os.getpgid(0)
