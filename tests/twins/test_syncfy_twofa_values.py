"""The token a waiting job asks for is text or a number: `PUT /v1/credentials/{id}` with a token of null, a
boolean, a list or an object is Syncfy's 400 naming `twofa`, and the job still waits for its token. A null token
was read as the text "None", taken, and the job went on as if the person had typed it."""

from __future__ import annotations

from typing import Any

import httpx

from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import envelope, waiting_credential


def test_a_token_that_is_not_text_is_refused_and_the_job_still_waits(syncfy: httpx.Client) -> None:
    with Receiver() as receiver:
        _, path, bearer = waiting_credential(syncfy, receiver.url)
    wrong: list[Any] = [None, True, ["123456"], {"digits": "123456"}, "  "]
    for token in wrong:
        answer = syncfy.put(path, json={"twofa": {"token": token}}, headers=bearer)
        envelope(answer, 400)
        assert "twofa" in answer.json()["message"], (token, answer.json())
        assert envelope(syncfy.get(path, headers=bearer))[0]["code"] == 410, token  # still waiting for it
    envelope(syncfy.put(path, json={"twofa": {"token": 123456}}, headers=bearer))  # a number, as typed: taken
