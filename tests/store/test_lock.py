"""One process per SQLite database: a second `serve` or `run` on the same file is refused at start-up, naming
the process that holds it; the holder's death (even SIGKILL) frees it; the files are readable by their owner only."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.errors import StoreInUse
from simulator.store import Store
from tests.api.harness import write_scenarios
from tests.api.test_restart import ROOT, ServerProcess


def webhook_sim(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    command = [sys.executable, "-m", "simulator.cli", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def first(tmp_path: Path):
    server = ServerProcess(tmp_path / "sim.db", write_scenarios(tmp_path / "scenarios"), tmp_path / "first")
    server.wait_ready().close()
    yield server
    server.stop(signal.SIGKILL)


def test_a_second_serve_on_the_same_database_is_refused_naming_the_holder(first: ServerProcess, tmp_path: Path):
    second = webhook_sim("serve", "--port", "0", "--db", str(tmp_path / "sim.db"))
    assert second.returncode == 1, second.stderr
    assert f"sim.db is in use by pid {first.proc.pid} (webhook-sim serve, since " in second.stderr
    assert first.proc.poll() is None  # the holder goes on serving


def test_a_run_on_a_served_database_is_refused(first: ServerProcess, tmp_path: Path):
    db, scenarios = str(tmp_path / "sim.db"), str(tmp_path / "scenarios")
    refused = webhook_sim(
        "run", "api-one-event", "--scenarios", scenarios, "--target", "http://127.0.0.1:9/x", "--db", db
    )
    assert refused.returncode == 1 and f"is in use by pid {first.proc.pid}" in refused.stderr


def test_the_lock_dies_with_its_holder(first: ServerProcess, tmp_path: Path):
    first.stop(signal.SIGKILL)
    again = ServerProcess(tmp_path / "sim.db", tmp_path / "scenarios", tmp_path / "again")
    try:
        again.wait_ready().close()
    finally:
        assert again.stop() == 0


async def test_one_store_per_file_in_a_process_too_and_released_on_close(tmp_path: Path):
    db = str(tmp_path / "x.db")
    store = await Store.open(db)
    with pytest.raises(StoreInUse, match=rf"x\.db is in use by pid {os.getpid()} "):
        await Store.open(db)
    await store.close()
    await (await Store.open(db)).close()


async def test_the_database_and_its_wal_are_private(tmp_path: Path):
    old = os.umask(0o022)
    try:
        store = await Store.open(str(tmp_path / "secrets.db"))
        await store.set_setting("k", "v")
        files = [tmp_path / name for name in ("secrets.db", "secrets.db-wal", "secrets.db-shm", "secrets.db.lock")]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()}
        await store.close()
    finally:
        os.umask(old)
    assert {"secrets.db", "secrets.db-wal"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_another_name_for_the_served_database_is_refused_too(first: ServerProcess, tmp_path: Path, link: str):
    """Through a hard link a second server once opened the database with a WAL of its own and corrupted it."""
    other = tmp_path / "other-name.db"
    (other.symlink_to if link == "symbolic" else other.hardlink_to)(tmp_path / "sim.db")
    second = webhook_sim("serve", "--port", "0", "--db", str(other))
    assert second.returncode == 1, second.stderr
    assert "is in use by" in second.stderr and "Traceback" not in second.stderr
    assert f"pid {first.proc.pid} (webhook-sim serve, since " in second.stderr, second.stderr  # whoever holds it
    assert first.proc.poll() is None
    assert not (tmp_path / "other-name.db-wal").exists()


async def test_a_hard_link_in_one_process_is_refused_and_free_again_once_closed(tmp_path: Path):
    db, link = tmp_path / "x.db", tmp_path / "y.db"
    store = await Store.open(str(db))
    link.hardlink_to(db)
    with pytest.raises(StoreInUse, match="under another name"):
        await Store.open(str(link))
    await store.set_setting("k", "v")  # the refusal left the holder's SQLite locks alone
    await store.close()
    await (await Store.open(str(db))).close()


async def test_a_store_serve_cannot_open_is_refused_in_one_line_before_it_binds(tmp_path: Path):
    db = tmp_path / "sealed.db"
    await (await Store.open(str(db))).close()
    (tmp_path / "sealed.db.key").unlink()
    refused = webhook_sim("serve", "--port", "0", "--db", str(db))
    assert refused.returncode == 1 and "sealed.db.key is missing" in refused.stderr
    assert "Traceback" not in refused.stderr and "Uvicorn running" not in refused.stderr


async def test_an_ephemeral_store_leaves_no_file_behind():
    store = await Store.open("memory")
    temp = store._temp_file
    assert temp is not None and temp.exists()
    await store.close()
    assert sorted(temp.parent.glob(f"{temp.name}*")) == []  # the database, its WAL and its lock file
