"""The Python client against a real server (uvicorn on an ephemeral port, a real SQLite file): every method, run
once through `Client` and once through `AsyncClient`."""

import asyncio
import contextlib
import inspect
import json
import math
import re
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import httpx._config
import httpx._transports.default
import pytest

from simulator import catalog, signing
from simulator.api.app import server_app
from simulator.client import ApiError, AsyncClient, Client, DeliveryInfo, Page, RunInfo, SubscriptionInfo
from simulator.scenarios import loader
from simulator.testing import AppServer
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually

TOKEN = "client-test-token"
# How a wait on the slow run ends, in the run's own words: an hour to its last event.
STILL_RUNNING = r"1 of 2 events emitted at speed 1; its last event is due in 3,[0-9]{3}s"
SCENARIOS = {
    "client-one-event": "name: client-one-event\nprovider: syncfy\ndescription: One credential.\n"
    "params:\n  note: {default: none, description: a note}\n"
    "steps:\n  - emit: credentials.created\n",
    "client-slow": "name: client-slow\nprovider: syncfy\ndescription: Two events an hour apart.\n"
    "steps:\n  - emit: credentials.created\n  - wait: 1h\n  - emit: credentials.updated\n",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    base = tmp_path_factory.mktemp("client")
    (base / "scenarios").mkdir()
    for name, text in SCENARIOS.items():
        (base / "scenarios" / f"{name}.yaml").write_text(text)
    app = server_app(str(base / "client.db"), scenario_dirs=[base / "scenarios"], token=TOKEN, grace=1)
    srv = AppServer().start(app, lifespan="on")
    yield srv
    srv.stop()


class Both:
    """One client, sync or async, called the same way: `await api.method(...)`, `await api.all("iter_x")`."""

    def __init__(self, client: Client | AsyncClient) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return call

    async def all(self, name: str, *args: Any, **kwargs: Any) -> list[Any]:
        items = getattr(self.client, name)(*args, **kwargs)
        if hasattr(items, "__aiter__"):
            return [item async for item in items]
        return list(items)


@pytest.fixture(params=["sync", "async"])
async def api(request: pytest.FixtureRequest, server: AppServer) -> AsyncIterator[Both]:
    if request.param == "sync":
        with Client(server.url, token=TOKEN) as client:
            both = Both(client)
            await both.reset()
            yield both
    else:
        async with AsyncClient(server.url, token=TOKEN) as aclient:
            both = Both(aclient)
            await both.reset()
            yield both


async def settled(api: Both, delivery_id: str, attempts: int = 1, timeout: float = 10.0) -> DeliveryInfo:
    """The delivery once it made `attempts` attempts and is final (polled every 10 ms)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await api.get_delivery(delivery_id)).status in ("pending", "failed") or found.attempts < attempts:
        assert asyncio.get_running_loop().time() < deadline, f"{delivery_id} still {found.status}"
        await asyncio.sleep(0.01)
    return found


async def test_server_routes_and_auth(api: Both, server: AppServer):
    assert (await api.health())["status"] == "ok"
    assert {"/runs", "/deliveries/{id}/redeliver"} <= set((await api.openapi())["paths"])
    document = await api.asyncapi()
    assert document["asyncapi"] == "3.0.0" and len(document["channels"]) == len(catalog.event_types())
    assert await api.public_key() == signing.default_key().public_pem
    anonymous = Both(Client(server.url) if isinstance(api.client, Client) else AsyncClient(server.url))
    assert (await anonymous.health())["status"] == "ok"  # public
    with pytest.raises(ApiError) as caught:
        await anonymous.list_runs()
    assert (caught.value.status, caught.value.title) == (401, "Unauthorized")
    await (anonymous.close() if isinstance(anonymous.client, Client) else anonymous.aclose())


@pytest.mark.parametrize("item", [".", ".."])
async def test_a_dot_id_reaches_its_route_and_is_not_found(api: Both, item: str) -> None:
    """Sent as they are, `.` and `..` were resolved away with the segment before: `get_subscription("..")` asked
    for `/` and said the server was not the control API, `delete_subscription(".")` met a 405."""
    for call, noun in [
        (api.get_subscription, "subscription"),
        (api.delete_subscription, "subscription"),
        (api.get_run, "run"),
        (api.cancel_run, "run"),
        (api.get_delivery, "delivery"),
        (api.redeliver, "delivery"),
    ]:
        with pytest.raises(ApiError) as caught:
            await call(item)
        assert (caught.value.status, caught.value.detail) == (404, f"no {noun} {item!r}")


def circular() -> list[Any]:
    held: list[Any] = []
    held.append(held)
    return held


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (Decimal("12.50"), "overrides['payload.amount']: a Decimal is not a JSON value"),
        ({"a", "b"}, "overrides['payload.amount']: a set is not a JSON value"),
        ([1, float("nan")], "overrides['payload.amount'][1]: nan is not a JSON number"),
        ({1: {"x": object()}}, "overrides['payload.amount'][1]['x']: a object is not a JSON value"),
        (circular(), "overrides['payload.amount'][0]: holds itself (a circular reference)"),
    ],
)
async def test_a_value_json_cannot_carry_is_refused_naming_where_it_is(
    api: Both, receiver: Receiver, value: Any, said: str
) -> None:
    """The encoder's own error named only the type (`Object of type Decimal is not JSON serializable`), and `nan`
    went out as `NaN`, which is not JSON. Nothing is sent."""
    with pytest.raises(ValueError, match=r"^" + re.escape(said)):
        await api.emit("credentials.updated", {"payload.amount": value}, target=receiver.url, seed=1)
    assert len(await api.list_deliveries()) == 0 and receiver.requests == []


async def test_event_catalog_sample_and_schema(api: Both):
    page = await api.list_event_types("syncfy", limit=5)
    assert isinstance(page, Page) and len(page) == 5 and page.next_cursor is not None
    every = await api.all("iter_event_types", "syncfy")
    assert [e.type for e in every] == [e.key for e in catalog.event_types("syncfy")]
    assert every[:5] == list(page)
    assert await api.sample("syncfy:credentials.created", seed=3) == catalog.sample("syncfy:credentials.created", 3)
    assert await api.schema("basistheory:token.created") == catalog.schema("basistheory:token.created")
    with pytest.raises(ApiError) as caught:
        await api.sample("syncfy:no.such.event")
    assert caught.value.status == 404 and caught.value.errors[0]["field"] == "type"


async def test_emit_to_a_target_with_overrides(api: Both, receiver: Receiver):
    event = await api.emit("credentials.updated", {"payload.is_executing": 0}, target=receiver.url, seed=1)
    assert event.type == "syncfy:credentials.updated" and event.body["payload"]["is_executing"] == 0
    [delivery_id] = event.deliveries
    assert (await settled(api, delivery_id)).status == "succeeded"
    assert receiver.event_ids() == [event.id]
    with pytest.raises(ApiError) as caught:
        await api.emit("credentials.updated", target="not a url")
    assert caught.value.status == 422 and caught.value.errors[0]["field"] == "target"


async def test_scenarios(api: Both):
    page = await api.list_scenarios(limit=2)
    assert len(page) == 2 and page.next_cursor is not None and page.errors == ()
    names = [s.name for s in await api.all("iter_scenarios")]
    assert names == sorted({*loader.discover()[0], *SCENARIOS})
    detail = await api.get_scenario("client-one-event")
    assert detail["params"] == {"note": {"default": "none", "description": "a note"}}
    assert detail.event_types == ["credentials.created"] and detail["source"].endswith("client-one-event.yaml")
    with pytest.raises(ApiError) as caught:
        await api.get_scenario("client-one-evnt")
    assert caught.value.status == 404 and "client-one-event" in caught.value.detail


async def test_runs_start_wait_list_events_and_cancel(api: Both, receiver: Receiver):
    started = await api.start_run("client-one-event", seed=7, speed=0, target=receiver.url, params={"note": "x"})
    # As the run stands once recorded: a run of one event at speed 0 may be over by then.
    assert isinstance(started, RunInfo) and started.status in ("pending", "running", "completed")
    done = await api.wait_run(started.id, timeout=10)
    assert (done.status, done.events, done.counts, done.seed, done.params) == (
        "completed",
        1,
        {"succeeded": 1},
        7,
        {"note": "x"},
    )
    assert await api.get_run(started.id) == done
    [event] = await api.all("iter_run_events", started.id)
    assert event.type == "syncfy:credentials.created" and receiver.event_ids() == [event.id]

    slow = await api.start_run("client-slow", speed=1, target=receiver.url)
    with pytest.raises(TimeoutError):
        await api.wait_run(slow.id, timeout=0.05)
    for _ in range(200):  # its first event, emitted at once, then an hour's wait (a loaded machine may lag)
        if (await api.get_run(slow.id)).events == 1:
            break
        await asyncio.sleep(0.05)
    # Why it still runs, in the run's own words: a bare "still running" hid a run at speed 1 needing an hour.
    with pytest.raises(TimeoutError, match=STILL_RUNNING):
        await api.wait_run(slow.id, timeout=2)
    cancelled = await api.cancel_run(slow.id)
    assert cancelled.status == "cancelled" and (await api.wait_run(slow.id, timeout=1)).status == "cancelled"

    first = await api.list_runs(limit=1)
    assert len(first) == 1 and first.next_cursor is not None
    assert sorted(r.id for r in await api.all("iter_runs", limit=1)) == sorted([started.id, slow.id])
    assert len(await api.run_events(slow.id, limit=5)) == 1
    with pytest.raises(ApiError) as caught:
        await api.get_run("run_missing")
    assert caught.value.status == 404


async def test_subscriptions_lifecycle(api: Both, receiver: Receiver):
    sub = await api.create_subscription(
        receiver.url,
        events=["syncfy:*"],
        signing="standard",
        headers={"X-Env": "test"},
        retry={"delays": [1, 2], "jitter": 0},
    )
    assert isinstance(sub, SubscriptionInfo) and sub.secret.startswith("whsec_")
    assert sub.events == ["syncfy:*"] and sub["retry"] == {"delays": [1.0, 2.0], "jitter": 0.0}
    assert sub.retry is not None and sub.retry.delays == [1.0, 2.0]
    other = await api.create_subscription(receiver.url)
    assert (await api.get_subscription(sub.id)).secret != sub.secret  # masked once created

    assert len(await api.list_subscriptions(limit=1)) == 1
    assert {s.id for s in await api.all("iter_subscriptions", limit=1)} == {sub.id, other.id}
    changed = await api.update_subscription(sub.id, url=receiver.url + "/v2", enabled=False)
    assert (changed.url, changed.status, changed.enabled) == (receiver.url + "/v2", "disabled", False)
    assert (await api.enable_subscription(sub.id)).status == "enabled"
    await api.delete_subscription(other.id)
    with pytest.raises(ApiError) as caught:
        await api.get_subscription(other.id)
    assert caught.value.status == 404


async def test_deliveries_filters_redelivery_and_dead_ones(api: Both, make_receiver):
    receiver = make_receiver()
    receiver.fail(1, status=500)
    sub = await api.create_subscription(receiver.url, retry={"delays": []}, signing="syncfy")
    first = await api.emit("syncfy:credentials.created")
    dead = await settled(api, first.deliveries[0])
    assert (dead.status, dead.attempts, dead.last_status) == ("dead", 1, 500)
    assert [(a.number, a.status_code) for a in dead.attempt_log] == [(1, 500)]

    assert await api.redeliver_dead(sub.id) == [dead.id]
    revived = await settled(api, dead.id, attempts=2)
    assert revived.status == "succeeded" and [a.status_code for a in revived.attempt_log] == [500, 204]

    second = await api.emit("syncfy:credentials.updated")
    await settled(api, second.deliveries[0])
    again = await api.redeliver(second.deliveries[0])
    assert again.id == second.deliveries[0]
    assert (await settled(api, again.id, attempts=2)).status == "succeeded"
    assert len(receiver.requests) == 4

    listed = await api.all("iter_deliveries", subscription=sub.id, limit=1)
    assert [d.id for d in listed] == [dead.id, second.deliveries[0]] and listed[0].attempt_log is None
    assert [d.id for d in await api.list_deliveries(type="credentials.updated")] == [again.id]
    assert await api.list_deliveries(status="dead") == Page((), None)
    assert len(await api.list_deliveries(subscription=sub.id, status="succeeded", limit=1)) == 1


async def test_schedules(api: Both):
    made = await api.create_schedule("client-one-event", interval=3600, speed=0, seed=3)
    assert made["trigger"] == {"interval": 3600.0} and made.trigger.interval == 3600.0
    assert not made.paused and made.run["seed"] == made.run.seed == 3
    other = await api.create_schedule("client-one-event", cron="0 3 * * *")
    assert [s.id for s in await api.all("iter_schedules", limit=1)] == sorted([made.id, other.id])
    paused = await api.pause_schedule(made.id)
    assert paused.paused and paused.next_run_at is None
    assert not (await api.resume_schedule(made.id)).paused
    await api.delete_schedule(other.id)
    assert [s.id for s in await api.list_schedules()] == [made.id]
    with pytest.raises(ApiError) as caught:
        await api.create_schedule("client-one-event", cron="not a cron")
    assert caught.value.status == 422 and caught.value.errors[0]["field"] == "cron"


def test_records_keep_the_json_and_api_errors_read_any_answer():
    answer = {
        **dict.fromkeys(("seed", "start_time", "target", "error", "started_at", "finished_at")),
        **{"id": "run_1", "scenario": "s", "status": "completed", "params": {}, "speed": 1.0, "faults": {}},
        **{"subscriptions": ["sub_1"], "events": 2, "counts": {}, "created_at": "2025-03-14T15:09:26.535Z"},
        "new_field": 1,  # a field a newer server adds is kept
    }
    run = RunInfo.of(answer)
    assert run.subscriptions == ["sub_1"] and run.finished and run["new_field"] == 1
    assert run.raw == answer and run.created_at.year == 2025
    with pytest.raises(ValueError, match="scenario"):
        RunInfo.of({k: v for k, v in answer.items() if k != "scenario"})
    plain = ApiError.from_response(httpx.Response(502, text="bad\n  gateway"))
    assert (plain.status, plain.title, plain.detail, plain.errors) == (502, "Bad Gateway", "bad gateway", ())
    page = ApiError.from_response(httpx.Response(404, html="<!DOCTYPE HTML>\n<html><p>File not found</p></html>"))
    assert (
        page.detail == "answered with text/html; charset=utf-8, not webhook-sim's control API: is the URL the server's?"
    )
    problem = ApiError.from_response(
        httpx.Response(
            422,
            json={"title": "Invalid input", "status": 422, "detail": "d", "errors": [{"field": "url", "message": "m"}]},
        )
    )
    assert str(problem) == "422 Invalid input: d" and problem.errors == ({"field": "url", "message": "m"},)


def test_paths_are_quoted():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"title": "Not found", "status": 404, "detail": "no"})

    with Client("http://sim.test", transport=httpx.MockTransport(handler)) as client, pytest.raises(ApiError):
        client.get_run("run/../reset")
    assert seen == ["/runs/run%2F..%2Freset"]


@pytest.mark.parametrize("make", [Client, AsyncClient], ids=["sync", "async"])
def test_a_client_of_a_plain_http_server_loads_no_certificate_bundle_and_one_of_https_does(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx loads certifi's bundle as each client is made (26-47 ms, once per pytest fixture started); a client of
    an http:// server never uses it. One of an https:// server keeps httpx's verification, bundle and all."""
    import ssl

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a certificate bundle was loaded")

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", refuse)
    # httpx's own way of making a context, not the suite's shared one (see `tests/conftest.py`)
    monkeypatch.setattr(httpx._transports.default, "create_ssl_context", httpx._config.create_ssl_context)
    client = make("http://127.0.0.1:1")
    if isinstance(client, AsyncClient):
        asyncio.run(client.aclose())
    else:
        client.close()
    with pytest.raises(AssertionError, match="bundle was loaded"):
        make("https://127.0.0.1:1")


# --- answers that are not the control API's, and what a caller hands the client ----------------------------------


def test_a_wait_ends_at_its_own_timeout_when_the_server_does_not_answer() -> None:
    """A server that takes the connection and never answers: the wait ends as a wait does (`TimeoutError`), within
    its own timeout, not with httpx's error at the client's (here 30 s, which would outlast the wait tenfold)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with Client(url, timeout=30) as client, pytest.raises(TimeoutError, match="did not answer"):
            client.wait_run("run_1", timeout=0.3)

        async def waited() -> None:
            async with AsyncClient(url, timeout=30) as client:
                await client.wait_run("run_1", timeout=0.3)

        with pytest.raises(TimeoutError, match="did not answer"):
            asyncio.run(waited())


def answers_once(body: bytes) -> tuple[str, Callable[[], None]]:
    """A server that answers its first request with `body` (JSON), then takes every later one and never answers;
    its URL, and what stops it."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listener closed: the test is over
            while True:
                conn, _ = listener.accept()
                held.append(conn)
                if len(held) == 1:
                    conn.recv(65536)
                    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    conn.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
                    conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop() -> None:
        listener.close()
        for conn in held:
            conn.close()
        thread.join(5)

    return f"http://127.0.0.1:{listener.getsockname()[1]}", stop


def test_a_wait_whose_last_poll_is_not_answered_says_why_the_run_was_still_running(
    server: AppServer, receiver: Receiver
) -> None:
    """A poll near the wait's end has only what is left of it: one the server answered a little late ended the wait
    with "the server did not answer" though the run had been read, and its own words (an hour to go) were lost."""
    with Client(server.url, token=TOKEN) as real:
        slow = real.start_run("client-slow", speed=1, target=receiver.url)
        auth = {"Authorization": f"Bearer {TOKEN}"}

        def after_its_first_event() -> httpx.Response | None:
            # Read once its first event is out (at once, then an hour's wait): a loaded machine read it before.
            answer = httpx.get(f"{server.url}/runs/{slow.id}", headers=auth)
            return answer if answer.json()["events"] == 1 else None

        try:
            read = eventually(after_its_first_event, what="the run's first event")
        finally:
            real.cancel_run(slow.id)
    url, stop = answers_once(read.content)
    try:
        with Client(url, token=TOKEN) as client, pytest.raises(TimeoutError, match=STILL_RUNNING):
            client.wait_run(slow.id, timeout=0.5)
    finally:
        stop()

    async def waited() -> None:
        async with AsyncClient(url, token=TOKEN) as client:
            await client.wait_run(slow.id, timeout=0.5)

    url, stop = answers_once(read.content)
    try:
        with pytest.raises(TimeoutError, match=STILL_RUNNING):
            asyncio.run(waited())
    finally:
        stop()


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (httpx.Response(200, html="<html>a login page</html>"), "Not webhook-sim's control API"),
        (httpx.Response(200, json={"id": "run_1"}), "Not webhook-sim's control API"),
        (httpx.Response(200, json=[1, 2]), "Not webhook-sim's control API"),
        (httpx.Response(404, json={"message": "no Route matched with those values"}), "no Route matched"),
    ],
)
def test_an_answer_that_is_not_the_apis_is_an_api_error_naming_the_request(answer: httpx.Response, said: str) -> None:
    with Client("http://sim.test", transport=httpx.MockTransport(lambda request: answer)) as client:
        for call in (lambda: client.get_run("run_1"), lambda: client.list_runs(), lambda: client.redeliver_dead("s")):
            with pytest.raises(ApiError) as raised:
                call()
            assert said in str(raised.value) and "http://sim.test/" in raised.value.detail


