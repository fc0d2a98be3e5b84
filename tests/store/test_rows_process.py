"""A busy SQLite store's rows written by a process of its own: the same rows, the same errors, and nothing lost or
written twice when that process dies, whether before its commit or between its commit and its answer."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from simulator.core.simulator import Simulator
from simulator.errors import InvalidInput
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.runtime import run_loop
from simulator.store import Store, rows_process
from simulator.store.failures import sqlite_code, transient
from simulator.store.rows_process import Lost, RowsProcess
from simulator.store.writer import Op
from simulator.testing.receiver import Receiver
from tests.conftest import until
from tests.store.test_writer_batching import event


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Store]:
    monkeypatch.setattr(rows_process, "START_AFTER", 3)  # past the first transaction of a few rows
    opened = await Store.open(str(tmp_path / "rows.db"), secret_key="rows")
    yield opened
    await asyncio.wait_for(opened.close(), 30)


def process_of(store: Store) -> RowsProcess:
    assert store.writer.rows_process is not None
    return store.writer.rows_process


async def write(store: Store, *keys: str) -> BaseException | None:
    """Commit one change of events `keys`; what its owner was told."""
    told: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    store.writer.put_nowait(Op(events=tuple(event(k) for k in keys), done=told.set_result))
    return await asyncio.wait_for(told, 30)


async def started(store: Store) -> RowsProcess:
    """The store's rows process, once it runs (its first transactions went through the thread)."""
    for i in range(100):
        if process_of(store).ready:
            return process_of(store)
        assert await write(store, f"warm-{i}", f"warm-{i}b") is None
        await asyncio.sleep(0.05)
    raise AssertionError("the rows process never started")


