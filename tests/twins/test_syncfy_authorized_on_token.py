"""A credential whose job waits for its two-factor token is not authorized yet: `is_authorized` 0, no
`dt_authorized` or `dt_ready`, until the token is taken; then it is, as of then. Waiting (410) read as finished,
and the credential showed authorized before the person had typed anything."""

from __future__ import annotations

import time

import httpx

from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import envelope, eventually, waiting_credential


def test_a_credential_waiting_for_its_token_is_authorized_once_the_token_is_taken(syncfy: httpx.Client) -> None:
    with Receiver() as receiver:
        _, path, bearer = waiting_credential(syncfy, receiver.url)
        (waiting,) = envelope(syncfy.get(path, headers=bearer))
        assert waiting["code"] == 410 and waiting["is_twofa"] == 1
        assert waiting["is_authorized"] == 0 and waiting["can_sync"] == 0
        assert waiting["dt_authorized"] is None and waiting["dt_ready"] is None
        before = int(time.time())
        envelope(syncfy.put(path, json={"twofa": {"token": "123456"}}, headers=bearer))
        eventually(lambda: envelope(syncfy.get(path, headers=bearer))[0]["code"] == 200, 15, "the job's end")
    (done,) = envelope(syncfy.get(path, headers=bearer))
    assert done["is_authorized"] == 1 and done["dt_authorized"] >= before
    assert done["dt_ready"] == done["dt_authorized"] + 86400
