"""`serve_app` with an app whose handler blocks its event loop: the server cannot stop, and the error says which
one and why, where it was a bare `TimeoutError`."""

from __future__ import annotations

import contextlib
import threading

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.testing import AppServer, serve_app


def test_an_app_blocking_its_event_loop_is_named_when_its_server_does_not_stop() -> None:
    entered, release = threading.Event(), threading.Event()

    async def blocking(request: Request) -> Response:
        entered.set()
        release.wait(30)  # a consumer's bug: a blocking call in an async handler holds the loop
        return Response(status_code=204)

    def post(url: str) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server may close the connection as it stops
            httpx.post(url, timeout=30)

    app = Starlette(routes=[Route("/hook", blocking, methods=["POST"])])
    servers: list[AppServer] = []
    caller: threading.Thread | None = None
    try:
        with pytest.raises(RuntimeError) as caught, serve_app(app, timeout=1) as server:
            servers.append(server)
            caller = threading.Thread(target=post, args=(f"{server.url}/hook",), daemon=True)
            caller.start()
            assert entered.wait(10), "the request did not reach the handler"
    finally:
        release.set()
        if caller is not None:
            caller.join(30)
        for server in servers:
            server.stop()  # it can now
    said = str(caught.value)
    assert said.startswith(f"the server at {servers[0].url} did not stop within 1s"), said
    assert "blocking its event loop" in said, said
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
