"""`webhook-sim run` stopped by Ctrl-C or SIGTERM (how CI cancels a step), the attempts under way then, and a
receiver's answer with control characters in the summary, the JUnit file, `trigger` and `resend`; `listen
--forward-to` and a service whose answer never ends; `run --db` on a store an earlier run left deliveries in."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from xml.dom import minidom

import httpx
import pytest
from rich.console import Console

from simulator.cli.listen import Listener
from simulator.cli.listen_options import ListenOptions
from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, SubscriptionSpec, parse
from simulator.runtime import AppServer
from simulator.testing.receiver import Receiver
from tests.cli.conftest import TIMEOUT
from tests.cli.test_deliveries import NO_RETRY, emit, settled
from tests.cli.test_run import SLOW

INTERRUPTED = "interrupted: the sender stopped before an answer came"
# What a hostile receiver answers: clear the screen, retitle the terminal, ring, NUL, vertical tab, form feed.
CONTROLS = b"\x1b[2J\x1b]0;t\x07\x08\x01\x0b\x0c\x05abc\x00 \r\x1b[Kok"
ANSWER_500 = b"HTTP/1.1 500 X\r\nContent-Length: %d\r\n\r\n%s" % (len(CONTROLS), CONTROLS)
RAW = ("\x1b", "\x00", "\x07", "\x01", "\x0b", "\x0c")


class Hostile:
    """A receiver on 127.0.0.1 that reads each request and answers `answer`, raw (None: never answers); `then`
    "forever" streams an endless chunked body after it, "trickle" one chunk a second."""

    def __init__(self, answer: bytes | None, then: str | None = None) -> None:
        self.answer, self.then = answer, then
        self.requests = 0
        self.port = 0
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Hostile:
        self._thread.start()
        assert self._ready.wait(TIMEOUT)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(TIMEOUT)

    def wait_for(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.requests >= count, TIMEOUT), f"{self.requests} requests"

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        for task in self._handlers:  # ended here, not left pending for the loop's end to find
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                with self._changed:
                    self.requests += 1
                    self._changed.notify_all()
                if self.answer is None:
                    await asyncio.Event().wait()
                writer.write(self.answer)
                await writer.drain()
                while self.then in ("forever", "trickle"):
                    writer.write(b"1000\r\n" + b"x" * 4096 + b"\r\n")
                    await writer.drain()
                    await asyncio.sleep(1 if self.then == "trickle" else 0)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the client went, or the receiver stops: the connection ends


class Running:
    """`webhook-sim ARGS` in a subprocess: its stderr read line by line as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "simulator.cli", *args]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.err: list[str] = []
        self._out: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=lambda: self._out.append(self.proc.stdout.read()), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_line(self, text: str) -> None:
        while not any(text in line for line in self.err):
            line = self.lines.get(timeout=TIMEOUT)
            assert line is not None, self.err
            self.err.append(line)

    def finish(self, signum: int | None = None) -> tuple[int, str, str]:
        """Send `signum` (if any) and wait for the end: the exit code, stdout and the whole of stderr."""
        try:
            if signum is not None:
                self.proc.send_signal(signum)
            self.proc.wait(TIMEOUT)
        finally:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        for reader in self._readers:
            reader.join(TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            assert stream is not None
            stream.close()
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            self.err.append(line)
        return self.proc.returncode, "".join(self._out), "".join(self.err)


def run_args(tmp_path: Path, target: str, *more: str) -> list[str]:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW)
    files = ["--report", str(tmp_path / "report.json"), "--junit", str(tmp_path / "junit.xml")]
    return ["run", str(scenario), "--target", target, *files, *more]


def junit_parses(path: Path) -> ET.Element:
    minidom.parse(str(path))
    return ET.parse(path).getroot()