def test_times_tokens_and_cursors_as_a_caller_hands_them() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/runs" and request.method == "GET":  # a cache that ignores the query string
            return httpx.Response(200, json={"data": [], "next_cursor": "c1"})
        return httpx.Response(400, json={"title": "t", "status": 400, "detail": "seen"})

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with Client("http://sim.test", token="s3cret\n", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ApiError):
            client.start_run("s", start_time=when)
        with pytest.raises(ApiError):
            client.create_schedule("s", at=when)
        with pytest.raises(ApiError, match="led to itself"):
            list(client.iter_runs())
    assert [json.loads(r.content)["start_time" if r.url.path == "/runs" else "at"] for r in seen[:2]] == [
        when.isoformat()
    ] * 2
    assert {r.headers["authorization"] for r in seen} == {"Bearer s3cret"}  # stripped, as --token-file reads it
    with pytest.raises(ValueError, match="header") as refused:
        Client("http://sim.test", token="s3\ncret")
    assert "s3" not in str(refused.value)  # the secret is not shown


def test_deliveries_take_every_filter_the_server_does() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [], "next_cursor": None})

    with Client("http://sim.test", transport=httpx.MockTransport(handler)) as client:
        client.list_deliveries(q="needle", order="newest")
    assert (seen[0].url.params["q"], seen[0].url.params["order"]) == ("needle", "newest")


