"""Reading GET /stream in a thread of its own, as a browser would: each event parsed into (name, data)."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


class Stream:
    def __init__(self, base_url: str, params: dict[str, str] | None = None, token: str | None = None) -> None:
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(10.0, read=None))
        self._params = params or {}
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._response: httpx.Response | None = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> Stream:
        self._thread.start()
        assert self._opened.wait(10), "the stream did not open"
        return self

    def __exit__(self, *_exc: object) -> None:
        # Shut the socket down: a read blocked in the other thread returns at once (closing it would not wake it).
        network = self._response.extensions.get("network_stream") if self._response is not None else None
        sock = network.get_extra_info("socket") if network is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        self._client.close()
        assert not self._thread.is_alive(), "the stream's reader did not stop"

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/stream", params=self._params) as response:
                self._response = response
                self._opened.set()
                name, data = "message", []
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        self.events.put((name, json.loads("\n".join(data))))
                        name, data = "message", []
        except (httpx.HTTPError, OSError):
            pass  # shut by __exit__
        finally:
            self._opened.set()

    def next(self, name: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = 15.0) -> Any:
        """The next event called `name` whose data satisfies `where` (others are passed over)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if got == name and where(data):
                return data
        raise AssertionError(f"no {name!r} event within {timeout}s")
