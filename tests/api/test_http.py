"""The HTTP layer: every refusal is a problem document, bodies are bounded, requests carry ids, logs are safe."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator.api.access_log import JsonFormatter
from simulator.api.app import ENDPOINTS, server_app
from simulator.api.endpoints import Endpoint
from simulator.models import answers as schemas
from simulator.models.answers import ListQuery
from tests.api.harness import ApiServer, concrete, ok, problem

SMALL = 1000
JSON = {"content-type": "application/json"}


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[ApiServer]:
    srv = ApiServer(server_app(str(tmp_path / "small.db"), max_body=SMALL, grace=1)).start()
    yield srv
    srv.stop()


def still_serving(api: httpx.Client) -> None:
    assert api.get("/health").status_code == 200


def test_unknown_route_and_wrong_method(api: httpx.Client) -> None:
    problem(api.get("/nowhere"), 404)
    problem(api.get("/runs/"), 404)
    response = api.put("/subscriptions")
    problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    problem(api.delete("/events"), 405)
    still_serving(api)


@pytest.mark.parametrize(
    ("content", "headers", "status", "field"),
    [
        (b'{"url": "http://127.0.0.1:9/"}', {"content-type": "text/plain"}, 415, "body"),
        (b"url=http://127.0.0.1:9/", {"content-type": "application/x-www-form-urlencoded"}, 415, "body"),
        (b'{"url": ', {"content-type": "application/json"}, 400, "body"),
        (b'{"url": "http://127.0.0.1:9/", "timeout": NaN}', {"content-type": "application/json"}, 400, "body"),
        (b'{"url": "http://127.0.0.1:9/\\ud800"}', {"content-type": "application/json"}, 400, "body"),
        (b"\xff\xfe{}", {"content-type": "application/json"}, 400, "body"),
        (b"[" * 100_000, {"content-type": "application/json"}, 400, "body"),
        (b'["http://127.0.0.1:9/"]', {"content-type": "application/json"}, 422, "body"),
        (b'"just a string"', {"content-type": "application/json"}, 422, "body"),
        (b"", {}, 422, "url"),
        (b'{"url": "http://127.0.0.1:9/a", "url": "http://127.0.0.1:9/b"}', JSON, 422, "url"),
        (b'{"url": "http://127.0.0.1:9/", "faults": {"drop": 0, "drop": 1}}', JSON, 422, "faults.drop"),
    ],
)
def test_bodies_that_are_not_usable_json(
    refusing_api: httpx.Client, content: bytes, headers: dict, status: int, field: str
) -> None:
    problem(refusing_api.post("/subscriptions", content=content, headers=headers), status, field)
    assert refusing_api.get("/subscriptions").json()["data"] == []
    still_serving(refusing_api)


def test_a_json_suffix_media_type_is_json(api: httpx.Client) -> None:
    body = json.dumps({"url": "http://127.0.0.1:9/"})
    ok(
        api.post("/subscriptions", content=body, headers={"content-type": "application/vnd.api+json"}),
        schemas.Subscription,
        201,
    )


def test_oversized_bodies_are_413(api: httpx.Client) -> None:
    huge = json.dumps({"url": "http://127.0.0.1:9/", "headers": {"X-Pad": "x" * 2_000_000}})
    problem(api.post("/subscriptions", content=huge, headers={"content-type": "application/json"}), 413, "body")
    still_serving(api)


def test_streamed_bodies_are_counted(small_server: ApiServer) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        pad = "x" * (total - 60)
        data = json.dumps({"url": "http://127.0.0.1:9/", "headers": {"X-Pad": pad}}).encode()
        for i in range(0, len(data), 100):
            yield data[i : i + 100]

    with small_server.client() as api:
        # A generator body goes out chunked, without Content-Length: only counting can catch it.
        problem(
            api.post("/subscriptions", content=chunks(5 * SMALL), headers={"content-type": "application/json"}),
            413,
            "body",
        )
        ok(
            api.post("/subscriptions", content=chunks(SMALL - 100), headers={"content-type": "application/json"}),
            schemas.Subscription,
            201,
        )
        still_serving(api)


def test_request_ids_are_echoed_or_made(api: httpx.Client) -> None:
    assert api.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = api.get("/health").headers["x-request-id"]
    assert len(made) == 32 and made != api.get("/health").headers["x-request-id"]
    unsafe = api.get("/health", headers={"X-Request-ID": "a b\tc" + "x" * 300}).headers["x-request-id"]
    assert len(unsafe) == 32
    refused = api.get("/nowhere", headers={"X-Request-ID": "r-404"})
    problem(refused, 404)
    assert refused.headers["x-request-id"] == "r-404"


def test_access_log_lines_and_no_secrets(api: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    api.post(
        "/subscriptions",
        json={"url": "http://127.0.0.1:9/", "signing": "standard", "secret": secret},
        headers={"X-Request-ID": "req-1"},
    )
    api.get("/subscriptions", headers={"Authorization": "Bearer not-logged"})
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "webhook_sim.access"]
    first = next(line for line in lines if line["request_id"] == "req-1")
    assert {k: first[k] for k in ("level", "logger", "method", "path", "status")} == {
        "level": "INFO",
        "logger": "webhook_sim.access",
        "method": "POST",
        "path": "/subscriptions",
        "status": 201,
    }
    assert isinstance(first["duration_ms"], float) and first["time"].endswith("+00:00")
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" not in everything and "not-logged" not in everything


def test_unexpected_errors_are_a_500_problem_and_logged(
    server: ApiServer, api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    server.app.state.api.sim.list_subscriptions = broken
    body = problem(api.get("/subscriptions"), 500)
    assert "a bug" not in body["detail"]
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)
    still_serving(api)


LISTS = [ep for ep in ENDPOINTS if ep.query is not None and issubclass(ep.query, ListQuery)]


@pytest.mark.parametrize("ep", LISTS, ids=[ep.path for ep in LISTS])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=1&limit=2", "limit"),
        ("cursor=" + "c" * 201, "cursor"),
        ("colour=blue", "colour"),
    ],
)
def test_list_parameters_are_checked(refusing_api: httpx.Client, ep: Endpoint, query: str, field: str) -> None:
    problem(refusing_api.get(f"{concrete(ep.path)}?{query}"), 422, field)


@pytest.mark.parametrize("path", ["/runs", "/subscriptions", "/schedules"])
@pytest.mark.parametrize("cursor", ["zzz", "run_", "sub_x y", "0"])
def test_a_cursor_no_list_gave_is_refused_not_an_empty_page(refusing_api: httpx.Client, path: str, cursor: str) -> None:
    """It answered an empty page, which a client paging took for the end of the list."""
    problem(refusing_api.get(path, params={"cursor": cursor}), 422, "cursor")


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/events", "abc"),  # every type
        ("/events", "\U0001f600"),  # none
        ("/events", "basistheory:token.nothing"),
        ("/scenarios", "run_zzz"),
        ("/scenarios", "\U0001f600"),
        ("/scenarios", "Bt-Basic"),
    ],
)
def test_a_catalog_lists_cursor_it_never_gave_is_refused(refusing_api: httpx.Client, path: str, cursor: str) -> None:
    """The event types' and the scenarios' lists paged any text silently, to all of them or to an empty page."""
    problem(refusing_api.get(path, params={"cursor": cursor}), 422, "cursor")


@pytest.mark.parametrize("path", ["/events", "/scenarios"])
def test_a_catalog_list_pages_on_with_the_cursors_it_gives(api: httpx.Client, path: str) -> None:
    whole = [item.get("name", item.get("type")) for item in api.get(path, params={"limit": 500}).json()["data"]]
    paged, cursor = [], None
    while True:
        page = api.get(path, params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        paged += [item.get("name", item.get("type")) for item in page["data"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert paged == whole and len(whole) > 3


def test_the_id_lists_page_on_with_the_cursors_they_give(api: httpx.Client) -> None:
    made = [
        ok(api.post("/subscriptions", json={"url": f"http://127.0.0.1:9/{i}"}), schemas.Subscription, 201)["id"]
        for i in range(3)
    ]
    first = ok(api.get("/subscriptions", params={"limit": 2}), schemas.SubscriptionPage)
    rest = ok(api.get("/subscriptions", params={"limit": 2, "cursor": first["next_cursor"]}), schemas.SubscriptionPage)
    assert [s["id"] for s in first["data"] + rest["data"]] == made and rest["next_cursor"] is None


@pytest.mark.parametrize("path", ["/events", "/runs", "/schedules"])
def test_a_target_and_subscriptions_together_are_refused(refusing_api: httpx.Client, path: str) -> None:
    """The target alone was sent to, and the subscriptions named were passed over, silently."""
    body: dict[str, object] = {"target": "http://127.0.0.1:9/", "subscriptions": ["sub_0123456789abcdef"]}
    body |= {"type": "token.created"} if path == "/events" else {"scenario": "bt-basic"}
    if path == "/schedules":
        body["interval"] = 3600
    problem(refusing_api.post(path, json=body), 422, "target")
    assert refusing_api.get("/runs").json()["data"] == [] and refusing_api.get("/deliveries").json()["data"] == []


def raw(server: ApiServer, request: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """`request` as bytes on a socket of its own: the status line, the headers and the body of the answer, read
    until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = dict(line.decode().lower().split(": ", 1) for line in lines)
    return status, headers, body


