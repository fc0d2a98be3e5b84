"""`listen --forward-to` stopped (Ctrl-C, SIGTERM) while a forward waits for the service's answer: listen answers
that request itself, 503 saying it stopped first, prints its line and counts it, with no traceback (uvicorn
cancelled the forward after its graceful timeout: a traceback on stderr, the sender answered uvicorn's 500, and
the request missing from the output and the summary)."""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import socket
import threading
import time

import httpx
import pytest
from rich.console import Console

from simulator.cli.listen import Listener, server_for
from simulator.cli.listen_options import ListenOptions
from simulator.runtime import bind_tcp
from tests.api.harness import ApiServer, eventually
from tests.cli.listen_process import ListenProcess

BODY = b'{"event": {"id": "evt_1", "type": "token.created"}}'


class Hung:
    """A service that reads each request and never answers, on a real socket, until `close()`."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"
        self.read = threading.Event()  # a request's bytes arrived
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self._held.append(conn)
                conn.settimeout(10)
                if conn.recv(65536):
                    self.read.set()

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)
        for conn in self._held:
            conn.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_forward_under_way_when_listen_stops_is_answered_503_shown_and_counted(
    server: ApiServer, sig: signal.Signals
) -> None:
    service = Hung()
    listening = ListenProcess(
        "--server", server.url, "--port", "0", "--events", "credentials.created", "--forward-to", service.url
    )
    try:
        listening.wait_for("stdout", r"^Ready! ")
        with server.client() as api:
            emitted = api.post("/events", json={"type": "credentials.created"})
            assert emitted.status_code == 202, emitted.text
            event_id = emitted.json()["id"]
            [delivery_id] = emitted.json()["deliveries"]
            assert service.read.wait(30), "the forward never reached the service"

            assert listening.stop(sig) == 0
            err = "\n".join(listening.lines["stderr"])
            assert "Traceback" not in err and "Exception in ASGI application" not in err, err
            assert "graceful shutdown exceeded" not in err, err
            out = listening.lines["stdout"]
            [line] = [text for text in out if event_id in text]
            assert " 503 " in line and "forward failed: listen stopped before" in line, line
            [said] = [text for text in out if "received" in text]
            assert said.startswith("1 request received: "), said
            assert said.endswith(", 0 forwarded, 1 not forwarded (answered 503)"), said

            def attempted() -> list[dict]:
                return api.get(f"/deliveries/{delivery_id}").json()["attempt_log"]

            eventually(lambda: attempted(), what="the attempt to be recorded")
            [attempt] = attempted()
            assert attempt["status_code"] == 503, attempt
            assert attempt["response"].startswith("listen: forward failed: listen stopped before"), attempt
    finally:
        listening.kill()
        service.close()


def test_a_request_in_its_delay_when_listen_stops_is_answered_503_at_once(caplog: pytest.LogCaptureFixture) -> None:
    """`--delay` longer than uvicorn's graceful timeout: the same cancellation, traceback and 500 as a forward."""
    out = io.StringIO()
    listener = Listener(ListenOptions(delay=30), Console(file=out, width=300, color_system=None))
    server = server_for(listener)
    sock = bind_tcp("127.0.0.1", 0)
    serving = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    answers: list[httpx.Response] = []
    with caplog.at_level(logging.INFO):
        serving.start()
        eventually(lambda: server.started, what="listen to start")
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
        sender = threading.Thread(target=lambda: answers.append(httpx.post(url, content=BODY, timeout=20)))
        sender.start()
        eventually(lambda: listener.counts["received"] == 1, what="the request to arrive")
        began = time.monotonic()
        server.should_exit = True
        serving.join(10)
        sender.join(10)
    assert not serving.is_alive() and time.monotonic() - began < 1.5
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [], [(r.name, r.getMessage(), r.exc_info) for r in problems]
    [answer] = answers
    assert answer.status_code == 503 and answer.text == "listen: stopped during --delay, before answering\n"
    [arrival] = listener.arrivals
    assert arrival.status == 503 and arrival.note == "stopped during --delay", arrival
    assert "stopped during --delay" in out.getvalue()
