"""What a shell may hand the commands that talk to a server: bytes that are not UTF-8 in an id, a `--server` URL
with credentials in it, an option that does not go with the others; and what a hostile server may answer. Each is a
line naming what is wrong (exit 2 for the command line, 1 for the server), never a traceback."""

from __future__ import annotations

import pytest

from tests.cli.conftest import cli
from tests.cli.plain_http import Quiet, serving
from tests.ports import refused_port

SERVER = f"http://127.0.0.1:{refused_port()}"  # nothing listens: a request made would be exit 1, "cannot reach"
NOT_UTF8 = "\udcff\udcfe"  # what Python makes of the bytes FF FE in an argument; the child gets the bytes


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["resend", f"msg_{NOT_UTF8}"], "argument DELIVERY_ID"),
        (["subscriptions", "show", f"sub_{NOT_UTF8}"], "argument id"),
        (["subscriptions", "delete", f"sub_{NOT_UTF8}"], "argument id"),
        (["deliveries", "--run", f"run_{NOT_UTF8}"], "argument --run"),
        (["deliveries", "--type", NOT_UTF8], "argument --type"),
    ],
    ids=["resend", "subscriptions show", "subscriptions delete", "deliveries --run", "deliveries --type"],
)
def test_an_id_of_bytes_that_are_not_utf8_is_exit_2_naming_it(argv: list[str], named: str) -> None:
    done = cli(*argv, "--server", SERVER)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"{named}: " in done.stderr and "is not UTF-8 text" in done.stderr, done.stderr


def test_a_server_url_with_credentials_is_refused_without_showing_them() -> None:
    """Sent as Basic auth they replaced the bearer token's header: a right `--token` was "wrong", and the error
    printed the password."""
    done = cli("deliveries", "--server", f"http://someone:pa55word@{SERVER.removeprefix('http://')}", "--token", "t")
    assert done.returncode == 2, done.stderr
    assert "argument --server: a URL with credentials" in done.stderr, done.stderr
    assert "pa55word" not in done.stderr + done.stdout
    assert "cannot reach" not in done.stderr  # refused before any request


def _nesting(depth: int) -> type[Quiet]:
    """A server whose health is webhook-sim's, and whose every other answer is JSON nested `depth` deep."""

    class Handler(Quiet):
        def do_GET(self) -> None:
            health = self.path == "/health"
            body = b'{"status": "ok", "version": "0.1.0"}' if health else b"[" * depth + b"]" * depth
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def test_an_answer_nested_past_the_decoders_depth_is_one_line_exit_1() -> None:
    with serving(_nesting(100_000)) as url:
        done = cli("subscriptions", "list", "--server", url)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"{url} answered with something other than webhook-sim's control API" in done.stderr, done.stderr


def test_resend_of_one_delivery_refuses_subscription_which_goes_with_dead() -> None:
    """It was ignored: the delivery went again to its own subscription, exit 0."""
    done = cli("resend", "msg_x", "--subscription", "sub_x", "--server", SERVER)
    assert done.returncode == 2, done.stderr
    assert "--subscription picks whose dead deliveries go: it goes with --dead" in done.stderr, done.stderr
    # One the environment gives is left alone (a shell may export it for other commands): the resend is asked.
    alone = cli("resend", "msg_x", "--server", SERVER, env={"WEBHOOK_SIM_SUBSCRIPTION": "sub_x"})
    assert alone.returncode == 1 and "cannot reach" in alone.stderr, alone.stderr
