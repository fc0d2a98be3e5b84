"""`webhook-sim listen` prints what a sender put in a request (event types, ids, a `webhook-id`, a body) with its
control characters written as escapes (`\\x1b`), as `run`, `trigger` and `resend` print a receiver's answer. It
printed them raw: any sender could clear the terminal, retitle it or rewrite the lines above."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.cli.listen_process import ListenProcess

# Clear the screen, retitle the terminal and ring; then CSI as one C1 character, and a line separator.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u2028"
ESCAPED = "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u2028"
RAW = ("\x1b", "\x07", "\x9b", "\u2028")


@pytest.fixture
def listening():
    running = ListenProcess("--port", "0", "--print-body")
    try:
        [ready] = running.wait_for("stdout", r"ready on (http://\S+)")
        running.url = ready.group(1) + "/hooks"
        yield running
    finally:
        running.kill()


def test_the_type_ids_and_delivery_id_of_a_request_are_printed_escaped(listening) -> None:
    body = json.dumps({"event": {"id": f"evt{HOSTILE}", "type": f"token.created{HOSTILE}"}}).encode()
    # A header carries no ESC, but a byte above 0x7f, read as Latin-1: 0x9B is CSI.
    headers = {"webhook-id": b"msg_\x9b2J"}
    assert httpx.post(listening.url, content=body, headers=headers, timeout=30).status_code == 204
    [line] = listening.wait_for("stdout", r"^\S+\s+basistheory ")
    line = line.string
    assert f"token.created{ESCAPED}" in line and f"evt{ESCAPED}" in line and "msg_\\x9b2J" in line, line
    out = "\n".join(listening.lines["stdout"])
    assert not any(c in out for c in RAW), repr(out)


def test_a_body_that_is_not_json_is_printed_escaped_on_its_lines(listening) -> None:
    body = f"not json {HOSTILE} end\nsecond line [bold]x[/bold]".encode()
    assert httpx.post(listening.url, content=body, timeout=30).status_code == 204
    listening.wait_for("stdout", r"^second line ")
    out = listening.lines["stdout"]
    assert f"not json {ESCAPED} end" in out and "second line [bold]x[/bold]" in out, out
    assert not any(c in "\n".join(out) for c in RAW), repr(out)


def test_a_json_body_is_printed_as_json_with_every_control_in_json_escapes(listening) -> None:
    """JSON writes ESC as `\\u001b` itself; a C1 control or a line separator it wrote as it was."""
    body = json.dumps({"event": {"id": "evt_1", "type": "token.created", "data": {"note": f"é{HOSTILE}"}}})
    assert httpx.post(listening.url, content=body.encode(), timeout=30).status_code == 204
    [note] = listening.wait_for("stdout", r'"note": ')
    assert note.string.strip() == '"note": "é\\u001b[2J\\u001b]0;pwned\\u0007\\u009b31m\\u2028"', note.string
    assert not any(c in "\n".join(listening.lines["stdout"]) for c in RAW), listening.lines["stdout"]
