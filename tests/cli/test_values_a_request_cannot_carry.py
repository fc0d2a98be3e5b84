"""A value no request to the control API can carry is refused as the command line is read, exit 2 naming its
argument, before any request: an id or a filter longer than any id (the URL made from it was too long for the HTTP
client), a `--server` base URL as long, a `--token` no header can carry. Each was a traceback, exit 1."""

from __future__ import annotations

import pytest

from tests.cli.conftest import cli
from tests.ports import refused_port

BIG = "x" * 70_000  # past the 64 KiB the HTTP client takes in a URL
SERVER = f"http://127.0.0.1:{refused_port()}"  # nothing listens: a request made would be exit 1, "cannot reach"


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["resend", BIG], {}, "argument DELIVERY_ID: 70000 characters"),
        (["resend", "--dead", "--subscription", BIG], {}, "argument --subscription: 70000 characters"),
        (["deliveries", "--type", BIG], {}, "argument --type: 70000 characters"),
        (["deliveries", "--run", BIG], {}, "argument --run: 70000 characters"),
        (["subscriptions", "show", BIG], {}, "argument id: 70000 characters"),
        (["deliveries", "--server", f"{SERVER}/{BIG}"], {}, "argument --server: 70023 characters"),
        (["trigger", "token.created", "--token", "é"], {}, "argument --token: not a value a header can carry"),
        (["resend", "msg_x", "--token", "a\nb"], {}, "argument --token: not a value a header can carry"),
        (["deliveries"], {"WEBHOOK_SIM_TOKEN": "é"}, "WEBHOOK_SIM_TOKEN"),
    ],
    ids=[
        "resend id",
        "resend --subscription",
        "--type",
        "--run",
        "subscription id",
        "--server",
        "--token é",
        "--token newline",
        "WEBHOOK_SIM_TOKEN",
    ],
)
def test_a_value_no_request_can_carry_is_exit_2_naming_it(argv: list[str], env: dict[str, str], named: str) -> None:
    done = cli(*argv, *([] if "--server" in argv else ["--server", SERVER]), env=env)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 2, done.stderr[-2000:]
    assert named in done.stderr, done.stderr[-2000:]
    assert "cannot reach" not in done.stderr  # refused before any request
