"""`webhook-sim serve` as a child process, for what only a real process shows: its exit status and messages,
its text log, its file descriptor limit."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any WEBHOOK_SIM_* of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    return {**env, **extra}


def serve_once(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess:
    """Run `webhook-sim serve ARGS` expecting it to exit by itself (a refusal)."""
    command = [sys.executable, "-m", "simulator.cli", "serve", *args]
    return subprocess.run(command, cwd=ROOT, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)


class Served:
    """`webhook-sim serve --port 0 ARGS` until `stop()`; its stdout and stderr in files under `logs`."""

    def __init__(
        self,
        logs: Path,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        max_files: int | None = None,
        soft_files: int | None = None,
    ) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.out, self.err = logs / "serve.out", logs / "serve.err"
        command = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--db", str(logs / "api.db"), *args]

        def limit() -> None:
            if max_files is not None:  # soft and hard
                resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))
            if soft_files is not None:  # the soft limit alone, which the process may raise
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=env or clean_env(), stdout=out, stderr=err, preexec_fn=limit
            )
        self.url = self._announced()
        self.port = int(self.url.rsplit(":", 1)[1])

    def _announced(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.err.read_text()}")
            for line in self.out.read_text().splitlines():
                if " serving on " in line:
                    url = line.rsplit(" ", 1)[1]
                    if healthy(url):
                        return url
            time.sleep(0.05)
        raise AssertionError("serve did not start")

    def log(self) -> str:
        return self.err.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(30)


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
