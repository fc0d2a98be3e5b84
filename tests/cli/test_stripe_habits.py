"""The command line as a Stripe CLI user drives it: ids printed as soon as they exist, Ctrl-C that keeps what was
learnt, `--wait 0`, `deliveries --follow --limit`, `resend` of a delivery waiting for a retry, environment
variables that mean one thing per command, errors that name the option, and Ctrl-C at any moment."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO

import httpx
import pytest

from simulator import cli as webhook_sim
from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer, eventually
from tests.cli.conftest import TIMEOUT, Ran
from tests.cli.listen_process import ListenProcess

ANSWER = b'{"got": "syncfy", "verified": true}'
Held = tuple[str, threading.Event, threading.Event]  # a receiver's URL, "a request arrived", "answer it now"
LATER = {"delays": [3600], "jitter": 0}  # one retry, an hour away: the delivery waits in `failed`


class Command:
    """`webhook-sim ARGS` as a person runs it in a terminal: SIGINT as the shell leaves it (Ctrl-C is a
    KeyboardInterrupt), no WEBHOOK_SIM_* variable of the test's environment, lines read as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**clean, **(env or {})},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.out: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # the end of stdout

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """The first stdout line matching `pattern`, once it has come."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for line in self.out if (m := re.search(pattern, line))]
            if found:
                return found[0]
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                code, _, err = self.interrupt()
                raise AssertionError(f"no line matching {pattern!r} (exit {code}): {self.out}\n{err}")
            self.out.append(line)

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C; the exit code, all of stdout and stderr."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=TIMEOUT)
        finally:
            self.proc.kill()
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        while (line := self._lines.get(timeout=TIMEOUT)) is not None:
            self.out.append(line)
        self.proc.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code, "\n".join(self.out), err


def webhook_sim_command(*args: str) -> tuple[str, ...]:
    return ("-m", "simulator.cli", *args)


@pytest.fixture
def failing() -> Iterator[str]:
    """A receiver that answers every request 500 with a JSON body that reads like a success."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


@pytest.fixture
def holding() -> Iterator[Held]:
    """A receiver that holds each request until `release` is set (`arrived` says one came), then answers 204."""
    arrived, release = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            arrived.set()
            release.wait(TIMEOUT)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", arrived, release
    release.set()
    server.shutdown()
    server.server_close()


def delivery_in(api: httpx.Client, delivery_id: str, status: str) -> bool:
    return bool(api.get(f"/deliveries/{delivery_id}").json()["status"] == status)


# -- trigger: ids at once, Ctrl-C, --wait 0, the last answer of a delivery still retrying -----------------------


def test_trigger_prints_its_ids_at_once_and_ctrl_c_keeps_them(
    server: ApiServer, api: httpx.Client, failing: str
) -> None:
    """It printed nothing until its wait ended; Ctrl-C then left no id to look up, though the server goes on."""
    api.post("/subscriptions", json={"url": failing, "events": ["token.*"], "retry": LATER})
    trigger = Command(*webhook_sim_command("trigger", "token.created", "--server", server.url, "--wait", "600"))
    event = trigger.wait_for(r"^event (\S+) \(basistheory:token.created\)$").group(1)
    delivery = trigger.wait_for(r"^delivery (msg_\S+): created, waiting up to 600 s").group(1)
    eventually(lambda: delivery_in(api, delivery, "failed"), timeout=TIMEOUT, what="the first attempt's failure")
    code, out, err = trigger.interrupt()
    assert code == 130, (out, err)
    # The state so far, with the HTTP status of the last answer (its body alone read like a success).
    last = rf"^delivery {delivery}: still failed after [\d.]+ s \(last: HTTP 500; answer: {re.escape(ANSWER.decode())}"
    assert re.search(last + r"; next retry at \d\d:\d\d:\d\d\); interrupted", out, re.M), out
    assert "resend ID" in err and "Traceback" not in err, err
    assert api.get(f"/deliveries/{delivery}").json()["event_ids"] == [event]


