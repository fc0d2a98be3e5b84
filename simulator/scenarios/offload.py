"""A long run's events built by a process of its own, so the process that sends them only sends.

Building an event (its builder, the run's Random and names, its JSON) costs about a quarter of a delivery's time
in all. At speed 0, a run goes faster when another core builds its events; at speed 1, a busy server (a run of
1,000 events a second, readers on the control API) keeps its deliveries on time only with that quarter spared. A
short run never pays for that process: its first `after` events are built here, and only a run that goes on past
them starts one. At most MAX_PROCESSES runs have one at once (each holds a copy of the catalog's memory); the
others build here.

The process builds the same events from the same scenario, seed, parameters and start time, so they are the same
bytes: it builds the events this process already made too (their world is the later events' world) and sends only
what comes after. Until its first events arrive, this process goes on building its own, and drops those it already
has. If the process fails, for any reason, the run goes on here from the last event received: a scenario whose
event cannot be built fails here the same way, with the same error.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import sys
from collections.abc import AsyncGenerator, Generator, Mapping
from contextlib import aclosing, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

import simulator
from simulator.models import Event
from simulator.orphans import end_with_parent
from simulator.scenarios.document import ScenarioInvalid

if TYPE_CHECKING:
    from simulator.scenarios.model import Scenario
    from simulator.scenarios.runner import Built

# Events per message: pickled together they share their steps, and one message is unpickled in about 0.15 ms.
CHUNK = 64
# How long a stopped process is given to go before this one stops waiting for it.
STOP_TIMEOUT = 5.0
MAX_PROCESSES = max(1, os.cpu_count() or 1)
# Whether this process goes on building while the other starts (tests turn it off to take every event from it).
BUILD_WHILE_STARTING = True
_FRAME = struct.Struct("!I")
_FAILED = "failed"
_building: set[object] = set()  # a token per building process running


@dataclass(frozen=True)
class Job:
    """What builds a run's events, the same in any process."""

    scenario: Scenario
    seed: int
    params: Mapping[str, Any]
    start_time: datetime
    run_id: str | None

    def build(self, skip: int = 0) -> Generator[Built, None, None]:
        from simulator.scenarios.runner import build, context, timeline  # runner calls into this module

        values = dict(self.params)
        planned = timeline(self.scenario, seed=self.seed, params=values, start_time=self.start_time)
        ctx = context(self.scenario, self.seed, values, self.start_time)
        return build(planned, ctx, self.scenario.provider, self.run_id, skip)


class _Lost(Exception):
    """The building process stopped before the run's end."""


async def in_process(built: Generator[Built, None, None]) -> AsyncGenerator[Built, None]:
    for item in built:
        yield item


async def handed_off(
    built: Generator[Built, None, None], after: int, job: Job, skip: int = 0
) -> AsyncGenerator[Built, None]:
    """`built`'s first `after` events, then the rest from a process of its own (see the module's text). `built`
    starts at event `skip` (a resumed run's), and so does what the process sends.

    With `after` 0 every event comes from the process, and the first waits for it: a timed run known to be long
    starts its clock after them, so this process, which sends on time, builds none (at 1,000 events a second
    under readers the events built here while the process started were the late ones).
    """
    count = skip
    if after > 0:
        for item in built:
            yield item
            count += 1
            if count == skip + after:
                break
        else:
            return
    if len(_building) >= MAX_PROCESSES:
        for item in built:
            yield item
        return
    token = object()
    _building.add(token)
    process: asyncio.subprocess.Process | None = None
    try:
        process = await _start(job, count)
        here = BUILD_WHILE_STARTING and after > 0
        async with aclosing(_received(process, built, count, here)) as received:
            async for item in received:
                yield item
                count += 1
    except _Lost:
        for item in job.build(skip=count):
            yield item
    finally:
        _building.discard(token)
        built.close()
        if process is not None:
            await _stop(process)


