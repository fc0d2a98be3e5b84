"""The server facing a network: it will not serve an open API off loopback, its text log cannot be forged, idle
and half-sent connections cannot starve it, and a client that hangs up is not an error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.runtime import FILE_LIMIT, AppServer
from tests.api.harness import eventually
from tests.api.serving import Served, clean_env, healthy, serve_once

TOKEN = "exposure-token-for-tests"


# --- no open API off loopback (item 10) -------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "example.test"])
def test_a_non_loopback_address_without_a_token_is_refused(tmp_path: Path, host: str) -> None:
    done = serve_once(["--host", host, "--port", "0", "--db", str(tmp_path / "api.db")])
    assert done.returncode == 2, done.stderr
    assert f"refusing to serve the control API on {host} without a token" in done.stderr
    assert "--token" in done.stderr and "--token-file" in done.stderr and "--insecure-no-token" in done.stderr
    assert "serving on" not in done.stdout
    assert not (tmp_path / "api.db").exists()  # refused before anything was opened


def test_the_container_environment_alone_is_refused(tmp_path: Path) -> None:
    """The image sets WEBHOOK_SIM_HOST=0.0.0.0: started without a token, it says what to set and exits 2."""
    env = clean_env(WEBHOOK_SIM_HOST="0.0.0.0", WEBHOOK_SIM_PORT="0", WEBHOOK_SIM_DB=str(tmp_path / "api.db"))
    done = serve_once([], env=env)
    assert done.returncode == 2 and "WEBHOOK_SIM_TOKEN" in done.stderr and "WEBHOOK_SIM_TOKEN_FILE" in done.stderr


def test_insecure_no_token_serves_open_on_purpose(tmp_path: Path) -> None:
    served = Served(tmp_path, ["--host", "0.0.0.0", "--insecure-no-token"])
    try:
        assert httpx.get(f"http://127.0.0.1:{served.port}/subscriptions").status_code == 200
        assert "warning: no --token while listening on 0.0.0.0" in served.log()
    finally:
        served.stop()


def test_a_token_file_guards_the_api_and_is_never_logged(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    served = Served(tmp_path / "server", ["--host", "0.0.0.0"], env=clean_env(WEBHOOK_SIM_TOKEN_FILE=str(token_file)))
    try:
        url = f"http://127.0.0.1:{served.port}"
        assert httpx.get(f"{url}/subscriptions").status_code == 401
        assert httpx.get(f"{url}/subscriptions", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    finally:
        served.stop()
    assert TOKEN not in served.log() + served.out.read_text()


@pytest.mark.parametrize(("content", "message"), [("", "is empty"), (None, "cannot read")], ids=["empty", "missing"])
def test_an_unusable_token_file_is_refused(tmp_path: Path, content: str | None, message: str) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    done = serve_once(["--token-file", str(token_file), "--port", "0", "--db", str(tmp_path / "api.db")])
    assert done.returncode == 2 and message in done.stderr


def test_loopback_needs_no_token(tmp_path: Path) -> None:
    served = Served(tmp_path, ["--host", "127.0.0.1"])
    try:
        assert httpx.get(f"{served.url}/subscriptions").status_code == 200
    finally:
        served.stop()


# --- the text log (item 11) -------------------------------------------------------------------------------

FORGED = "2026-01-01 00:00:00,000 INFO webhook_sim.access: GET /forged 200 0.1ms"


def raw_request(port: int, head: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionError):
            while chunk := sock.recv(65536):
                answer += chunk
        return answer


def test_control_characters_in_a_path_cannot_forge_log_lines(tmp_path: Path) -> None:
    served = Served(tmp_path)
    try:
        forged = FORGED.replace(" ", "%20")
        head = f"GET /x%0d%0a{forged}%00%1b[2J HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        assert raw_request(served.port, head).startswith(b"HTTP/1.1 404")
        time.sleep(0.3)
    finally:
        served.stop()
    log = served.log()
    assert "\x00" not in log and "\x1b" not in log
    assert not any(line.startswith(FORGED[:24]) for line in log.splitlines())  # no line the client wrote
    [line] = [line for line in log.splitlines() if "/x" in line]
    assert "webhook_sim.access: GET /x\\r\\n2026-01-01 00:00:00,000 INFO" in line and "\\x00\\x1b[2J 404" in line


# --- idle connections (item 14) ---------------------------------------------------------------------------


def test_idle_and_half_sent_connections_are_closed_and_health_answers_throughout(tmp_path: Path) -> None:
    """With 256 file descriptors (so 128 connections kept), 300 connections that never finish their request
    head: the server drops the oldest idle ones to take new ones, closes every one within the header timeout,
    and answers /health all along. Without the guards they were kept forever and exhausted the descriptors."""
    served = Served(tmp_path, ["--header-timeout", "2"], max_files=256)
    idle: list[socket.socket] = []
    try:
        for i in range(300):
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
            if i % 2:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")  # a head that never ends
            idle.append(sock)
            if i % 50 == 49:
                assert healthy(served.url), f"/health unreachable after {i + 1} idle connections"
        assert healthy(served.url)
        deadline = time.monotonic() + 2 + 3  # the header timeout, and some slack for a loaded machine
        for sock in idle:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ConnectionError):
                assert sock.recv(1) == b"", "an idle connection got an answer"
        assert time.monotonic() < deadline + 0.5
        assert healthy(served.url)
    finally:
        for sock in idle:
            sock.close()
        served.stop()


def test_serve_raises_its_open_file_limit_towards_the_hard_one(tmp_path: Path) -> None:
    """Started with a soft limit of 256 files under a higher hard one (Linux starts processes at 1,024 under
    524,288), `serve` raises its soft limit to the hard one, 65,536 at most: its caps on connections follow it."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit on open files is {hard}: nothing to raise to")
    served = Served(tmp_path, soft_files=256)
    try:
        limits = Path(f"/proc/{served.proc.pid}/limits").read_text()
    finally:
        served.stop()
    [line] = [line for line in limits.splitlines() if line.startswith("Max open files")]
    wanted = FILE_LIMIT if hard == resource.RLIM_INFINITY else min(hard, FILE_LIMIT)
    assert int(line.split()[3]) == wanted


