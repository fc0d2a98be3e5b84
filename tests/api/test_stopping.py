"""A request the server's stop cuts short: a 503 saying so, not a 500 and a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import httpx
import pytest

from simulator.api.middleware import STOPPING, RequestContext
from simulator.runtime import AppServer


def test_a_request_the_stop_cuts_short_is_answered_503(caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn cancels what outlasts its graceful time (a second here, five in `serve`): a redeliver of tens of
    thousands of dead deliveries did, and was answered 500 with "Exception in ASGI application" in the log."""
    started = threading.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        started.set()
        await asyncio.sleep(60)

    server = AppServer().start(RequestContext(slow), lifespan="off")
    answer: dict[str, httpx.Response] = {}

    def ask() -> None:
        answer["r"] = httpx.post(f"{server.url}/subscriptions/s/redeliver", timeout=30)

    asker = threading.Thread(target=ask)
    try:
        with caplog.at_level(logging.INFO):
            asker.start()
            assert started.wait(10), "the request never reached the application"
            server.stop_serving(timeout=20)
            asker.join(20)
    finally:
        server.stop()
    response = answer["r"]
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(response.text)["detail"] == STOPPING and response.headers["retry-after"] == "5"
    assert "Exception in ASGI application" not in caplog.text and "Traceback" not in caplog.text
    assert "POST /subscriptions/s/redeliver 503" in caplog.text
