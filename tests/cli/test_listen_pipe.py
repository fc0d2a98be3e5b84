"""`webhook-sim listen … | head -1`: when the reader of its output goes away, listen stops as a filter does. The
request it could not print is answered as it would have been, the subscription it made is deleted, and it exits
141 with no traceback, whether the output closed during the banner or at a request. A pipe whose reading end the
test closes stands for `head`."""

from __future__ import annotations

import os
import select
import time

import pytest

from tests.api.harness import ApiServer, eventually
from tests.cli.conftest import TIMEOUT
from tests.cli.listen_process import ListenProcess

# The bound of a wait on a process already running (its start, importing the simulator, has its own).
STOPPING = 30.0


def read_until(fd: int, text: bytes, timeout: float = TIMEOUT) -> bytes:
    """What the pipe `fd` gave until `text` came (listen's start-up under load can take many seconds)."""
    deadline, seen = time.monotonic() + timeout, b""
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"no {text!r} within {timeout}s: {seen!r}"
        chunk = os.read(fd, 65536)
        assert chunk, f"the output ended before {text!r}: {seen!r}"
        seen += chunk
    return seen


@pytest.mark.parametrize("output", ["text", "json"])
def test_listen_stops_at_the_first_request_it_cannot_print_answering_it_and_unsubscribing(
    server: ApiServer, output: str
) -> None:
    read, write = os.pipe()
    listening = ListenProcess("--server", server.url, "--port", "0", "--format", output, stdout=write)
    os.close(write)
    try:
        try:
            if output == "text":  # the banner is printed whole, then `head` goes
                read_until(read, b"signature  note\n")
            else:  # stdout holds the requests alone; the banner is on stderr
                listening.wait_for("stderr", r"^Ready! ")
        finally:
            os.close(read)
        with server.client() as api:
            [sub] = api.get("/subscriptions").json()["data"]
            emitted = api.post("/events", json={"type": "credentials.created"})
            assert emitted.status_code == 202, emitted.text
            [delivery_id] = emitted.json()["deliveries"]

            def delivery() -> dict:
                return api.get(f"/deliveries/{delivery_id}").json()

            eventually(lambda: delivery()["attempt_log"], timeout=STOPPING, what="the attempt to be recorded")
            # Answered as if printed: the delivery arrived, and listen's own output is no reason to send it again.
            found = delivery()
            assert [a["status_code"] for a in found["attempt_log"]] == [204], found
            assert found["status"] == "succeeded", found

            assert listening.wait(STOPPING) == 141, listening.lines
            assert api.get("/subscriptions").json()["data"] == []
        err = listening.lines["stderr"]
        assert not any("Traceback" in line or "Exception" in line for line in err), err
        if output == "json":  # the notes go on to stderr, which is still read
            assert err[-2:] == [
                "1 request received: 1 verified, 0 failed verification",
                f"deleted subscription {sub['id']}",
            ]
        else:
            assert err == []
    finally:
        listening.kill()


def test_an_output_closed_during_the_banner_deletes_the_subscription_and_exits_141(server: ApiServer) -> None:
    """`listen --server URL | head -1` where `head` went before the banner was written: the subscription is made,
    then the banner cannot be printed."""
    read, write = os.pipe()
    os.close(read)
    listening = ListenProcess("--server", server.url, "--port", "0", stdout=write)
    os.close(write)
    try:
        assert listening.wait() == 141, listening.lines
        assert listening.lines["stderr"] == []
        with server.client() as api:
            assert api.get("/subscriptions").json()["data"] == []
    finally:
        listening.kill()
