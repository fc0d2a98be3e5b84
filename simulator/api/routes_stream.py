"""GET /stream: deliveries as they change, as server-sent events (what the dashboard's lists follow).

Events, each `data` one line of JSON:
- `ready` — the stream is open; read the list now (`{"filters": {...}}`): every later change arrives here.
- `deliveries` — `{"data": [Delivery, …], "left": [id, …]}`: deliveries that changed and match the filters, newest
  first (the same objects as GET /deliveries), and the ids of those that changed and do not (any more).
- `runs` — `{"ids": [...], "other": bool}`: runs whose deliveries changed; `other` when something else changed
  (a run's own state, subscriptions, schedules).
- `reload` — `{"reason": "overflow" | "reset"}`: too much changed at once to list, or everything was deleted:
  read the list again.

Changes are gathered for `GATHER` seconds before they are read, so a burst is one event, and a comment line goes
out every `KEEPALIVE` seconds of quiet. A stream ends after `LIFETIME` seconds (clients reconnect, as EventSource
does), and at once when the request does not accept `text/event-stream`: a plain GET gets the `ready` event alone
and never hangs.

Authentication is the API's: `Authorization: Bearer <token>`. EventSource cannot send that header, so the dashboard
reads the stream with `fetch`, which can.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from simulator.api import views
from simulator.api.endpoints import Call, Endpoint
from simulator.api.routes_deliveries import type_name
from simulator.core.watch import Change, DeliveryWatch, Filters
from simulator.models import answers as schemas
from simulator.store import Store
from simulator.store.remote import RemoteChanges
from simulator.turns import in_turns

GATHER = 0.1
KEEPALIVE = 15.0
LIFETIME = 300.0
MEDIA_TYPE = "text/event-stream"


def sse(event: str, data: Any) -> bytes:
    """One event; JSON has no line breaks, so `data` is one line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def change_events(change: Change) -> list[bytes]:
    if change.reset or change.overflow:
        return [sse("reload", {"reason": "reset" if change.reset else "overflow"})]
    out = []
    if change.deliveries or change.left:
        shown = await in_turns(change.deliveries, views.delivery)
        out.append(sse("deliveries", {"data": shown, "left": change.left}))
    if change.runs or change.other:
        out.append(sse("runs", {"ids": change.runs, "other": change.other}))
    return out


class EventStream(Response):
    """The stream as an ASGI response: it reads the request's `Accept` and notices the client going away."""

    media_type = MEDIA_TYPE

    def __init__(
        self,
        store: Store,
        filters: Filters,
        shown: dict[str, Any],
        remote: RemoteChanges | None = None,
        stopping: asyncio.Event | None = None,
    ) -> None:
        super().__init__(status_code=200, media_type=MEDIA_TYPE)
        self.store = store
        self.remote = remote  # other processes' changes, on a shared store
        self.filters = filters
        self.shown = shown
        self.stopping = stopping or asyncio.Event()  # set as the server begins to stop: the stream ends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        live = MEDIA_TYPE in Headers(scope=scope).get("accept", "") and scope.get("method") != "HEAD"
        headers = [
            (b"content-type", f"{MEDIA_TYPE}; charset=utf-8".encode()),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # a proxy in front must not hold the events back
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        first = b"" if scope.get("method") == "HEAD" else sse("ready", {"filters": self.shown})
        if not live:
            await send({"type": "http.response.body", "body": first, "more_body": False})
            return
        # Subscribed before `ready` goes out: a client that reads the list on `ready` misses nothing.
        with DeliveryWatch(self.store, self.filters) as watch:
            if self.remote is not None:
                await self.remote.joined()  # what other processes committed so far is in the list read on `ready`
            await send({"type": "http.response.body", "body": first, "more_body": True})
            producer = asyncio.ensure_future(self._follow(watch, send))
            gone = asyncio.ensure_future(_disconnected(receive))
            stopping = asyncio.ensure_future(self.stopping.wait())
            told = False  # the server stops, and the client is still there
            try:
                await asyncio.wait((producer, gone, stopping), return_when=asyncio.FIRST_COMPLETED)
                told = stopping.done() and not gone.done()
            finally:
                for task in (producer, gone, stopping):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, OSError):
                        await task
            # Ended whole, the client reconnects as after LIFETIME; so it does when the server stops (to another
            # server on the same store, or to this one started again).
            lived = producer.done() and not producer.cancelled() and producer.exception() is None
            if lived or told:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _follow(self, watch: DeliveryWatch, send: Send) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LIFETIME
        while (left := deadline - loop.time()) > 0:
            if not await watch.wait(min(KEEPALIVE, left)):
                await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                continue
            await asyncio.sleep(GATHER)  # let a burst gather into one read and one event
            for chunk in await change_events(await watch.take()):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def stream(call: Call) -> Response:
    q: schemas.StreamQuery = call.query
    filters = Filters(q.run, q.subscription, q.status, type_name(q.type), q.q)
    shown = q.model_dump(exclude_none=True)
    return EventStream(call.sim.store, filters, shown, call.sim.remote, call.api.stopping)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/stream",
        stream,
        "Deliveries as they change (server-sent events)",
        "deliveries",
        query=schemas.StreamQuery,
        content=MEDIA_TYPE,
        errors=(422,),
        description="With `Accept: text/event-stream`: `ready`, then `deliveries` (changed deliveries matching the "
        "filters, and the ids of those that left them), `runs` and `reload` events, each one line of JSON; a comment "
        f"every {KEEPALIVE:.0f} s of quiet; the stream ends after {LIFETIME:.0f} s (reconnect). Without that "
        "`Accept`, the `ready` event alone.",
    ),
]
