"""The live stream (`GET /stream`) read as `StreamEvent`s: what `Client.watch` and `AsyncClient.watch` yield.

Server-sent events, parsed by the rules of the HTML standard that the server's events use: `event:` and `data:`
fields, comment lines (`:`, the server's keep-alive), an event ended by a blank line. The server ends a stream
after five minutes, as EventSource clients expect; `watch` then opens it again, and the new stream's `ready` event
says so: a view built from the stream reads its list again there, as the dashboard does (what changed between the
two streams is in that list, not in an event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypedDict

import httpx

from simulator.client.records import ApiError, DeliveryInfo

MEDIA_TYPE = "text/event-stream"
# Seconds a stream may stay silent before the client gives it up: the server writes a comment after 15 s of quiet.
QUIET = 60.0
# Seconds before a stream that ended is opened again: one that a proxy ends at once is not asked for in a loop.
RECONNECT = 1.0


class Filters(TypedDict, total=False):
    """What `watch` follows: the filters of `list_deliveries` that the stream takes."""

    run: str
    subscription: str
    status: str
    type: str
    q: str


@dataclass(frozen=True)
class StreamEvent:
    """One event of the stream: `ready`, `deliveries`, `runs` or `reload` (see docs/dashboard.md), its `data`
    the JSON object the server sent."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def deliveries(self) -> tuple[DeliveryInfo, ...]:
        """A `deliveries` event's changed deliveries that match the filters, newest first (else none)."""
        return tuple(DeliveryInfo.of(item) for item in self.data.get("data", ())) if self.event == "deliveries" else ()

    @property
    def left(self) -> tuple[str, ...]:
        """A `deliveries` event's ids of the deliveries that changed and no longer match the filters."""
        return tuple(self.data.get("left", ())) if self.event == "deliveries" else ()


class Parser:
    """Events out of a stream's lines, one `feed` per line (without its line break)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response  # named in the error of an event that is not JSON
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> StreamEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None  # `id`, `retry` and unknown fields: the server sends none of them

    def _dispatch(self) -> StreamEvent | None:
        event, data = self._event or "message", "\n".join(self._data)
        self._event, self._data = "", []
        if not data:
            return None
        try:
            parsed = json.loads(data)
            if not isinstance(parsed, dict):
                raise ValueError(f"the {event} event's data is {type(parsed).__name__}, not an object")
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise ApiError.not_the_api(self._response, exc) from None
        return StreamEvent(event, parsed)


def request(filters: Filters, timeout: httpx.Timeout) -> dict[str, Any]:
    """The arguments of the stream's request, for `httpx.Client.stream` and `httpx.AsyncClient.stream`."""
    return {
        "method": "GET",
        "url": "/stream",
        "params": {k: v for k, v in filters.items() if v is not None} or None,
        "headers": {"Accept": MEDIA_TYPE},
        "timeout": httpx.Timeout(
            timeout.connect, read=max(QUIET, timeout.read or 0), write=timeout.write, pool=timeout.pool
        ),
    }


def refused(response: httpx.Response) -> bool:
    """Whether the answer is not a stream (a problem, a proxy's page): read it, then raise from `check`."""
    return response.status_code >= 400 or not response.headers.get("content-type", "").startswith(MEDIA_TYPE)


def check(response: httpx.Response) -> None:
    """Raise what a read answer that is not a stream says (`refused`)."""
    if response.status_code >= 400:
        raise ApiError.from_response(response)
    raise ApiError.not_the_api(response, ValueError(f"not {MEDIA_TYPE}"))
