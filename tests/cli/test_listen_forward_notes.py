"""`listen`'s banner and lines. `--forward-to` says where it forwards without the URL's password (as every other
command shows such a URL: `user:***@`), in its banner and on each request's line; a connection that fails for
another reason than a refusal (a TLS handshake with a plain-HTTP app) is said as it failed, not as "refused (is it
running?)"; and a subscription that signs nothing is not said to be verified with a secret."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from rich.console import Console

from simulator.cli import listen
from simulator.cli.listen_options import ListenOptions
from simulator.runtime import AppServer
from simulator.testing.receiver import Receiver

BODY = b'{"event": {"id": "evt_1", "type": "token.created"}}'


@pytest.fixture
def app() -> Iterator[Receiver]:
    with Receiver() as receiver:
        receiver.respond(204)
        yield receiver


def forwarded(forward_to: str) -> tuple[str, int, str]:
    """The banner for `forward_to`, and the status and line of one request forwarded there."""
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None)
    options = ListenOptions(forward_to=forward_to)
    listen._banner(console, "http://127.0.0.1:1/", options)
    listener = listen.Listener(options, console)
    server = AppServer().start(listener.app(), lifespan="on")
    try:
        answer = httpx.post(server.url + "/webhooks", content=BODY, headers={"content-type": "application/json"})
    finally:
        server.stop()
    [arrival] = listener.arrivals
    return out.getvalue(), answer.status_code, arrival.note


def test_a_password_in_the_forward_url_is_never_shown(app: Receiver) -> None:
    url = app.url.replace("http://", "http://bob:hunter2pw@")
    banner, status, note = forwarded(url)
    assert status == 204 and len(app.requests) == 1
    assert "hunter2pw" not in banner + note
    assert f"forwarding to {url.replace('hunter2pw', '***')}" in banner
    assert note == f"→ {url.replace('hunter2pw', '***')}"


def test_a_tls_failure_is_said_as_itself_not_as_a_refusal(app: Receiver) -> None:
    url = app.url.replace("http://", "https://bob:hunter2pw@")  # the app speaks plain HTTP
    _, status, note = forwarded(url)
    assert status == 502
    assert "refused" not in note and "hunter2pw" not in note
    assert note.startswith(f"forward failed: could not connect to {url.replace('hunter2pw', '***')}: "), note
    assert "SSL" in note or "TLS" in note, note


def test_a_subscription_that_signs_nothing_is_said_to_verify_nothing() -> None:
    """`listen --server … --signing none` said it verified standard and syncfy with the subscription's secret, and
    then that the secret was none."""
    from simulator.cli.listen_server import Subscribed

    out = io.StringIO()
    subscribed = Subscribed("sub_1", "http://127.0.0.1:1", "http://127.0.0.1:2/", (), None, "", False, unsigned=True)
    listen._banner(Console(file=out, width=400, color_system=None), "http://127.0.0.1:2/", ListenOptions(), subscribed)
    said = out.getvalue()
    assert "verifying nothing: the subscription signs nothing (--signing none)" in said
    assert "with the subscription's secret" not in said
