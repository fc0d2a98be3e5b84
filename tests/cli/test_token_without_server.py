"""`--token` is the server's bearer token: `trigger` and `listen` without `--server` have nowhere to send it, and
refuse it, exit 2 naming `--token` and `--server`. Before, `trigger --target URL --token T` delivered from its own
process and `listen --token T` listened, each ignoring the token without a word."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simulator.testing.receiver import Receiver
from tests.cli.conftest import Ran

# An address no interface here has (TEST-NET-1): a `listen` that took the options would fail to bind at once
# (exit 1) rather than serve until stopped.
NOWHERE = ["--host", "192.0.2.1", "--port", "0"]


def test_trigger_with_a_token_and_no_server_is_exit_2_and_sends_nothing(
    main: Callable[..., Ran], receiver: Receiver
) -> None:
    ran = main("trigger", "token.created", "--target", receiver.url, "--token", "a-token")
    assert ran.code == 2, ran
    assert "--token needs --server" in ran.err and "delivers the event from this process" in ran.err, ran
    assert "Traceback" not in ran.err and ran.out == ""
    assert receiver.requests == []


def test_trigger_with_a_token_from_the_environment_alone_delivers(
    main: Callable[..., Ran], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WEBHOOK_SIM_TOKEN is `serve`'s variable too: a shell that exports it for its server still triggers straight
    to a receiver, where the token means nothing."""
    monkeypatch.delenv("WEBHOOK_SIM_SERVER", raising=False)
    monkeypatch.setenv("WEBHOOK_SIM_TOKEN", "a-token")
    ran = main("trigger", "token.created", "--target", receiver.url)
    assert ran.code == 0, ran
    assert len(receiver.wait_for(1)) == 1


def test_listen_with_a_token_and_no_server_is_exit_2(main: Callable[..., Ran]) -> None:
    ran = main("listen", *NOWHERE, "--token", "a-token")
    assert ran.code == 2, ran
    assert "--token needs --server" in ran.err and "listen subscribes itself to no server" in ran.err, ran
    assert "cannot listen" not in ran.err  # refused before it binds


def test_an_empty_token_is_no_token(main: Callable[..., Ran], receiver: Receiver) -> None:
    """`--token ""` (`--token "$UNSET"`) is the client's "no token", as it is with a server: nothing to refuse."""
    ran = main("trigger", "token.created", "--target", receiver.url, "--token", "")
    assert ran.code == 0, ran
    assert len(receiver.wait_for(1)) == 1