def test_a_reset_answered_by_something_else_is_an_api_error_not_done(receiver: Receiver) -> None:
    """Given a webhook receiver's port for the server's, `reset()` came back as done: any success was taken for the
    control API's 204."""
    receiver.respond(200)
    with Client(receiver.url.rsplit("/", 1)[0]) as client, pytest.raises(ApiError) as refused:
        client.reset()
    assert refused.value.title == "Not webhook-sim's control API" and "204" in refused.value.detail


@pytest.mark.parametrize("answer", [httpx.Response(200), httpx.Response(200, json={}), httpx.Response(202, text="ok")])
def test_a_delete_answered_with_another_success_is_an_api_error(answer: httpx.Response) -> None:
    with Client("http://sim.test", transport=httpx.MockTransport(lambda request: answer)) as client:
        for call in (lambda: client.delete_subscription("sub_x"), lambda: client.delete_schedule("sch_x")):
            with pytest.raises(ApiError) as refused:
                call()
            assert refused.value.title == "Not webhook-sim's control API"
    with Client("http://sim.test", transport=httpx.MockTransport(lambda request: httpx.Response(204))) as client:
        assert client.delete_subscription("sub_x") is None and client.reset() is None


@pytest.mark.parametrize(
    ("call", "error", "said"),
    [
        (lambda: Client("http://sim.test", timeout="x"), TypeError, "timeout must be a number of seconds, got 'x'"),
        (
            lambda: Client("http://sim.test", timeout=-1),
            ValueError,
            "timeout must be 0 or more seconds (finite), got -1",
        ),
        (lambda: AsyncClient("http://sim.test", timeout=math.nan), ValueError, "timeout must be 0 or more seconds"),
        (lambda: Client("http://sim.test").get_run(123), TypeError, "id must be a str, got 123"),
        (lambda: Client("http://sim.test").sample(None), TypeError, "type must be a str, got None"),
        (lambda: Client("http://sim.test").run_events(None), TypeError, "run_id must be a str, got None"),
        (lambda: Client("http://sim.test").wait_run("run_x", interval=-1), ValueError, "interval must be 0 or more"),
    ],
    ids=["timeout-type", "timeout-negative", "timeout-nan", "id", "type", "run_id", "interval"],
)
def test_a_clients_wrong_argument_is_named_before_any_request(call: Callable[[], Any], error: type, said: str) -> None:
    """They failed at the first request in httpx's or urllib's words: "Timeout value out of range",
    "quote_from_bytes() expected bytes", "sleep length must be non-negative"."""
    with pytest.raises(error) as refused:
        call()
    assert str(refused.value).startswith(said)


def test_the_page_iterators_show_their_lists_parameters_and_check_them_at_the_call() -> None:
    """`help(client.iter_runs)` showed `(*args, **kwargs)`, and a misspelt keyword failed only at the first `next()`."""
    for cls in (Client, AsyncClient):
        assert "limit" in inspect.signature(cls.iter_runs).parameters
        assert "status" in inspect.signature(cls.iter_deliveries).parameters
        assert (cls.iter_runs.__doc__ or "").startswith("Every item, page after page")
    failing = httpx.MockTransport(lambda request: httpx.Response(500))
    with Client("http://sim.test", transport=failing) as client, pytest.raises(TypeError):
        client.iter_deliveries(staus="dead")  # no request is made: the call itself is refused
    aclient = AsyncClient("http://sim.test", transport=httpx.MockTransport(lambda request: httpx.Response(500)))
    try:
        with pytest.raises(TypeError):
            aclient.iter_deliveries(staus="dead")
    finally:
        asyncio.run(aclient.aclose())
