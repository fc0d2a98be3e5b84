"""`webhook-sim worker` refuses what it cannot use, plainly: a store processes cannot share (exit 2), a lease
length out of range (exit 2), a PostgreSQL it cannot reach (exit 1, the password masked, no traceback)."""

from __future__ import annotations

import subprocess
import sys


def worker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "worker", *args], capture_output=True, text=True, timeout=60
    )


def test_a_sqlite_store_is_refused_naming_the_option(tmp_path):
    done = worker("--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert done.returncode == 2
    assert "--db postgresql://" in done.stderr and "db: not a PostgreSQL URL" in done.stderr


def test_a_lease_length_out_of_range_is_refused():
    for value in ("0.1", "nan", "inf"):
        done = worker("--db", "postgresql://a@/b", "--lease-ttl", value)
        assert done.returncode == 2, value
        assert "lease-ttl: out of range" in done.stderr, value


def test_an_unreachable_store_is_an_error_line_not_a_traceback():
    done = worker("--db", "postgresql://nobody:hunter2@127.0.0.1:1/x")  # port 1: nothing listens
    assert done.returncode == 1, done.stderr
    assert "error: cannot open the store at postgresql://nobody:***@127.0.0.1:1/x" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
