"""A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary directory, `pg_ctl start` listening on
a Unix socket there only (no TCP port at all), `pg_ctl stop` at the end.

Run as root, the server and initdb refuse to start, so they run as the unprivileged `postgres` user (Debian's
package creates it) through `runuser`. Every step is bounded in time; readiness is waited on with `pg_isready`,
not guessed.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MISSING = "PostgreSQL is not installed (apt-get install postgresql)"
START_TIMEOUT = 60.0  # seconds: initdb plus the first start on a busy machine
PORT = 5432  # only names the socket file (.s.PGSQL.5432) in the private socket directory
_template: Path | None = None  # an initdb's data directory, copied for each cluster (see `Cluster._init_data`)


def bindir() -> Path | None:
    """Where initdb, pg_ctl and pg_isready are: pg_config's answer, else the newest Debian cluster version."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0))
    candidates.extend(Path(p) for p in reversed(versions))
    for path in candidates:
        if all((path / tool).exists() for tool in ("initdb", "pg_ctl", "pg_isready", "postgres")):
            return path
    return None


class Cluster:
    """One PostgreSQL server in `root` (data directory and socket), owned by `user` when started as root."""

    def __init__(self, binaries: Path, root: Path) -> None:
        self.bin = binaries
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "run"
        self.log = root / "server.log"
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._started = False

    def _cmd(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bin / tool), *args]
        return ["runuser", "-u", self.user, "--", *command] if os.geteuid() == 0 else command

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> None:
        done = subprocess.run(self._cmd(tool, *args), capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> Cluster:
        self.socket_dir.mkdir(parents=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._init_data()
        options = f"-k {self.socket_dir} -c listen_addresses='' -p {PORT} -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self._started = True
        self._wait_ready()
        return self

    def _init_data(self) -> None:
        """A fresh data directory: a copy of one `initdb` made once per process. initdb costs more than a CPU
        second (it bootstraps the catalogs and the template databases), and the suite starts some sixty clusters;
        a copy of its result, never started, is the same directory for a fraction of that."""
        global _template
        if _template is None or not _template.exists():
            made = Path(tempfile.mkdtemp(prefix="webhook-sim-pg-template-"))
            atexit.register(shutil.rmtree, made, True)
            if os.geteuid() == 0:
                entry = pwd.getpwnam(self.user)
                os.chown(made, entry.pw_uid, entry.pw_gid)
            data = made / "data"
            self._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
            _template = data
        # `cp -a` keeps the owner (the server's user) and the data directory's mode (0700), which the server checks.
        done = subprocess.run(["cp", "-a", str(_template), str(self.data)], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"cp failed ({done.returncode}): {done.stderr.strip()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            probe = self._cmd("pg_isready", "-h", str(self.socket_dir), "-p", str(PORT), "-U", "postgres")
            if subprocess.run(probe, capture_output=True, timeout=10).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections in {START_TIMEOUT:.0f} s: see {self.log}")
            time.sleep(0.05)  # polling a condition with a deadline, not a guess

    def create_database(self, name: str) -> str:
        """A fresh database; returns its async URL (asyncpg over the Unix socket)."""
        self._run("createdb", "-h", str(self.socket_dir), "-p", str(PORT), "-U", "postgres", name, timeout=30)
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}&port={PORT}"

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=40)


def start_cluster() -> Cluster:
    """Start a cluster in a new temporary directory (removed by `remove`)."""
    binaries = bindir()
    if binaries is None:
        raise FileNotFoundError(MISSING)
    root = Path(tempfile.mkdtemp(prefix="webhook-sim-pg-"))
    cluster = Cluster(binaries, root)
    try:
        return cluster.start()
    except BaseException:
        remove(cluster)
        raise


@contextmanager
def throwaway() -> Iterator[Cluster]:
    """A cluster for a test session or module, removed after; the test skips, saying why, without PostgreSQL."""
    if bindir() is None:
        pytest.skip(MISSING)
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        remove(cluster)


def remove(cluster: Cluster) -> None:
    try:
        cluster.stop()
    finally:
        shutil.rmtree(cluster.root, ignore_errors=True)


def restart(cluster: Cluster, action: str = "restart") -> None:
    """Restart the server (fast shutdown: sessions are cut, as in a failover or an upgrade); `action` "stop"
    leaves it down, and "start" brings it back."""
    options = f"-k {cluster.socket_dir} -c listen_addresses='' -p {PORT} -c fsync=off -c max_connections=50"
    cluster._run(
        "pg_ctl",
        "-D",
        str(cluster.data),
        "-l",
        str(cluster.log),
        "-o",
        options,
        "-m",
        "fast",
        "-w",
        "-t",
        "60",
        action,
        timeout=90,
    )
    if action != "stop":
        cluster._wait_ready()
