"""A `--server` that is not webhook-sim's control API is found out with a `GET /health` before anything is sent:
the command is refused (exit 2, naming --server) and the other server receives no POST, PATCH or DELETE. A proxy
answering 5xx has no server behind it to tell: exit 1, as for any server that does not answer, and nothing sent."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli.conftest import cli

# What another server answers to every request: a health check of its own (JSON, 200), a 404 page, a gateway
# with nothing behind it.
ANSWERS = {
    "another service": (200, "application/json", b'{"status": "ok", "uptime": 12}'),
    "a 404 page": (404, "text/html", b"<html><body>Not Found</body></html>"),
    "a bad gateway": (502, "text/plain", b"upstream connect error"),
}
COMMANDS = {
    "trigger": ["trigger", "token.created"],
    "trigger --target --max-attempts": [
        "trigger",
        "token.created",
        "--target",
        "http://127.0.0.1:9/x",
        "--max-attempts",
        "2",
    ],
    "resend": ["resend", "msg_0000000000000000000000"],
    "resend --dead": ["resend", "--dead", "--subscription", "sub_x"],
    "subscriptions create": ["subscriptions", "create", "http://127.0.0.1:9/x"],
    "subscriptions delete": ["subscriptions", "delete", "sub_x"],
    "listen --server": ["listen"],
}
# Each command before another service; `trigger` before each kind of answer.
CASES = [(command, "another service") for command in COMMANDS] + [
    ("trigger", kind) for kind in ANSWERS if kind != "another service"
]


class Foreign:
    """An HTTP server on 127.0.0.1 that answers every request alike and records each one's method and path."""

    def __init__(self, status: int, kind: str, body: bytes) -> None:
        self.requests: list[tuple[str, str]] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                seen.append((self.command, self.path))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_a_server_that_is_not_webhook_sim_is_sent_nothing(command: str, kind: str) -> None:
    server = Foreign(*ANSWERS[kind])
    try:
        done = cli(*COMMANDS[command], "--server", server.url)
    finally:
        server.close()
    assert [method for method, _ in server.requests] == ["GET"], server.requests
    assert "Traceback" not in done.stderr, done.stderr
    if kind == "a bad gateway":
        assert done.returncode == 1, done.stderr
        assert f"{server.url}: 502" in done.stderr, done.stderr
    else:
        assert done.returncode == 2, done.stderr
        assert f"--server {server.url} is not webhook-sim's control API" in done.stderr, done.stderr
