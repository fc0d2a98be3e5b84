"""`Client.watch` and `AsyncClient.watch`: the live stream (`GET /stream`) as events, against a real server, opened
again when the server ends it, and refused answers raised as `ApiError`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator.api import routes_stream
from simulator.api.app import server_app
from simulator.client import ApiError, AsyncClient, Client, StreamEvent, stream
from simulator.testing import AppServer
from simulator.testing.receiver import Receiver

TOKEN = "watch-token"
TIMEOUT = 20.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AppServer]:
    srv = AppServer().start(server_app(str(tmp_path / "watch.db"), token=TOKEN, grace=1), lifespan="on")
    yield srv
    srv.stop()


def until_succeeded(events: Iterator[StreamEvent], delivery_id: str) -> list[StreamEvent]:
    """Events read until one shows the delivery succeeded (bounded: the server writes within 0.1 s of a change)."""
    seen: list[StreamEvent] = []
    deadline = time.monotonic() + TIMEOUT
    for event in events:
        seen.append(event)
        if any(d.id == delivery_id and d.status == "succeeded" for d in event.deliveries):
            return seen
        assert time.monotonic() < deadline, seen
    raise AssertionError(f"the stream ended first: {seen}")


def test_watch_yields_ready_then_the_deliveries_as_they_change(server: AppServer, receiver: Receiver) -> None:
    with Client(server.url, token=TOKEN) as api:
        sub = api.create_subscription(receiver.url, events=["basistheory:*"])
        api.create_subscription(receiver.url + "/other", events=["syncfy:*"])
        events = api.watch(subscription=sub.id, status="succeeded")
        ready = next(events)
        assert (ready.event, ready.data) == ("ready", {"filters": {"subscription": sub.id, "status": "succeeded"}})
        [made] = api.emit("basistheory:token.created").deliveries  # its delivery's id
        api.emit("syncfy:credentials.created")  # another subscription's: never among the deliveries
        seen = until_succeeded(events, made)
        events.close()  # the stream's connection is let go
    shown = [d for event in seen for d in event.deliveries]
    assert {d.subscription_id for d in shown} == {sub.id}
    assert {event.event for event in seen} <= {"deliveries", "runs"}
    assert receiver.requests  # it was really sent


async def test_the_async_watch_yields_the_same(server: AppServer, receiver: Receiver) -> None:
    async with AsyncClient(server.url, token=TOKEN) as api:
        sub = await api.create_subscription(receiver.url)
        events = api.watch(subscription=sub.id)
        try:
            assert (await anext(events)).event == "ready"
            [made] = (await api.emit("basistheory:token.created")).deliveries  # its delivery's id
            async with asyncio.timeout(TIMEOUT):
                async for event in events:
                    if any(d.id == made and d.status == "succeeded" for d in event.deliveries):
                        break
        finally:
            await events.aclose()


def test_a_stream_the_server_ends_is_opened_again_with_a_ready_of_its_own(
    server: AppServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_stream, "LIFETIME", 0.3)
    monkeypatch.setattr(stream, "RECONNECT", 0.05)
    with Client(server.url, token=TOKEN) as api:
        again = api.watch()
        assert [next(again).event, next(again).event] == ["ready", "ready"]
        again.close()
        assert [e.event for e in api.watch(reconnect=False)] == ["ready"]  # one stream, then the end


async def test_an_async_stream_is_opened_again_too(server: AppServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes_stream, "LIFETIME", 0.3)
    monkeypatch.setattr(stream, "RECONNECT", 0.05)
    async with AsyncClient(server.url, token=TOKEN) as api:
        again = api.watch()
        assert [(await anext(again)).event, (await anext(again)).event] == ["ready", "ready"]
        await again.aclose()
        assert [e.event async for e in api.watch(reconnect=False)] == ["ready"]


def test_a_refused_watch_is_an_api_error_naming_the_field(server: AppServer) -> None:
    with Client(server.url, token=TOKEN) as api, pytest.raises(ApiError) as raised:
        next(api.watch(status="sideways"))
    assert raised.value.status == 422 and [e["field"] for e in raised.value.errors] == ["status"]
    with Client(server.url, token="wrong") as api, pytest.raises(ApiError) as refused:
        next(api.watch())
    assert refused.value.status == 401


async def test_a_refused_async_watch_is_an_api_error_too(server: AppServer) -> None:
    async with AsyncClient(server.url, token=TOKEN) as api:
        with pytest.raises(ApiError) as raised:
            await anext(api.watch(status="sideways"))
    assert raised.value.status == 422


def answering(content_type: str, body: bytes) -> httpx.MockTransport:
    answer = httpx.Response(200, headers={"content-type": content_type}, content=body)
    return httpx.MockTransport(lambda request: answer)


@pytest.mark.parametrize(
    ("content_type", "body", "said"),
    [
        ("text/html", b"<html>a login page</html>", "not text/event-stream"),
        ("text/event-stream", b"event: ready\ndata: {not json\n\n", "Expecting property name"),
        ("text/event-stream", b"event: ready\ndata: [1]\n\n", "the ready event's data is list, not an object"),
    ],
)
def test_an_answer_that_is_not_the_apis_stream_is_an_api_error(content_type: str, body: bytes, said: str) -> None:
    with Client("http://sim.test", transport=answering(content_type, body)) as api, pytest.raises(ApiError) as raised:
        list(api.watch(reconnect=False))
    assert "Not webhook-sim's control API" in str(raised.value) and said in raised.value.detail
    assert "GET http://sim.test/stream" in raised.value.detail


def test_events_are_parsed_as_the_standard_reads_them() -> None:
    """Comments skipped, a space after the colon optional, `data` lines joined, unknown fields ignored, and an event
    without data dispatches nothing."""
    body = (
        b': keep-alive\n\nevent: ready\ndata: {"filters": {}}\n\n'
        b'event:runs\nid: 7\ndata:{"ids": ["run_1"],\ndata: "other": false}\n\n'
        b"event: deliveries\n\n"
    )
    with Client("http://sim.test", transport=answering("text/event-stream; charset=utf-8", body)) as api:
        got = list(api.watch(reconnect=False))
    assert got == [StreamEvent("ready", {"filters": {}}), StreamEvent("runs", {"ids": ["run_1"], "other": False})]
