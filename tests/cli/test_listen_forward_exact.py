"""`listen --forward-to` relays what the sender sent, and what the service answered, as they were: the client's
own headers (`Accept`, `Accept-Encoding`, `Connection`) went to the service as if the provider had sent them; an
answer in an encoding the client cannot decode (`br`) reached the sender still encoded with its
`Content-Encoding` dropped; a reset was `ReadError: ` and nothing after it. A bad value from the environment,
refused after parsing, names its variable."""

from __future__ import annotations

import io
import os
import socket
import socketserver
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from rich.console import Console

from simulator.cli import listen
from simulator.cli.listen_options import ListenOptions
from simulator.runtime import AppServer

REQUEST = b'{"event": {"id": "evt_1"}}'
SENT = {"content-type": "application/json", "webhook-id": "msg_1", "user-agent": "webhook-sim/0.1.0"}


@contextmanager
def service(answer: bytes | None, heard: list[bytes]) -> Iterator[str]:
    """A service's URL: it records each request's head and writes `answer` (None: it resets the connection)."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += self.rfile.readline()
            if answer is None:  # reset as the request's head is read, its body unread
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            length = next(
                int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")) if k.lower() == b"content-length"
            )
            self.rfile.read(length)
            heard.append(head)
            if answer is None:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            self.wfile.write(answer)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
        finally:
            server.shutdown()


def sent_through(forward_to: str) -> bytes:
    """What the sender gets back for one request with exactly SENT's headers, sent through `listen`."""
    console = Console(file=io.StringIO(), width=400, color_system=None)
    server = AppServer().start(listen.Listener(ListenOptions(forward_to=forward_to), console).app(), lifespan="on")
    try:
        parts = urlsplit(server.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            lines = ["POST /webhooks HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(REQUEST)}"]
            lines += [f"{k}: {v}" for k, v in SENT.items()]
            sock.sendall(("\r\n".join(lines) + "\r\nConnection: close\r\n\r\n").encode() + REQUEST)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        return answer
    finally:
        server.stop()


def test_only_the_senders_headers_reach_the_service() -> None:
    heard: list[bytes] = []
    with service(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", heard) as url:
        assert sent_through(url).startswith(b"HTTP/1.1 204")
    names = {line.split(b":")[0].decode().lower() for line in heard[0].split(b"\r\n")[1:] if line}
    assert names == {*SENT, "host", "content-length"}, heard[0]


def test_an_encoded_answer_is_relayed_as_it_came_with_its_encoding() -> None:
    brotli = b"\x0b\x02\x80hello\x03"  # "hello", which this client cannot decode
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: br\r\n"
    with service(head + f"Content-Length: {len(brotli)}\r\n\r\n".encode() + brotli, []) as url:
        answer = sent_through(url)
    head_back, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-encoding: br" in head_back.lower() and body == brotli, answer


def test_a_reset_is_said_with_words() -> None:
    with service(None, []) as url:
        answer = sent_through(url)
    assert answer.startswith(b"HTTP/1.1 502"), answer
    reason = answer.partition(b"\r\n\r\n")[2].decode()
    assert reason.startswith("listen: forward failed: ") and not reason.rstrip().endswith(":"), reason


def test_a_value_the_environment_gave_is_refused_naming_its_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    for variable, value, option in (
        ("WEBHOOK_SIM_LISTEN_STATUS", "99", "--status"),
        ("WEBHOOK_SIM_FAIL_RATE", "3", "--fail-rate"),
    ):
        command = [sys.executable, "-m", "simulator.cli", "listen", "--port", "0"]
        done = subprocess.run(command, env={**env, variable: value}, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert option in done.stderr and f"(from the environment: {variable})" in done.stderr, done.stderr
