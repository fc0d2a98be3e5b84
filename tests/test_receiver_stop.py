"""The test receiver stopped while it delays an answer ends that answer quietly: uvicorn cancelled the delay after
its graceful timeout and logged "Exception in ASGI application" with a traceback at the end of the test."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest

from simulator.testing.receiver import Receiver
from tests.api.harness import eventually


def test_a_receiver_stopped_while_it_delays_an_answer_answers_503_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = Receiver().start()
    receiver.respond(204, delay=30)
    answers: list[httpx.Response | Exception] = []

    def send() -> None:
        try:
            answers.append(httpx.post(receiver.url, content=b"{}", timeout=20))
        except httpx.HTTPError as exc:
            answers.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    with caplog.at_level(logging.INFO):
        sender.start()
        eventually(lambda: receiver.in_flight == 1, what="the request to be under way")
        began = time.monotonic()
        receiver.stop()
        took = time.monotonic() - began
        sender.join(10)
    assert took < 1, f"stop waited {took:.1f} s for the delayed answer"
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [], [(r.name, r.getMessage(), r.exc_info) for r in problems]
    [answer] = answers
    assert isinstance(answer, httpx.Response) and answer.status_code == 503, answer
    assert "stopped" in answer.text, answer.text
    [received] = receiver.requests  # recorded with the answer it really got
    assert received.status == 503 and receiver.in_flight == 0