# -- SIGTERM -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_db", [False, True], ids=["temporary store", "--db"])
def test_sigterm_ends_the_run_as_ctrl_c_does(tmp_path: Path, receiver: Receiver, with_db: bool):
    """CI cancels a step with SIGTERM: the summary and the reports are still written, the temporary store deleted,
    a --db store's run ends. SIGTERM killed it outright: no summary, no report, the store's files left behind."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    db = tmp_path / "runs.db"
    more = ["--speed", "1", *(["--db", str(db)] if with_db else [])]
    ran = Running(*run_args(tmp_path, receiver.url, *more), env={**os.environ, "TMPDIR": str(temp)})
    receiver.wait_for(1, timeout=TIMEOUT)
    ran.wait_line("succeeded=1")  # its answer recorded: the summary below is exact
    code, out, err = ran.finish(signal.SIGTERM)
    assert code == 143, (out, err)
    assert "status: cancelled" in out.splitlines() and "succeeded: 1" in out.splitlines(), out
    assert err.splitlines()[-1] == "interrupted: this is what happened before SIGTERM"
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "cancelled"
    assert junit_parses(tmp_path / "junit.xml").get("tests") == "2"  # the delivery and the run's own case
    assert list(temp.iterdir()) == []
    if with_db:
        with sqlite3.connect(db) as conn:
            assert conn.execute("select status from runs").fetchall() == [("cancelled",)]
            assert conn.execute("select status from deliveries").fetchall() == [("succeeded",)]


# -- attempts under way at Ctrl-C ----------------------------------------------------------------------------


def test_an_attempt_under_way_at_ctrl_c_is_reported_as_made(tmp_path: Path):
    """The receiver has the request and never answers: after the second of grace, the summary, the report and the
    JUnit file say the attempt was made and cut short. They said `pending after 0 attempts, not attempted yet`."""
    with Hostile(None) as hostile:
        ran = Running(*run_args(tmp_path, hostile.url, "--speed", "1"))
        hostile.wait_for(1)
        code, out, err = ran.finish(signal.SIGINT)
    assert code == 130, (out, err)
    assert "attempts: 1" in out.splitlines(), out
    [line] = [line for line in out.splitlines() if "token.created" in line]
    assert line.endswith(f"pending after 1 attempt, {INTERRUPTED}"), out
    [failure] = json.loads((tmp_path / "report.json").read_text())["failures"]
    assert (failure["attempts"], failure["reason"], failure["error"]) == (1, INTERRUPTED, INTERRUPTED)
    messages = [f.get("message") for f in junit_parses(tmp_path / "junit.xml").iter("failure")]
    assert messages == [line.strip()]


def test_the_summary_counts_every_request_the_receiver_had(tmp_path: Path, receiver: Receiver):
    """Ctrl-C while deliveries wait their turn: no attempt starts after it, and each one made (answered in the
    grace) is counted. The lane went on sending during the grace, and the report, read meanwhile, counted as not
    attempted a delivery the receiver had."""
    receiver.respond(204, delay=0.3)
    args = run_args(tmp_path, receiver.url, "--speed", "0")
    args[1] = "syncfy-credential-lifecycle"
    ran = Running(*args)
    receiver.wait_for(1, timeout=TIMEOUT)  # answered: the next attempt is under way, its answer 0.3 s off
    code, out, err = ran.finish(signal.SIGINT)
    assert code == 130, (out, err)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["attempts"] == len(receiver.requests) >= 1, (report, receiver.requests)
    had = set(receiver.event_ids())
    assert not [f for f in report["failures"] if set(f["event_ids"]) & had], report


# -- control characters in the receiver's answer -------------------------------------------------------------


def test_control_characters_of_an_answer_are_escaped_in_junit_and_summary(tmp_path: Path):
    """XML 1.0 cannot hold ESC, NUL, 0x01, 0x0B or 0x0C: the JUnit file did not parse. The summary printed them
    raw: a receiver could clear the terminal or rewrite the CI log's lines."""
    with Hostile(ANSWER_500) as hostile:
        ran = Running(*run_args(tmp_path, hostile.url, "--speed", "0", "--max-attempts", "1"))
        code, out, err = ran.finish()
    assert code == 1, (out, err)
    suite = junit_parses(tmp_path / "junit.xml")
    messages = [f.get("message") or "" for f in suite.iter("failure")]
    texts = [f.text or "" for f in suite.iter("failure")]
    assert len(messages) == 2 and all("answer: \\x1b[2J\\x1b]0;t\\x07" in m for m in messages), messages
    assert all("\\x00" in t and "\\x0b\\x0c" in t for t in texts), texts
    assert not any(c in out for c in RAW) and out.count("answer: \\x1b[2J") == 2, out
    report = json.loads((tmp_path / "report.json").read_text())  # JSON escapes them itself: the text is kept
    assert report["failures"][0]["response"].startswith("\x1b[2J")


def test_trigger_escapes_the_answer(main):
    with Hostile(ANSWER_500) as hostile:
        ran = main("trigger", "basistheory:token.created", "--target", hostile.url, "--max-attempts", "1")
    assert ran.code == 1, ran
    assert not any(c in ran.out for c in RAW) and "answer: \\x1b[2J" in ran.out, ran


def test_resend_escapes_the_answer(main, server, api):
    with Hostile(ANSWER_500) as hostile:
        api.post("/subscriptions", json={"url": hostile.url, "events": ["token.*"], "retry": NO_RETRY})
        [delivery] = emit(api)["deliveries"]
        settled(api, delivery, "dead")
        ran = main("resend", delivery, "--server", server.url, "--wait", "20")
    assert ran.code == 1, ran
    assert not any(c in ran.out for c in RAW) and "answer: \\x1b[2J" in ran.out, ran


def test_trigger_says_an_attempt_is_under_way_when_the_wait_ends(main):
    """The receiver has the request and has not answered: `still pending after 1 s` said nothing of it, and the
    attempts counted 0."""
    with Hostile(None) as hostile:
        ran = main("trigger", "basistheory:token.created", "--target", hostile.url, "--wait", "1")
        assert hostile.requests == 1
    assert ran.code == 1, ran
    assert re.search(r": still pending after [\d.]+ s, attempt 1 under way with no answer yet", ran.out), ran


# -- listen --forward-to -------------------------------------------------------------------------------------