def keys_in(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [k for (k,) in db.execute("select key from events order by key")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_rows_are_written_by_a_process_of_its_own_once_the_store_is_busy(store: Store, tmp_path: Path):
    process = await started(store)
    pid = process.pid
    assert pid is not None and pid != os.getpid() and alive(pid)
    before = process.transactions
    assert await write(store, "a", "b", "c") is None
    assert process.transactions == before + 1  # that transaction went through the process
    assert {"a", "b", "c"} <= set(keys_in(tmp_path / "rows.db"))
    await store.close()
    assert not alive(pid)  # stopped with the store


async def test_a_refused_row_fails_its_own_change_with_the_drivers_error(store: Store, tmp_path: Path):
    process = await started(store)
    assert await write(store, "dup") is None
    error = await write(store, "dup")  # the same primary key again
    assert isinstance(error, IntegrityError) and not transient(error)
    assert sqlite_code(error) == sqlite3.SQLITE_CONSTRAINT
    assert "UNIQUE constraint failed: events.key" in str(error.orig)
    assert process.ready  # a refused row is the change's failure, not the process's
    assert await write(store, "after") is None
    assert keys_in(tmp_path / "rows.db").count("dup") == 1


async def test_a_killed_process_loses_nothing_and_the_thread_writes_on(store: Store, tmp_path: Path):
    process = await started(store)
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    assert await write(store, "k1", "k2") is None  # the write that finds it dead is written here
    assert process.lost is not None and not process.ready
    assert await write(store, "k3") is None
    keys = keys_in(tmp_path / "rows.db")
    assert [k for k in keys if k.startswith("k")] == ["k1", "k2", "k3"]


async def killed_while_idle(path: Path) -> None:
    """The process killed between two transactions: the next write finds it gone (its pipe closed), and it and
    every write after are committed here, once."""
    opened = await Store.open(str(path), secret_key="rows")
    try:
        process = await started(opened)
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
        await process._process.wait()  # type: ignore[union-attr]  # dead, its pipe closed, before the next write
        assert await write(opened, "i1", "i2") is None
        assert process.lost is not None and not process.ready
        assert await write(opened, "i3") is None
    finally:
        await asyncio.wait_for(opened.close(), 30)
    assert [k for k in keys_in(path) if k.startswith("i")] == ["i1", "i2", "i3"]


async def test_a_process_killed_while_idle_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(rows_process, "START_AFTER", 3)
    await killed_while_idle(tmp_path / "rows.db")


def test_a_process_killed_while_idle_loses_nothing_on_the_servers_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """On uvloop, which `serve` and `run` use, a write to the closed pipe raises RuntimeError, not OSError: the
    process was taken as alive, and every transaction after it failed and was dropped."""
    monkeypatch.setattr(rows_process, "START_AFTER", 3)
    run_loop(killed_while_idle(tmp_path / "rows.db"))


async def stopped(store: Store, monkeypatch: pytest.MonkeyPatch, timeout: str) -> RowsProcess:
    """The store's rows process, stopped (SIGSTOP), with `timeout` (a module constant) made half a second."""
    process = await started(store)
    monkeypatch.setattr(rows_process, timeout, 0.5)
    assert process.pid is not None
    os.kill(process.pid, signal.SIGSTOP)
    return process


async def test_a_stopped_process_counts_as_lost_once_it_answers_nothing(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A stopped process (SIGSTOP) answers never: the writer waited for it for good, and the run with it."""
    process = await stopped(store, monkeypatch, "ANSWER_TIMEOUT")
    assert await write(store, "s1") is None
    assert process.lost is not None and "answered nothing" in process.lost
    assert not alive(process.pid)  # killed, not left stopped
    assert [k for k in keys_in(tmp_path / "rows.db") if k.startswith("s")] == ["s1"]


async def test_the_process_is_out_of_this_process_group(store: Store):
    """A signal to the group (Ctrl-C, a CI job's timeout) reaches this process, which stops the child by ending its
    input: killed with the group, the child died between transactions and printed tracebacks."""
    process = await started(store)
    assert process.pid is not None
    assert os.getpgid(process.pid) != os.getpgid(0)


async def test_a_process_lost_between_its_commit_and_its_answer_is_not_written_twice(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Its transaction is in the store: written again, its rows would be refused as duplicates and its owner told
    of a failure (a run's deliveries then never sent)."""
    await started(store)
    real = RowsProcess.write

    async def commits_then_lost(self: RowsProcess, plan: Any) -> None:
        await real(self, plan)
        raise Lost

    monkeypatch.setattr(RowsProcess, "write", commits_then_lost)
    assert await write(store, "c1", "c2") is None
    assert [k for k in keys_in(tmp_path / "rows.db") if k.startswith("c")] == ["c1", "c2"]


async def test_a_process_lost_before_its_commit_has_the_rows_written_here(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    await started(store)

    async def lost(self: RowsProcess, plan: Any) -> None:
        raise Lost

    monkeypatch.setattr(RowsProcess, "write", lost)
    assert await write(store, "n1", "n2") is None
    assert [k for k in keys_in(tmp_path / "rows.db") if k.startswith("n")] == ["n1", "n2"]


RUN = """name: many
provider: basistheory
steps:
  - repeat: 150
    steps:
      - emit: token.created
"""


async def played(folder: Path, receiver: Receiver) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """A run at speed 0 of 150 events: the events and deliveries stored, in order."""
    (folder / "many.yaml").write_text(RUN)
    sim = await Simulator.open(str(folder / "sim.db"), scenario_dirs=[folder])
    try:
        await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=8))
        run = await sim.runs.start(RunSpec(scenario="many", speed=0, seed=3, start_time="2025-01-01T00:00:00Z"))
        run = await asyncio.wait_for(sim.runs.wait(run.id), 60)
        assert run.counts == {"succeeded": 150}
        process = sim.store.writer.rows_process
        through_process = process is not None and process.transactions > 0
    finally:
        await asyncio.wait_for(sim.close(grace=1), 30)
    with sqlite3.connect(folder / "sim.db") as db:
        # Not the keys: they hold the run's id, which is new in each run.
        events = list(db.execute("select seq, id, type, occurred_at, body from events order by seq"))
        deliveries = list(db.execute("select type, status, attempts, last_status from deliveries order by n"))
    assert through_process == (rows_process.START_AFTER == 0)
    return events, [tuple(d) for d in deliveries]


async def test_a_run_written_by_the_process_stores_what_the_thread_stores(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "thread").mkdir()
    (tmp_path / "process").mkdir()
    monkeypatch.setattr(rows_process, "START_AFTER", 10**9)
    thread = await played(tmp_path / "thread", receiver)
    monkeypatch.setattr(rows_process, "START_AFTER", 0)
    process = await played(tmp_path / "process", receiver)
    assert len(process[0]) == 150 and process == thread
    assert len(receiver.requests) == 300


async def test_a_process_that_cannot_open_the_store_leaves_the_rows_to_the_thread(tmp_path: Path, monkeypatch):
    """A path that is not the store's own file (a URI filename read as a path was one) is never created empty and
    written to: the process stops at once, and the thread writes everything."""
    monkeypatch.setattr(rows_process, "START_AFTER", 3)
    path = tmp_path / "rows.db"
    opened = await Store.open(str(path), secret_key="rows")
    process = process_of(opened)
    process.database = str(tmp_path / "elsewhere.db")
    try:
        for i in range(20):
            assert await write(opened, f"e{i}") is None
            if process.lost is not None:
                break
            await asyncio.sleep(0.05)
        assert process.lost is not None and process.transactions == 0
        assert await write(opened, "after") is None
    finally:
        await asyncio.wait_for(opened.close(), 30)
    assert not (tmp_path / "elsewhere.db").exists()
    assert "after" in keys_in(path) and len([k for k in keys_in(path) if k.startswith("e")]) >= 1


@pytest.mark.parametrize("url", ["sqlite:///file:u.db?uri=true", "sqlite:///u.db?uri=false"])
async def test_a_uri_filename_is_refused_naming_db(tmp_path: Path, monkeypatch, url: str):
    """Its lock, key and owner-only mode went to a literal `file:u.db` while the driver opened `u.db`, unlocked and
    readable by anyone, and the rows process could not open it."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput) as refused:
        await Store.open(url, secret_key="rows")
    assert [e.field for e in refused.value.errors] == ["db"] and "give the file's path" in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # nothing made: no database, no lock, no key


async def test_a_path_that_starts_with_two_slashes_has_its_rows_written_by_the_process(tmp_path: Path, monkeypatch):
    """`//tmp/x.db` is `/tmp/x.db` to the system; the process's URI made of it named a host, `tmp`, and every
    transaction went back to the thread."""
    monkeypatch.setattr(rows_process, "START_AFTER", 3)
    opened = await Store.open("/" + str(tmp_path / "rows.db"), secret_key="rows")
    try:
        process = await started(opened)
        assert await write(opened, "slash") is None
        assert process.lost is None and process.transactions >= 1
    finally:
        await asyncio.wait_for(opened.close(), 30)
    assert "slash" in keys_in(tmp_path / "rows.db")


async def test_closing_does_not_wait_a_minute_for_a_stopped_process(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Ctrl-C or SIGTERM while the process answers nothing: the shutdown gives it STOP_TIMEOUT, not ANSWER_TIMEOUT."""
    process = await stopped(store, monkeypatch, "STOP_TIMEOUT")
    pending = asyncio.ensure_future(write(store, "z1"))
    await until(lambda: process._answer is not None, what="the write waiting for the stopped process's answer")
    store.writer.closing()
    assert await asyncio.wait_for(pending, 10) is None  # not the 60 s of ANSWER_TIMEOUT
    assert process.lost is not None
    assert [k for k in keys_in(tmp_path / "rows.db") if k.startswith("z")] == ["z1"]


@pytest.mark.parametrize("kind", ["fifo", "folder", "link to a fifo"])
async def test_a_path_that_is_not_a_regular_file_is_refused_naming_db_and_left_as_it_was(tmp_path: Path, kind: str):
    """`--db /dev/null` took /dev/null's mode down to 0600 (the store tightens its file's mode), which broke every
    other user of it, and left a `/dev/null.lock` behind. A FIFO and a folder stand for the device here."""
    target = tmp_path / "thing"
    if kind == "folder":
        target.mkdir(mode=0o755)
    else:
        os.mkfifo(target, 0o666)
    path = target if kind != "link to a fifo" else tmp_path / "link.db"
    if path != target:
        path.symlink_to(target)
    mode = target.stat().st_mode
    with pytest.raises(InvalidInput) as refused:
        await Store.open(str(path), secret_key="rows")
    assert [e.field for e in refused.value.errors] == ["db"] and "not a regular file" in str(refused.value)
    assert target.stat().st_mode == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"thing", path.name})  # no lock, no key


@pytest.mark.parametrize("content", [b"hello\n", b"SQLite format 2\x00" + b"\x00" * 100])
async def test_a_file_that_is_not_an_sqlite_database_is_refused_naming_db_and_left_as_it_was(
    tmp_path: Path, content: bytes
):
    """A text file given as `--db` was made readable by its owner alone, with a `.lock` left beside it, before
    SQLite said `file is not a database`."""
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    path.chmod(0o644)
    with pytest.raises(InvalidInput) as refused:
        await Store.open(str(path), secret_key="rows")
    assert [e.field for e in refused.value.errors] == ["db"] and "not an SQLite database" in str(refused.value)
    assert (path.stat().st_mode & 0o777, path.read_bytes()) == (0o644, content)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]  # no lock, no key
