"""What `trigger` says of a delivery still retrying is true as it prints it: a retry whose time has passed (its
attempt under way, or waiting for a sender) is "due since", not "at" a time already gone; without a server, whose
retries end with `trigger`, no retry to come is announced at all."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.api.harness import ApiServer
from tests.cli.conftest import TIMEOUT, cli
from tests.cli.plain_http import Quiet, serving
from tests.cli.test_stripe_habits import Command, webhook_sim_command

RETRY_SOON = {"delays": [0.2], "jitter": 0}  # the second attempt follows the first at once


class FailsThenHolds:
    """A receiver: the first request is answered 500, each later one is held until `release` (`held` says one
    is being held)."""

    def __init__(self) -> None:
        self.held, self.release = threading.Event(), threading.Event()
        answered: list[int] = []
        held, release = self.held, self.release

        class Handler(Quiet):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if answered:
                    held.set()
                    release.wait(TIMEOUT)
                answered.append(1)
                self.send_response(500 if len(answered) == 1 else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.handler = Handler


@pytest.fixture
def receiver() -> Iterator[tuple[str, FailsThenHolds]]:
    r = FailsThenHolds()
    with serving(r.handler) as url:
        yield f"{url}/hooks", r
        r.release.set()  # before the server stops: it waits for the request it holds


def test_a_retry_under_way_is_not_said_to_come_at_a_time_already_past(
    server: ApiServer, api: httpx.Client, receiver: tuple[str, FailsThenHolds]
) -> None:
    url, holder = receiver
    api.post("/subscriptions", json={"url": url, "events": ["token.*"], "retry": RETRY_SOON})
    trigger = Command(*webhook_sim_command("trigger", "token.created", "--server", server.url, "--wait", "600"))
    delivery = trigger.wait_for(r"^delivery (msg_\S+): created").group(1)
    assert holder.held.wait(TIMEOUT), "the retry never came"
    code, out, err = trigger.interrupt()  # the retry is under way: its time has passed
    assert code == 130, (out, err)
    state = re.search(rf"^delivery {delivery}: still failed after .*$", out, re.M)
    assert state is not None, out
    assert "next retry at" not in state.group(0), state.group(0)
    assert re.search(r"next retry due since \d\d:\d\d:\d\d \(it may be under way\)", state.group(0)), state.group(0)


def test_without_a_server_no_retry_is_announced_once_trigger_ends(receiver: tuple[str, FailsThenHolds]) -> None:
    """Its retries end with the process: the time of the next one, printed, was that of a retry never made."""
    done = cli("trigger", "token.created", "--target", receiver[0], "--retry-delays", "1h", "--wait", "3")
    assert done.returncode == 1, done.stderr
    assert re.search(r"^delivery msg_\S+ → \S+: still failed after [\d.]+ s \(last: HTTP 500\)$", done.stdout, re.M), (
        done.stdout
    )
    assert "its retries end with this process" in done.stderr, done.stderr