def test_ctrl_c_of_trigger_without_a_server_says_its_retries_end(failing: str) -> None:
    trigger = Command(*webhook_sim_command("trigger", "token.created", "--target", failing, "--retry-delays", "1h"))
    trigger.wait_for(r"^event \S+ \(basistheory:token.created\)$")
    trigger.wait_for(r"^delivery msg_\S+ → \S+: created, waiting up to 30 s for its outcome$")
    code, out, err = trigger.interrupt()
    assert code == 130, (out, err)
    assert re.search(r"^delivery msg_\S+ → \S+: still \w+ after [\d.]+ s.*interrupted$", out, re.M), out
    assert "interrupted: its retries end with this process" in err and "Traceback" not in err, err


def test_trigger_wait_0_prints_the_ids_and_exits_0(
    main: Callable[..., Ran], server: ApiServer, api: httpx.Client, receiver: Receiver
) -> None:
    """`--wait 0` ("do not wait") always exited 1: "still pending after 0 s"."""
    api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"]})
    ran = main("trigger", "token.created", "--server", server.url, "--wait", "0")
    assert ran.code == 0, ran
    [delivery] = re.findall(r"^delivery (msg_\S+): created, not waited for \(--wait 0\)$", ran.out, re.M)
    assert ran.out.count(delivery) == 1, ran.out  # its id alone: it said "not read after 0 s" too
    eventually(lambda: delivery_in(api, delivery, "succeeded"), timeout=TIMEOUT, what="the delivery")
    # Without a server this process makes the delivery: not waiting would end it unsent.
    ran = main("trigger", "token.created", "--target", receiver.url, "--wait", "0")
    assert ran.code == 2 and "--wait 0 needs --server" in ran.err, ran


# -- deliveries --follow --limit --------------------------------------------------------------------------------


def test_follow_with_a_limit_prints_only_what_is_new(server: ApiServer, api: httpx.Client, receiver: Receiver) -> None:
    """The deliveries cut by --limit came out on the first look, as if new."""
    api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"]})
    older = [api.post("/events", json={"type": "token.created"}).json()["deliveries"][0] for _ in range(4)]
    eventually(lambda: len(receiver.requests) == 4, timeout=TIMEOUT, what="four deliveries")
    args = ("deliveries", "--server", server.url, "--follow", "--limit", "1", "--interval", "0.05")
    follow = Command(*webhook_sim_command(*args))
    follow.wait_for(rf"^\S+\s+{older[-1]}\s")
    [new] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    follow.wait_for(rf"^\S+\s+{new}\s+\S+\s+succeeded")
    code, out, err = follow.interrupt()
    assert code == 0, (out, err)
    assert "3 earlier deliveries not shown" in err
    assert not any(d in out for d in older[:-1]), out


# -- resend of a delivery waiting for its retry; a conflict is exit 1 ------------------------------------------


def test_resend_of_a_delivery_waiting_for_its_retry_sends_it_now(
    main: Callable[..., Ran], server: ApiServer, api: httpx.Client, receiver: Receiver
) -> None:
    """It was refused "409 … is still being delivered" (exit 2) with its retry 40 minutes away."""
    receiver.fail(1)
    subscription = {"url": receiver.url, "events": ["token.*"], "retry": LATER, "signing": "standard"}
    api.post("/subscriptions", json=subscription)
    [delivery] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    eventually(lambda: delivery_in(api, delivery, "failed"), timeout=TIMEOUT, what="the first attempt's failure")
    ran = main("resend", delivery, "--server", server.url, "--wait", "30")
    assert ran.code == 0, ran
    assert f"delivery {delivery} (token.created): succeeded after 2 attempts, HTTP 204" in ran.out
    first, second = receiver.requests  # the same message: id and event (its body's send time is the attempt's)
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == delivery
    assert second.json()["event"] == first.json()["event"]
    attempts = api.get(f"/deliveries/{delivery}").json()["attempt_log"]
    assert [a["status_code"] for a in attempts] == [500, 204]