async def _start(job: Job, skip: int) -> asyncio.subprocess.Process:
    # The package's own directory on the path, so the process imports this very code however it was installed.
    try:
        given = pickle.dumps((job, skip), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # a scenario holding what cannot go to another process is built here
        raise _Lost from exc
    root = os.path.dirname(os.path.dirname(os.path.abspath(simulator.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"from {__name__} import main; main()",
            str(os.getpid()),  # it ends with this process, even stopped (see `simulator.orphans`)
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            # Out of this process's group: an interrupt (Ctrl-C, a CI job's timeout) is this process's to act on,
            # and printed a traceback from the child. The child ends when its pipe does, or when it is killed.
            start_new_session=True,
        )
    except OSError as exc:
        raise _Lost from exc
    assert process.stdin is not None
    process.stdin.write(given)
    process.stdin.close()
    return process


async def _received(
    process: asyncio.subprocess.Process, built: Generator[Built, None, None], count: int, here: bool
) -> AsyncGenerator[Built, None]:
    """Events from `process`, and (if `here`) this process's own `built` ones until the process's first arrive."""
    pending = asyncio.ensure_future(_message(process))
    try:
        while here and not pending.done():  # the process starts up and catches up meanwhile
            item = next(built, None)
            if item is None:
                return  # the run ended here first
            yield item
            count += 1
            if count % CHUNK == 0:
                await asyncio.sleep(0)  # its message is read on the loop's turn
        while (chunk := await pending) is not None:
            pending = asyncio.ensure_future(_message(process))  # the next one comes while this one goes out
            for packed in chunk:
                if packed[1][6] >= count:  # its seq: those before were built here
                    yield _unpacked(packed)
                    count += 1
    finally:
        pending.cancel()
        await asyncio.wait([pending])  # its read let go of the pipe before `_stop` reads it to the end


async def _message(process: asyncio.subprocess.Process) -> list[_Packed] | None:
    assert process.stdout is not None
    try:
        size = _FRAME.unpack(await process.stdout.readexactly(_FRAME.size))[0]
        message = pickle.loads(await process.stdout.readexactly(size))
    except (asyncio.IncompleteReadError, OSError, pickle.UnpicklingError) as exc:
        raise _Lost from exc
    if message == _FAILED:
        raise _Lost
    if isinstance(message, tuple):  # the scenario proved invalid there: it would here too, after as many events
        raise ScenarioInvalid(*message)
    return message


async def _stop(process: asyncio.subprocess.Process) -> None:
    """The process stopped (it may be blocked writing) and waited for, its pipe read to the end."""
    if process.returncode is None:
        with suppress(ProcessLookupError):
            process.kill()
    with suppress(asyncio.TimeoutError):
        await asyncio.wait_for(_ended(process), STOP_TIMEOUT)


async def _ended(process: asyncio.subprocess.Process) -> None:
    # A run ahead of its events leaves the pipe's reading paused, and a paused pipe never sees its end: its
    # transport stayed open after the process died (an unclosed transport, warned of when collected).
    if process.stdout is not None:
        with suppress(OSError):
            while await process.stdout.read(1 << 16):
                pass
    await process.wait()


# An event as it crosses the pipe: its fields as a tuple, without `data`. The sending process needs only the JSON
# (`Event.parsed()` gives the object to what asks), and a dataclass with its nested object is pickled and unpickled
# in 4 µs where this takes 1 and 2, in a process whose every µs per event is one in the run's throughput.
_Packed = tuple[datetime, tuple[Any, ...], Any]


def _packed(item: Built) -> _Packed:
    at, e, emit = item
    return at, (e.id, e.provider, e.type, e.occurred_at, e.json, e.envelope_id, e.seq, e.run_id, e.ends_with), emit


def _unpacked(packed: _Packed) -> Built:
    at, (id_, provider, type_, occurred_at, text, envelope_id, seq, run_id, ends_with), emit = packed
    return at, Event(id_, provider, type_, occurred_at, None, text, envelope_id, seq, run_id, ends_with), emit


def produce(given: BinaryIO, out: BinaryIO) -> None:
    """The building process: reads (job, skip), writes the run's events after the first `skip`, CHUNK a message,
    then None; or (file, errors) if the scenario proves invalid as it is played (the run fails with that, rather
    than build its events again only to meet it); or "failed" if one cannot be built, and a line on its stderr
    saying why."""
    job, skip = pickle.load(given)
    chunk: list[_Packed] = []

    def send(message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_FRAME.pack(len(data)))
        out.write(data)

    try:
        for item in job.build(skip):
            chunk.append(_packed(item))
            if len(chunk) == CHUNK:
                send(chunk)
                chunk = []
        send(chunk)
        send(None)
        out.flush()
    except BrokenPipeError:
        return  # the run ended, or its process did
    except ScenarioInvalid as exc:  # a repeat that emits nothing (`guard`): the events before it, then the error
        with suppress(OSError):
            send(chunk)
            send((exc.source, exc.errors))
            out.flush()
    except Exception as exc:
        with suppress(OSError):
            send(_FAILED)
            out.flush()
        # One line on the server's stderr, not a traceback: the run's process builds on from here, meets the same
        # error if the scenario holds one, and reports it as the run's.
        print(f"webhook-sim: a run's building process stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    end_with_parent(int(sys.argv[1]))
    # The events have the real stdout to themselves: whatever else writes to it goes to stderr.
    events = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    with suppress(BrokenPipeError):
        produce(sys.stdin.buffer, events)
