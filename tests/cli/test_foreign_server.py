"""A `--server` that is not webhook-sim's control API is found out with a `GET /health` before anything is sent:
the command is refused (exit 2, naming --server) and the other server receives no POST, PATCH or DELETE, nor any
other request (`deliveries` only reads, and is refused the same way). A proxy answering 5xx has no server behind
it to tell: exit 1, as for any server that does not answer, and nothing sent."""

from __future__ import annotations

import pytest

from tests.cli.conftest import cli
from tests.cli.plain_http import Quiet, serving

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
    "listen --server": ["listen", "--port", "0"],
    "deliveries": ["deliveries"],
    "deliveries --follow": ["deliveries", "--follow"],
}
# Each command before another service; `trigger` before each kind of answer.
CASES = [(command, "another service") for command in COMMANDS] + [
    ("trigger", kind) for kind in ANSWERS if kind != "another service"
]


def foreign(status: int, kind: str, body: bytes, seen: list[tuple[str, str]]) -> type[Quiet]:
    """A handler that answers every request alike and records each one's method and path in `seen`."""

    class Handler(Quiet):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append((self.command, self.path))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    return Handler


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_a_server_that_is_not_webhook_sim_is_sent_nothing(command: str, kind: str) -> None:
    seen: list[tuple[str, str]] = []
    with serving(foreign(*ANSWERS[kind], seen)) as url:
        done = cli(*COMMANDS[command], "--server", url)
    assert [method for method, _ in seen] == ["GET"], seen
    assert "Traceback" not in done.stderr, done.stderr
    if kind == "a bad gateway":
        assert done.returncode == 1, done.stderr
        assert f"{url}: 502" in done.stderr, done.stderr
    else:
        assert done.returncode == 2, done.stderr
        assert f"--server {url} is not webhook-sim's control API" in done.stderr, done.stderr


def test_a_newer_server_that_tells_more_in_its_health_is_taken_for_webhook_sim() -> None:
    """Identified by the two fields its health always had: a later version that adds one is still sent the event."""
    seen: list[tuple[str, str]] = []
    health = b'{"status": "ok", "version": "99.0.0", "store": "postgresql"}'
    with serving(foreign(200, "application/json", health, seen)) as url:
        cli("trigger", "token.created", "--server", url)
    assert seen[:2] == [("GET", "/health"), ("POST", "/events")], seen


def test_deliveries_from_a_service_whose_answers_read_as_an_empty_page_is_refused() -> None:
    """Its `{"data": []}` read as a page of deliveries: `deliveries` said "no deliveries" and exit 0, and with
    --follow went on asking it until Ctrl-C."""
    seen: list[tuple[str, str]] = []
    page = b'{"data": [], "next_cursor": null}'
    with serving(foreign(200, "application/json", page, seen)) as url:
        done = cli("deliveries", "--server", url)
    assert done.returncode == 2, done
    assert done.stderr.startswith(f"error: --server {url} is not webhook-sim's control API"), done.stderr
    assert "no deliveries" not in done.stderr and done.stdout == "", done
    assert seen == [("GET", "/health")], seen
