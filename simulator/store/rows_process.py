"""A busy SQLite store's rows written by a process of its own.

On SQLite the writer's rows were written on a thread of this process. Binding their values, and taking the
interpreter's lock back after each step, took that lock from the event loop's thread: a run at speed 0 spent a
quarter of its time on it, in turns with the loop, which sends. A process of its own binds and steps them on the
other core. It opens the same file as a second connection (a WAL store takes readers and a writer in several
processes), and takes each transaction of rows in turn; the writer still sends one transaction at a time, so
every change is committed in the order it was queued, statements on this process's connection included.

It starts once the store has written START_AFTER rows (a short run or a quiet server never pays for it) and
stops with the store. A process that ends unexpectedly (killed, out of memory) is not started again: its last
transaction is looked for in the store (see `direct.sqlite_rows`), written here if it is not there, and the rows
go through the thread again from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import sqlite3
import sys
from pathlib import Path

from simulator.store import sqlite_batch
from simulator.store.sqlite_batch import FRAME, Failure, Plan

log = logging.getLogger("webhook_sim.store")

START_AFTER = 5_000  # rows written through the thread before the process starts (a run of about 1,250 events)
STOP_TIMEOUT = 5.0  # how long a stopping process is given to finish its transaction
# The longest a transaction waits for its answer before the process counts as lost (a stopped process answers
# never; a store that is locked or full answers with its error within its busy timeout, 10 s).
ANSWER_TIMEOUT = 60.0


class Lost(Exception):
    """The rows process ended before it answered: its last transaction may or may not be committed."""


class RowsProcess:
    """The rows process of one SQLite file, started when the store gets busy (see the module's text)."""

    def __init__(self, database: str) -> None:
        self.database = os.path.abspath(database)  # the process's working folder may not stay this one's
        self._counted = 0
        self._process: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[None] | None = None
        self.lost: str | None = None  # why it ended early, once it has: the thread writes from then on
        self._answer: asyncio.Timeout | None = None  # the wait for the answer under way
        self._closing = False
        self.transactions = 0  # committed by the process

    @property
    def ready(self) -> bool:
        return self._process is not None and self.lost is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def count(self, rows: int) -> None:
        """`rows` were written through the thread: past START_AFTER the process starts, in the background."""
        self._counted += rows
        if self._counted >= START_AFTER and self._starting is None and self.lost is None:
            self._starting = asyncio.create_task(self._start(), name="store-rows-process")

    async def _start(self) -> None:
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",  # isolated: the standard library alone, whatever the environment sets
                str(Path(sqlite_batch.__file__)),
                self.database,
                str(os.getpid()),  # it ends with this process, even stopped (see `simulator.orphans`)
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                # Out of this process's group: a signal to the group (Ctrl-C, a CI job's timeout) is this process's
                # to act on. The child ends when its input does, which this process's end ends too.
                start_new_session=True,
            )
        except OSError as exc:  # no process could be started: the thread goes on
            self.lost = f"it could not start: {exc}"
            log.warning("the store's rows process %s; rows are written on a thread", self.lost)

    async def write(self, plan: Plan) -> None:
        """Commit `plan` in one transaction there; raises the SQLite error it met (the transaction rolled back),
        or `Lost`."""
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        data = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            if process.returncode is not None or process.stdin.is_closing():
                raise ConnectionResetError("the rows process has ended")
            process.stdin.write(FRAME.pack(len(data)) + data)
            await process.stdin.drain()
            try:
                async with asyncio.timeout(ANSWER_TIMEOUT if not self._closing else STOP_TIMEOUT) as self._answer:
                    size = FRAME.unpack(await process.stdout.readexactly(FRAME.size))[0]
                    outcome: Failure | None = pickle.loads(await process.stdout.readexactly(size))
            finally:
                self._answer = None
        except asyncio.CancelledError:
            # Its answer would be read as the next transaction's: the process goes, as a lost one does.
            self._end("a write was cancelled")
            raise
        except TimeoutError as exc:
            await self._ended("it answered nothing in time")
            raise Lost from exc
        except Exception as exc:  # the pipe's errors, whatever the loop calls them (uvloop: RuntimeError once closed)
            await self._ended(f"it ended ({type(exc).__name__}: {exc})")
            raise Lost from exc
        if outcome is not None:
            raise _error(outcome)
        self.transactions += 1

    def closing(self) -> None:
        """The store is closing: a process that does not answer is given STOP_TIMEOUT from now, not ANSWER_TIMEOUT
        (a stopped one held a shutdown for a minute)."""
        self._closing = True
        answer, loop = self._answer, asyncio.get_running_loop()
        if answer is not None and not answer.expired():
            when = answer.when()
            if when is None or when > loop.time() + STOP_TIMEOUT:
                answer.reschedule(loop.time() + STOP_TIMEOUT)

    def _end(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def _ended(self, why: str) -> None:
        """The process is gone, or made to go: waited for, so that nothing it wrote can commit after this."""
        self._end(why)
        log.warning("the store's rows process stopped: %s; rows are written on a thread from now on", why)
        if self._process is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._process.wait(), STOP_TIMEOUT)

    async def close(self) -> None:
        """Let the process finish and go (its input ends), killed if it does not within STOP_TIMEOUT."""
        if self._starting is not None:
            await self._starting
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            self._end("it did not stop in time")
            await process.wait()


def _error(outcome: Failure) -> sqlite3.Error:
    """The SQLite error the process met, as the driver raises it here: the same class, message and codes."""
    name, message, code, code_name = outcome
    kind = getattr(sqlite3, name, None)
    if not (isinstance(kind, type) and issubclass(kind, sqlite3.Error)):
        kind = sqlite3.DatabaseError
    error = kind(message)
    # Set as the driver sets them (`failures.sqlite_code` tells transient errors apart by the code).
    setattr(error, "sqlite_errorcode", code)  # noqa: B010 - typed as int, and it may be None here
    setattr(error, "sqlite_errorname", code_name)  # noqa: B010
    return error
