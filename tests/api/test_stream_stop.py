"""A server that stops ends its open event streams whole, at once. A dashboard tab left open held `serve`'s stop
for its whole grace (5 s), then the stream was cut short with an error logged, and a restart meanwhile was refused
(the store still held)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.api.serving import Served


def test_a_server_stopping_ends_its_open_stream_whole_and_logs_no_error(tmp_path: Path) -> None:
    served = Served(tmp_path)
    opened, ended = threading.Event(), threading.Event()
    outcome: list[str] = []

    def read() -> None:
        timeout = httpx.Timeout(10.0, read=60.0)
        try:
            with httpx.stream(
                "GET", f"{served.url}/stream", headers={"Accept": "text/event-stream"}, timeout=timeout
            ) as r:
                for line in r.iter_lines():
                    if line == "event: ready":
                        opened.set()
            outcome.append("whole")
        except httpx.HTTPError as exc:  # a body cut short: "peer closed connection without sending complete ..."
            outcome.append(repr(exc))
        finally:
            ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert opened.wait(10), "the stream did not open"
    finally:
        code = served.stop()
    assert ended.wait(30), "the stream did not end"
    assert outcome == ["whole"]
    assert code == 0
    log = served.log()
    assert "ERROR" not in log and "graceful shutdown exceeded" not in log, log
    assert "GET /stream 200" in log, log