def test_resend_while_an_attempt_is_under_way_is_a_conflict_exit_1(
    main: Callable[..., Ran], server: ApiServer, api: httpx.Client, holding: Held
) -> None:
    url, arrived, release = holding
    api.post("/subscriptions", json={"url": url, "events": ["token.*"]})
    [delivery] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    assert arrived.wait(TIMEOUT)
    ran = main("resend", delivery, "--server", server.url)
    release.set()
    assert ran.code == 1, ran  # the delivery's state at that moment, not a bad value: no exit 2
    assert "409" in ran.err and "its first attempt has no outcome yet" in ran.err, ran


# -- environment variables and errors that name what was wrong --------------------------------------------------


def test_an_environment_variable_means_one_thing_per_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """WEBHOOK_SIM_STATUS fed both `listen --status` (an HTTP code) and `deliveries --status` (a state), and
    WEBHOOK_SIM_PORT both `serve` and `listen`."""
    monkeypatch.setenv("WEBHOOK_SIM_STATUS", "dead")
    monkeypatch.setenv("WEBHOOK_SIM_PORT", "8080")
    monkeypatch.setenv("WEBHOOK_SIM_LISTEN_STATUS", "500")
    given = webhook_sim.parser().parse_args(["listen"])
    assert (given.status, given.port) == (500, 9000)
    assert webhook_sim.parser().parse_args(["deliveries"]).status == "dead"
    assert webhook_sim.parser().parse_args(["serve"]).port == 8080
    # A bad value from the environment names the variable (the person may not know it is set).
    monkeypatch.setenv("WEBHOOK_SIM_STATUS", "deed")
    with pytest.raises(SystemExit):
        webhook_sim.parser().parse_args(["deliveries"])
    assert (
        "argument --status: invalid choice: 'deed' (from the environment: WEBHOOK_SIM_STATUS)"
        in capsys.readouterr().err
    )
    monkeypatch.setenv("WEBHOOK_SIM_LISTEN_PORT", "abc")
    with pytest.raises(SystemExit):
        webhook_sim.parser().parse_args(["listen"])
    assert "argument --port: invalid port value: 'abc' (from the environment: WEBHOOK_SIM_LISTEN_PORT)" in (
        capsys.readouterr().err
    )


def test_errors_name_the_option(
    main: Callable[..., Ran], server: ApiServer, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    for where in ([], ["--server", server.url]):
        with pytest.raises(SystemExit) as exit_:
            main("trigger", "token.created", "--target", "notaurl", *where)
        assert exit_.value.code == 2
        assert "argument --target: 'notaurl' is not a URL to deliver to" in capsys.readouterr().err
    ran = main("listen", "--server", server.url, "--events", "nosuch.type", "--port", "0")
    assert ran.code == 2 and "error: --events: unknown event type 'nosuch.type'" in ran.err, ran
    taken = receiver.url.split(":")[2].split("/")[0]  # a port in use
    ran = main("listen", "--port", taken)
    assert ran.code == 1 and ran.out == "" and f"error: cannot listen on 127.0.0.1:{taken}" in ran.err, ran


# -- Ctrl-C at any moment --------------------------------------------------------------------------------------


def test_ctrl_c_while_the_libraries_load_is_exit_130_without_a_traceback() -> None:
    """The entry point, run as the installed script runs it, with Ctrl-C as pydantic is being imported."""
    script = (
        "import builtins, os, signal, sys\n"
        "real = builtins.__import__\n"
        "def ctrl_c(name, *args, **kwargs):\n"
        "    if name == 'pydantic':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = ctrl_c\n"
        "from simulator.cli import main\n"
        "sys.exit(main(['scenarios']))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=clean,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr


def test_ctrl_c_of_listen_says_what_it_received() -> None:
    listening = ListenProcess("--port", "0")
    try:
        [ready] = listening.wait_for("stdout", r"ready on (http://\S+)")
        body = json.dumps({"event": {"id": "x", "type": "token.created"}})
        assert httpx.post(ready.group(1) + "/hooks", content=body).status_code == 204
        listening.wait_for("stdout", r"token\.created")
        assert listening.stop() == 0
    finally:
        listening.kill()
    assert "1 request received: 0 verified, 0 failed verification, 1 not checked" in listening.lines["stdout"]
