"""`webhook-sim listen` as a subprocess whose stdout and stderr lines are read as they come, so a test waits on a
line (with a bound) rather than on a sleep."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from tests.cli.conftest import TIMEOUT


class ListenProcess:
    """`webhook-sim listen ARGS`, with no WEBHOOK_SIM_* variable of the test's environment; `stdout`, a file
    descriptor the test holds (say a pipe's writing end), takes its stdout unread instead of a pipe read here."""

    def __init__(self, *args: str, stdout: int | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "listen", *args],
            stdout=subprocess.PIPE if stdout is None else stdout,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._new: queue.Queue[tuple[str, str | None]] = queue.Queue()
        streams = {"stdout": self.proc.stdout, "stderr": self.proc.stderr}
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in streams.items()
            if stream is not None
        ]
        for reader in self._readers:
            reader.start()
        self._open = {name for name, stream in streams.items() if stream is not None}

    def _read(self, name: str, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._new.put((name, line.rstrip("\n")))
        self._new.put((name, None))

    def _take(self, timeout: float) -> bool:
        """Take the next line read; False when nothing came within `timeout` or both streams ended."""
        if not self._open:
            return False
        try:
            name, line = self._new.get(timeout=timeout)
        except queue.Empty:
            return False
        if line is None:
            self._open.discard(name)
        else:
            self.lines[name].append(line)
        return True

    def wait_for(self, stream: str, pattern: str, count: int = 1, timeout: float = TIMEOUT) -> list[re.Match[str]]:
        """The first `count` lines of `stream` that match `pattern`, once they have come."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for line in self.lines[stream] if (m := re.search(pattern, line))]
            if len(found) >= count:
                return found[:count]
            left = deadline - time.monotonic()
            if left <= 0 or not self._take(left):
                raise AssertionError(f"no {count} line(s) matching {pattern!r} on {stream}: {self.lines}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = TIMEOUT) -> int:
        """Send `sig`, wait for the exit, read what is left; the exit code."""
        self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = TIMEOUT) -> int:
        """Wait for the exit, read what is left; the exit code."""
        code = self.proc.wait(timeout=timeout)
        while self._take(timeout=5):
            pass
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)
        for reader in self._readers:  # the pipes end with the process; closed under a reader, it would fail
            reader.join(timeout=TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