@pytest.fixture
def listen() -> Iterator[object]:
    servers: list[AppServer] = []

    def start(**options: object) -> tuple[Listener, str]:
        listener = Listener(ListenOptions(**options), Console(file=io.StringIO(), width=300, color_system=None))
        server = AppServer().start(listener.app(), lifespan="on")
        servers.append(server)
        return listener, server.url + "/webhooks"

    yield start
    for server in servers:
        server.stop()


def test_forward_to_an_endless_answer_answers_502(listen):
    """The service streams an endless answer: `listen` stops at the 64 KiB the sender keeps, and says so. It read
    on for as long as the service sent, its memory growing without bound."""
    with Hostile(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "forever") as service:
        listener, url = listen(forward_to=service.url)
        answer = httpx.post(url, content=b"{}", timeout=10)
    assert answer.status_code == 502
    assert "longer than 64 KiB" in answer.text
    [arrival] = listener.arrivals
    assert arrival.status == 502 and arrival.note.startswith("forward failed: the answer from")


def test_forward_to_a_slow_answer_ends_at_the_deadline(listen):
    with Hostile(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "trickle") as service:
        listener, url = listen(forward_to=service.url, forward_deadline=0.5)
        answer = httpx.post(url, content=b"{}", timeout=10)
    assert answer.status_code == 504
    assert "no whole answer" in answer.text and "within 0.5 s" in answer.text
    assert [a.status for a in listener.arrivals] == [504]


# -- run --db on a store with earlier deliveries -------------------------------------------------------------


async def _left_pending(db: Path, url: str, hostile: Hostile) -> str:
    """A store holding a delivery still to send (its attempt cut short, as when its process died): its id."""
    sim = await Simulator.open(str(db))
    try:
        sub = await sim.create_subscription(parse(SubscriptionSpec, {"url": url}))
        _, [delivery] = await sim.emit(
            parse(EventSpec, {"type": "basistheory:token.created", "subscriptions": [sub.id]})
        )
        await asyncio.to_thread(hostile.wait_for, 1)
    finally:
        await sim.close(grace=0)
    return delivery


def test_run_with_db_sends_only_its_own_deliveries(tmp_path: Path, receiver: Receiver):
    """A delivery an earlier process left in the store goes to that process's target: `run` leaves it for `serve`
    and says so. It sent it, unreported, among its own, and left the rest half-sent when its run ended."""
    db = tmp_path / "runs.db"
    with Hostile(None) as old:
        delivery = asyncio.run(_left_pending(db, old.url, old))
        scenario = tmp_path / "slow.yaml"
        scenario.write_text(SLOW)
        ran = Running("run", str(scenario), "--target", receiver.url, "--speed", "0", "--db", str(db))
        code, out, err = ran.finish()
        assert old.requests == 1
    assert code == 0, (out, err)
    assert "\n1 delivery made before this run is still to send in this store: left for `webhook-sim serve`" in (
        "\n" + err
    ), err
    assert len(receiver.requests) == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("select status from deliveries where id = ?", (delivery,)).fetchall() == [("pending",)]


def test_sigterm_ends_trigger_as_ctrl_c_does(tmp_path: Path, receiver: Receiver):
    """Without --server, trigger's delivery lives in a temporary store of its own: SIGTERM killed it outright,
    printing nothing and leaving that store (with the event and its secret) in $TMPDIR."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    receiver.respond(204, delay=20)  # the attempt is under way when the signal comes
    ran = Running("trigger", "token.created", "--target", receiver.url, env={**os.environ, "TMPDIR": str(temp)})
    deadline = time.monotonic() + TIMEOUT
    while receiver.in_flight < 1:
        assert time.monotonic() < deadline, "the attempt never reached the receiver"
        time.sleep(0.02)
    code, out, err = ran.finish(signal.SIGTERM)
    assert code == 143, (out, err)
    assert "interrupted" in out + err, (out, err)
    assert list(temp.iterdir()) == []


def test_a_second_ctrl_c_ends_a_busy_run_at_once(tmp_path: Path, receiver: Receiver):
    """The help says a second Ctrl-C ends the run at once. During a busy run at speed 0 it raised KeyboardInterrupt
    inside a delivery's task, and the loop's end then waited for tasks that never finished: the run hung for good.
    Now the second one has the signal's own effect."""
    args = run_args(tmp_path, receiver.url, "--speed", "0", "--db", str(tmp_path / "busy.db"))
    args[1] = "basistheory-http-requests"
    args += ["--param", "duration=200h", "--param", "mean_gap=4s"]
    ran = Running(*args)
    receiver.wait_for(200, timeout=TIMEOUT)  # busy: deliveries under way on every lane
    ran.proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        ran.proc.wait(0.3)  # a user's second press, a moment later, while the first winds the run down
    if ran.proc.poll() is None:
        ran.proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        ran.proc.wait(30)
    assert ran.proc.poll() is not None, "the run is still running 30 s after its second Ctrl-C"
    code, _, err = ran.finish()
    assert code in (130, -signal.SIGINT), (code, err[-2000:])  # ended by the signal, or done with the first
    assert "KeyboardInterrupt" not in err, err[-2000:]
