"""`trigger --server --target URL` with the options of a target (`--signing`, `--secret`, `--max-attempts`,
`--retry-delays`): the event goes to its own target, which the server sends nothing else. A subscription made for
it stayed when its delivery had not ended as the command did (`--wait 0`, a wait run out, Ctrl-C), never disabled,
and every later event of the type went there. And SIGTERM (how CI cancels a step) ends the wait as Ctrl-C does:
the state so far, then exit 143."""

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

from simulator.testing.receiver import Receiver
from tests.api.harness import eventually


def test_a_target_with_retry_options_is_sent_its_event_alone_and_retried_as_asked(main, server, api, make_receiver):
    target, subscribed = make_receiver(), make_receiver()
    target.respond(500)
    made = api.post("/subscriptions", json={"url": subscribed.url, "events": ["token.*"]})
    assert made.status_code == 201, made.text
    given = ["--target", target.url, "--max-attempts", "2", "--retry-delays", "0", "--wait", "0"]
    ran = main("trigger", "token.created", "--server", server.url, *given)  # the command ends at once
    assert ran.code == 0, ran
    assert "signed with a generated secret: " not in ran.err  # Basis Theory's own signing takes none
    [delivery_id] = set(re.findall(r"^delivery (\S+) ", ran.out, re.M))

    def ended() -> list[int | None]:
        found = api.get(f"/deliveries/{delivery_id}").json()
        return [a["status_code"] for a in found["attempt_log"]] if found["status"] == "dead" else []

    assert eventually(ended, timeout=20, what="its delivery to die") == [500, 500]  # --max-attempts 2, as asked
    again = main("trigger", "token.created", "--server", server.url)  # to the subscriptions, waited for
    assert again.code == 0, again
    assert len(subscribed.requests) == 1
    assert len(target.requests) == 2  # the two attempts of its own event, and nothing of the later one
    assert [s["url"] for s in api.get("/subscriptions").json()["data"]] == [subscribed.url]


def test_sigterm_ends_the_wait_with_the_state_so_far(server, receiver: Receiver):
    receiver.respond(204, delay=30)  # still answering when the command is stopped
    command = [sys.executable, "-m", "simulator.cli", "trigger", "token.created", "--server", server.url]
    command += ["--target", receiver.url, "--max-attempts", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        lines = _Lines(proc.stdout)
        lines.until("waiting up to", timeout=30)  # the event made, its delivery waited on
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143
        out, err = lines.all(timeout=10), proc.stderr.read()
    assert re.search(r"^delivery \S+ → \S+: still pending after [0-9.]+ s", out, re.M), (out, err)
    assert "interrupted; the server goes on delivering it" in out + err, (out, err)
    assert "Traceback" not in err


class _Lines:
    """A stream's lines as they come, read by a thread (a text stream buffers what a `select` on its pipe would
    no longer see)."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._seen = ""

        def read() -> None:
            for line in iter(stream.readline, ""):
                self._queue.put(line)
            self._queue.put(None)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def until(self, words: str, timeout: float) -> None:
        """Wait until a line holding `words` has come, `timeout` seconds at most."""
        deadline = time.monotonic() + timeout
        while words not in self._seen:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {words!r} within {timeout} s: {self._seen!r}") from None
            assert line is not None, f"the stream ended before a line with {words!r}: {self._seen!r}"
            self._seen += line

    def all(self, timeout: float) -> str:
        """Every line, once the stream has ended."""
        self._reader.join(timeout)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self._seen += line
        return self._seen