@pytest.mark.parametrize(
    ("request_bytes", "field", "says"),
    [
        (b"GET /deliveries?q=a b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "target", "percent-encode it (%20)"),
        (b"GET /deliveries?q=\x7f HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "target", "Invalid char in url query"),
        (b"GET /deliveries/\xc3\xa9 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "target", "Invalid char in url path"),
        (b"G@T /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "method", "Invalid method"),
        (b"GET /health HTTP/9.x\r\nHost: 127.0.0.1\r\n\r\n", "version", "Invalid minor version"),
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x01b\r\n\r\n", "headers", "Invalid header value char"),
        (b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1x\r\n\r\n", "headers", "Content-Length"),
        (b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "body", "chunk size"),
        # Past httptools' 64 KiB, refused while uvicorn parses the URL in a callback of the parser's.
        (b"GET /deliveries?q=" + b"b" * 66000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "target", "url is too long"),
    ],
    ids=["space", "control", "non-ascii", "method", "version", "header", "content-length", "chunk", "long"],
)
def test_a_request_that_is_not_http_is_a_problem_naming_the_part(
    server: ApiServer, api: httpx.Client, request_bytes: bytes, field: str, says: str
) -> None:
    """Refused by the HTTP parser before any route: uvicorn's own answer is plain text, naming nothing."""
    status, headers, body = raw(server, request_bytes)
    assert status == b"HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json" and headers["connection"] == "close"
    problem_doc = json.loads(body)
    assert (problem_doc["status"], problem_doc["title"]) == (400, "Bad request")
    [error] = problem_doc["errors"]
    assert error["field"] == field and says in error["message"] and says in problem_doc["detail"]
    still_serving(api)


@pytest.mark.parametrize("path", ["/basistheory/tokens", "/syncfy/v1/users"])
def test_a_request_that_is_not_http_under_a_twin_is_refused_in_that_providers_shape(
    server: ApiServer, api: httpx.Client, path: str
) -> None:
    """A provider's SDK reads its own error shape: Basis Theory's ProblemDetails, Syncfy's envelope."""
    status, headers, body = raw(server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x01b\r\n\r\n".encode())
    assert status == b"HTTP/1.1 400 Bad Request"
    answer = json.loads(body)
    if path.startswith("/syncfy/"):
        assert headers["content-type"].startswith("application/json")
        assert list(answer) == ["rid", "code", "errors", "status", "message", "response"]
        assert (answer["code"], answer["status"], answer["response"]) == (400, False, None)
        assert "Invalid header value char (headers)" in answer["message"] and headers["request-id"] == answer["rid"]
    else:
        assert headers["content-type"] == "application/problem+json"
        assert answer["status"] == 400 and answer["errors"] == {"headers": ["Invalid header value char"]}
    still_serving(api)


# 5,000 zeros before a length's digits: HTTP parsers take them, and int() refuses more than 4,300 digits.
PADDED = b"0" * 5000


@pytest.mark.parametrize(
    ("head", "status", "says"),
    [
        (b"Host: localhost\r\nContent-Length: " + PADDED + b"2", b"422", b"url"),  # 2: the body is read and judged
        (b"Host: localhost\r\nContent-Length: " + PADDED + b"99999999999", b"413", b""),
        # A page's Origin beside a Host whose port is no number (a superscript two, 5,000 digits): another origin.
        (b"Host: localhost:\xb2\r\nOrigin: http://localhost:1\r\nContent-Length: 2", b"403", b"another origin"),
        (b"Host: localhost:" + b"1" * 5000 + b"\r\nOrigin: http://localhost:1\r\nContent-Length: 2", b"403", b""),
    ],
    ids=["padded-length", "padded-length-too-large", "host-port-superscript", "host-port-5000-digits"],
)
def test_numbers_int_cannot_read_are_refused_not_a_500(
    server: ApiServer, api: httpx.Client, head: bytes, status: bytes, says: bytes
) -> None:
    """Each was a 500: the Content-Length and the Host's port were read with int()."""
    request = (
        b"POST /subscriptions HTTP/1.1\r\n" + head + b"\r\nContent-Type: application/json\r\nConnection: close\r\n"
    )
    answer_status, _, body = raw(server, request + b"\r\n{}")
    assert answer_status.split(b" ")[1] == status and says in body
    still_serving(api)