def test_a_slow_head_is_closed_even_while_it_trickles_in(tmp_path: Path) -> None:
    served = Served(tmp_path, ["--header-timeout", "1"])
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
            started = time.monotonic()
            with contextlib.suppress(ConnectionError, BrokenPipeError):
                for byte in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
                    if time.monotonic() - started > 4:
                        break
            sock.settimeout(5)
            with contextlib.suppress(ConnectionError):
                assert sock.recv(1) == b""
            assert time.monotonic() - started < 3
    finally:
        served.stop()


def test_a_kept_alive_connection_still_serves_request_after_request(tmp_path: Path) -> None:
    served = Served(tmp_path, ["--header-timeout", "1"])
    try:
        with httpx.Client(base_url=served.url) as client:
            for _ in range(3):
                assert client.get("/health").status_code == 200
                time.sleep(0.6)  # within the keep-alive time; each head is sent at once
    finally:
        served.stop()


# --- a client that hangs up (item 15) ---------------------------------------------------------------------


# Two ways a body never arrives whole: the client hangs up within it, or sends chunks HTTP cannot read (uvicorn
# then closes the connection itself).
CUTS = {
    "hang-up": b'Content-Length: 1000\r\n\r\n{"url": "http://127.0.0.1:9/"',
    "bad-chunk": b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("cut", list(CUTS))
@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/subscriptions", b""),
        ("/basistheory/tokens", b"BT-API-KEY: key_test\r\n"),
        ("/syncfy/v1/webhooks", b"Authorization: api_key api_key=key_test\r\n"),
    ],
    ids=["control", "basistheory", "syncfy"],
)
def test_a_client_whose_body_never_arrives_is_logged_as_such(tmp_path: Path, path: str, auth: bytes, cut: str) -> None:
    """The control API and both twins: a 499 in the access log and a line saying why, never a traceback (the
    Syncfy twin logged one, as an unexpected error, and answered 500 to nobody)."""
    served = Served(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
            head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n".encode()
            sock.sendall(head + auth + CUTS[cut])
        eventually(lambda: f"access: POST {path} " in served.log(), what="the request's access line")
        assert healthy(served.url)
    finally:
        served.stop()
    log = served.log()
    assert "Traceback" not in log and " ERROR " not in log, log
    [access] = [line for line in log.splitlines() if f"access: POST {path} " in line]
    assert " 499 " in access
    assert "client disconnected before sending the whole request" in log


# --- clients that stop reading ------------------------------------------------------------------------------


def test_a_client_that_reads_nothing_of_its_answer_is_cut_off_after_the_send_timeout() -> None:
    """An endless answer (a live stream) to a client that reads none of it: once the answer has waited
    `send_timeout` to be written, the connection is aborted and the application hears the client is gone. Before,
    its write waited for good, and a stream's handler with it."""
    ended = threading.Event()

    async def endless(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            while not gone.done():
                await send({"type": "http.response.body", "body": b"x" * 65_536, "more_body": True})
        except OSError:
            pass  # uvicorn may say the client is gone this way too
        finally:
            gone.cancel()
            ended.set()

    server = AppServer().start(endless, lifespan="off", send_timeout=0.5)
    try:
        with _small_reader(server.port, 4096, "/stream") as client:
            assert ended.wait(30), "the application still writes to a client that reads nothing"
            client.settimeout(10)  # the connection is closed: what was in flight, then its end (or a reset)
            with contextlib.suppress(ConnectionResetError):
                while client.recv(1 << 20):
                    pass
    finally:
        server.stop()


async def _disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def test_a_slow_but_steady_reader_gets_the_whole_answer() -> None:
    """The send timeout is the time between two reads, not the whole answer's (as nginx's `send_timeout`): a
    client that takes 6 MB at a couple of MB a second, far longer than the timeout, still gets every byte. The
    connection is kept alive, so nothing but the timeout could close it."""
    length = 6 * 1024 * 1024

    async def large(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/octet-stream"), (b"content-length", str(length).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"y" * length})

    server = AppServer().start(large, lifespan="off", send_timeout=0.5)
    try:
        with _small_reader(server.port, 8192, "/large") as client:
            client.settimeout(30)
            received, started = bytearray(), time.monotonic()
            while not _whole(received, length) and (chunk := client.recv(65_536)):
                received += chunk
                time.sleep(0.004)  # a slow link: about 2 MB a second
            assert time.monotonic() - started > 1.0  # it took far longer than the send timeout
            head, _, body = bytes(received).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and len(body) == length
    finally:
        server.stop()


def _small_reader(port: int, buffer: int, path: str) -> socket.socket:
    """A client whose receive buffer holds `buffer` bytes, its GET of `path` sent (kept alive): how much of the
    answer the server can hand the system is bounded by how fast it reads."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    client.connect(("127.0.0.1", port))
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return client


def _whole(received: bytearray, length: int) -> bool:
    _, found, body = bytes(received).partition(b"\r\n\r\n")
    return bool(found) and len(body) >= length


# --- clients that stop sending a body -----------------------------------------------------------------------


def _answer(sock: socket.socket) -> bytes:
    """What comes on `sock` until the server closes it (10 s at most)."""
    sock.settimeout(10)
    answer = b""
    with contextlib.suppress(ConnectionError):
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_body_that_stops_coming_is_answered_408_and_the_server_serves_on(tmp_path: Path) -> None:
    """A client that announced 100 bytes and sent one held its connection, and the handler reading it, for good:
    `--header-timeout` bounds each pause within a body too."""
    served = Served(tmp_path, ["--header-timeout", "1"])
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(b"POST /subscriptions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{")
            answer = _answer(sock)
            waited = time.monotonic() - started
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer
        assert json.loads(body)["errors"] == [
            {"field": "body", "message": "nothing more of the request body came for 1s"}
        ]
        assert 1 <= waited < 8, waited
        assert healthy(served.url)
        assert httpx.get(f"{served.url}/subscriptions", timeout=5).json()["data"] == []
    finally:
        served.stop()
    assert "Traceback" not in served.log() and " ERROR " not in served.log(), served.log()
    assert "closing a connection that sent nothing more of its request body for 1s" in served.log()


def test_a_slow_but_steady_body_and_one_waiting_for_100_continue_are_answered() -> None:
    """The limit is on each pause, not on the whole body; and a client that waits for `100 Continue` sends
    nothing until the application asks for the body, however late it asks."""

    # The limit, wide enough that a busy machine's pause between the 100 and the body stays inside it (at 0.5 s a
    # loaded run timed out there), narrow beside the whole body's time and the application's wait.
    limit = 1.5

    async def echo(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/late":
            # The application reads the body two limits after the head came, just before the clock's second look
            # (at two limits): a look that counted the client's pause from the first one timed it out.
            await asyncio.sleep(2 * limit - 0.1)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    server = AppServer().start(echo, lifespan="off", header_timeout=limit)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(b"POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\n")
            for byte in b"steady":  # 3 s in all, twice the limit, and never more than a third of it without a byte
                time.sleep(limit / 3)
                sock.sendall(bytes([byte]))
            assert _answer(sock).endswith(b"\r\n\r\nsteady")
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(
                b"POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n"
                b"Connection: close\r\n\r\n"
            )
            assert sock.recv(64).startswith(b"HTTP/1.1 100 ")
            time.sleep(limit / 2)  # a pause within the limit, from the 100 on
            sock.sendall(b"late")
            assert _answer(sock).endswith(b"\r\n\r\nlate")
    finally:
        server.stop()
