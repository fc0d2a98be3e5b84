"""The HTTP/1.1 client against scripted servers on real sockets: framing, keep-alive, and every way a peer can
end a response early."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import resource
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from simulator.delivery import http1
from simulator.delivery.http1 import RACE_WINDOW, Client, Target
from simulator.delivery.http1_reader import ProtocolError, Reader, Response, ServerDisconnected
from simulator.delivery.sender import Sender
from tests.conftest import until
from tests.delivery.scripted import NO_CONTENT, Script, Server, read_request, scripted, serving, target
from tests.ports import refused_port


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    c = Client(limit=1024)
    yield c
    c.close()


async def test_request_bytes_and_keep_alive(client: Client) -> None:
    async with scripted([NO_CONTENT]) as server:
        for i in range(20):
            response = await client.post(target(server, "/hook?x=1"), {"X-N": str(i)}, b'{"n":%d}' % i, 5)
            assert response.status == 204
    assert server.connections == 1  # one connection for all twenty
    assert (
        server.requests[3]
        == (
            f'POST /hook?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-N: 3\r\nContent-Length: 7\r\n\r\n{{"n":3}}'
        ).encode()
    )


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
    ],
    ids=["chunked", "chunked-with-trailer", "content-length", "after-100-continue"],
)
async def test_bodies_are_framed_and_the_connection_reused(client: Client, response: bytes) -> None:
    async with scripted([response]) as server:
        for _ in range(3):
            got = await client.post(target(server), {}, b"{}", 5)
            assert (got.status, got.body) == (200, b"hello world")
    assert server.connections == 1


async def test_a_repeated_header_keeps_every_value(client: Client) -> None:
    """Two Set-Cookie (or any field sent twice) were recorded as the last one alone."""
    response = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Id: 7\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n"
    async with scripted([response]) as server:
        got = await client.post(target(server), {}, b"{}", 5)
    assert got.headers == {"set-cookie": "a=1, b=2", "x-id": "7", "content-length": "0"}


async def test_a_header_value_is_read_as_utf8_where_it_is_and_as_latin1_else(client: Client) -> None:
    """As httpx reads them: a UTF-8 value was read as Latin-1 alone, and `café` recorded as `cafÃ©`."""
    response = "HTTP/1.1 200 OK\r\nX-Note: café ✓\r\nContent-Length: 0\r\n\r\n".encode().replace(
        b"Content-Length", b"X-Old: caf\xe9\r\nContent-Length"
    )
    async with scripted([response]) as server:
        got = await client.post(target(server), {}, b"{}", 5)
    assert got.headers == {"x-note": "café ✓", "x-old": "café", "content-length": "0"}


async def test_a_response_split_across_many_writes(client: Client) -> None:
    whole = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        for i in range(len(whole)):  # one byte at a time
            writer.write(whole[i : i + 1])
            await writer.drain()

    async with serving(handle, Server()) as server:
        got = await client.post(target(server), {}, b"x", 5)
    assert (got.status, got.body, got.headers["content-type"]) == (200, b"abc", "text/plain")


async def test_connection_close_and_read_to_end(client: Client) -> None:
    async with scripted([b"HTTP/1.0 500 Oops\r\n\r\nbody until close"], close_after=True) as server:
        for _ in range(3):
            got = await client.post(target(server), {}, b"{}", 5)
            assert (got.status, got.body) == (500, b"body until close")
    assert server.connections == 3  # HTTP/1.0 without keep-alive: a connection each


async def test_a_large_body_is_cut_and_its_connection_dropped(client: Client) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 4000000\r\n\r\n" + b"x" * 4_000_000
    async with scripted([big]) as server:
        got = await asyncio.wait_for(client.post(target(server), {}, b"{}", 10), 10)
        assert got.status == 200 and got.body == b"x" * 1024
        got = await asyncio.wait_for(client.post(target(server), {}, b"{}", 10), 10)
    assert server.connections == 2


@pytest.mark.parametrize(
    "response",
    [
        b"",  # closed without a word
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",  # closed inside the body
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    ],
    ids=["nothing", "short-body", "short-chunk"],
)
async def test_closed_early_is_an_error(client: Client, response: bytes) -> None:
    async with scripted([response], close_after=True) as server:
        with pytest.raises(ServerDisconnected):
            await asyncio.wait_for(client.post(target(server), {}, b"{}", 5), 5)


@pytest.mark.parametrize(
    "response",
    [
        b"SMTP ready\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",  # llhttp's response parser takes these two
        b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: \u00b2\r\n\r\nxx".encode("latin-1"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n0123456789abcdef\r\n0\r\n\r\n",
    ],
    ids=[
        "not-http",
        "rtsp",
        "http-2.0",
        "no-colon",
        "length-ten",
        "length-superscript-two",
        "two-lengths",
        "length-and-chunked",
        "chunk-size-zz",
        "chunk-size-0x5",
        "chunk-size-1_0",
    ],
)
async def test_malformed_answers_are_refused_as_such(client: Client, response: bytes) -> None:
    async with scripted([response]) as server:
        with pytest.raises(ProtocolError) as caught:
            await asyncio.wait_for(client.post(target(server), {}, b"{}", 5), 5)
    assert type(caught.value) is ProtocolError  # refused for what it is, not mistaken for a disconnect
    assert str(caught.value).startswith("malformed response: ")


async def test_bytes_after_a_response_are_never_taken_for_the_next(client: Client) -> None:
    junk = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 Unasked\r\nContent-Length: 0\r\n\r\n"
    async with scripted([junk, NO_CONTENT]) as server:
        first = await client.post(target(server), {}, b"{}", 5)
        second = await client.post(target(server), {}, b"{}", 5)
    assert (first.status, first.body, second.status) == (200, b"ok", 204)
    assert server.connections == 2  # the connection that sent an unasked response is not used again


async def test_an_idle_connection_the_server_closed_is_not_reused(client: Client) -> None:
    async with scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], close_after=True) as server:
        # The server closes after answering although the response allows keep-alive (as idle timeouts do).
        for _ in range(5):
            assert (await asyncio.wait_for(client.post(target(server), {}, b"{}", 5), 5)).status == 200
            await asyncio.sleep(0.05)  # let the close arrive before the next request
    assert server.connections == 5


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        from simulator.delivery.http1 import encode_request

        encode_request(Target.parse("http://127.0.0.1:1/"), {"X-A": "1\r\nX-Injected: 2"}, b"")
    with pytest.raises(ValueError):
        Target.parse("ftp://example.com/")


def test_urls_are_encoded_as_a_browser_would() -> None:
    assert (
        Target.parse("http://127.0.0.1:8080/a b/é?q=ü").head
        == b"POST /a%20b/%C3%A9?q=%C3%BC HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
    )
    assert Target.parse("https://bücher.example/").head == b"POST / HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n"
    assert Target.parse("http://[::1]:80/x").head == b"POST /x HTTP/1.1\r\nHost: [::1]\r\n"


async def test_sender_outcomes() -> None:
    sender = Sender()
    await sender.start()
    try:
        responses = [b"HTTP/1.1 429 Slow Down\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nslow", NO_CONTENT]
        async with scripted(responses) as server:
            url = f"http://127.0.0.1:{server.port}/"
            first = await sender.post(url, b"{}", {}, 5)
            assert (first.status, first.retry_after, first.response, first.ok) == (429, 7.0, "slow", False)
            assert (await sender.post(url, b"{}", {}, 5)).ok
        refused = await sender.post(f"http://127.0.0.1:{refused_port()}/", b"{}", {}, 5)
        assert refused.status is None and "Connect" in (refused.error or "")
        bad = await sender.post(url, b"{}", {"X": "a\nb"}, 5)
        assert bad.status is None and "line break" in (bad.error or "")
    finally:
        await sender.close()


async def test_a_timed_out_connection_is_never_reused() -> None:
    hang = asyncio.Event()
    server = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader, server) is not None:
            if len(server.requests) == 1:
                await hang.wait()  # the first request never gets an answer in time
            writer.write(NO_CONTENT)
            await writer.drain()

    sender = Sender()
    await sender.start()
    try:
        async with serving(handle, server):
            url = f"http://127.0.0.1:{server.port}/"
            slow = await sender.post(url, b"{}", {}, 0.2)
            assert slow.status is None and slow.error == "timeout after 0.2s"
            hang.set()
            assert (await sender.post(url, b"{}", {}, 5)).status == 204
            assert server.connections == 2  # the late answer to the first never counts for the second
    finally:
        await sender.close()


def _self_signed(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return server, ssl.create_default_context(cafile=str(tmp / "cert.pem"))


async def test_https(tmp_path: Path) -> None:
    server_ctx, client_ctx = _self_signed(tmp_path)
    async with scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], tls=server_ctx) as server:
        sender = Sender(ssl_context=client_ctx)
        await sender.start()
        try:
            url = f"https://localhost:{server.port}/secure"
            outcomes = [await sender.post(url, b"{}", {}, 5) for _ in range(3)]
        finally:
            await sender.close()
        untrusted = Sender()  # the system's roots do not include a self-signed certificate
        await untrusted.start()
        try:
            refused = await untrusted.post(url, b"{}", {}, 5)
        finally:
            await untrusted.close()
    assert [(o.status, o.response) for o in outcomes] == [(200, "ok")] * 3
    assert server.connections == 1 and "CERTIFICATE_VERIFY_FAILED" in (refused.error or "")
    assert server.requests[0].startswith(f"POST /secure HTTP/1.1\r\nHost: localhost:{server.port}\r\n".encode())


async def test_redirects_are_answers_not_followed() -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n"
    sender = Sender()
    await sender.start()
    try:
        async with scripted([moved]) as server:
            outcome = await sender.post(f"http://127.0.0.1:{server.port}/", b"{}", {}, 5)
    finally:
        await sender.close()
    assert (outcome.status, outcome.ok, len(server.requests)) == (302, False, 1)


async def test_connections_the_server_closes_are_forgotten_at_once(client: Client) -> None:
    async with scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], close_after=True) as server:
        for _ in range(3):
            await client.post(target(server), {}, b"{}", 5)
        await until(lambda: not client._open and not client._idle, timeout=5, what="the closed connections dropped")


def answering_until_closed(server: Server, ended: asyncio.Event) -> Script:
    """A script that answers every request with a 204, and sets `ended` once the client closes its end."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader, server) is not None:
            writer.write(NO_CONTENT)
            await writer.drain()
        ended.set()

    return handle


async def test_idle_connections_are_closed_after_the_idle_timeout() -> None:
    """Closed on time with nothing else sent: swept only as connections were given back, one idle when the
    deliveries stopped stayed open for good."""
    ended = asyncio.Event()
    first = Server()
    handle = answering_until_closed(first, ended)
    client = Client(idle_timeout=0.2)
    try:
        async with serving(handle, first):
            await client.post(target(first), {}, b"{}", 5)
            posted = time.monotonic()
            await asyncio.wait_for(ended.wait(), 5)
            assert time.monotonic() - posted >= 0.15  # not before its time (the loop's clock ticks in ms)
            await until(lambda: not client._open, what="the client to forget it")
            assert client._sweeper is None  # nothing idle: no timer left behind
    finally:
        client.close()


async def test_a_request_made_after_the_client_closed_does_not_leave_its_connection_open() -> None:
    """A request that starts once the client is closed (a send begun as its sender stopped) is still made, and its
    connection closed after it: kept idle in a pool already closed, nothing closed it again, and the garbage
    collector found it after its event loop had closed (a `ResourceWarning`)."""
    ended = asyncio.Event()
    server = Server()
    client = Client()
    async with serving(answering_until_closed(server, ended), server):
        client.close()
        assert (await client.post(target(server), {}, b"{}", 5)).status == 204
        await asyncio.wait_for(ended.wait(), 5)
        assert not client._open and not client._idle


@pytest.mark.parametrize(
    ("second_answer", "held", "retried"),
    [
        (b"", 0.0, True),  # closed without a byte: the request goes again
        (b"HTTP/1.1 200 OK\r\nContent-Le", 0.0, False),  # closed mid-answer: the server saw it, an error
        # Closed without a byte, but after holding the request longer than a close racing it takes: the server
        # worked on it. Sent again, it was handled twice within one attempt, recorded as one.
        (b"", RACE_WINDOW + 0.5, False),
    ],
    ids=["closed-at-once", "closed-mid-answer", "closed-after-holding-it"],
)
async def test_a_kept_alive_connection_closed_under_a_request(
    client: Client, second_answer: bytes, held: float, retried: bool
) -> None:
    server = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader, server) is not None:
            if len(server.requests) == 2:  # the second request, on the kept-alive connection
                await asyncio.sleep(held)
                writer.write(second_answer)
                await writer.drain()
                return  # and the connection closes
            writer.write(NO_CONTENT)
            await writer.drain()

    async with serving(handle, server):
        assert (await client.post(target(server), {}, b"{}", 5)).status == 204
        if retried:
            assert (await client.post(target(server), {}, b"{}", 5)).status == 204
            assert (server.connections, len(server.requests)) == (2, 3)
        else:
            with pytest.raises(ServerDisconnected):
                await client.post(target(server), {}, b"{}", 5)
            assert (server.connections, len(server.requests)) == (1, 2)


async def test_responses_leave_no_reference_cycles(client: Client) -> None:
    """Each response's reader and its parser are freed when the response is done, not left to the cyclic
    collector: `serve` collects rarely, and a collection of thousands of them stopped the loop for tens of ms."""
    gc.collect()
    gc.disable()
    try:
        async with scripted([NO_CONTENT]) as server:
            for _ in range(50):
                assert (await client.post(target(server), {}, b"{}", 5)).status == 204
        async with scripted([b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"]) as server:
            for _ in range(5):
                with pytest.raises(ProtocolError):
                    await client.post(target(server), {}, b"{}", 5)
        assert [o for o in gc.get_objects() if type(o) is Reader] == []
    finally:
        gc.enable()


async def test_requests_of_one_turn_go_out_together_and_each_once(client: Client) -> None:
    """Requests are written as the loop's turn ends; every one arrives, once, on its own connection."""
    async with scripted([NO_CONTENT]) as server:
        posts = [client.post(target(server), {"X-N": str(i)}, b"{}", 5) for i in range(8)]
        responses = await asyncio.gather(*posts)
    assert [r.status for r in responses] == [204] * 8
    assert server.connections == 8
    assert sorted(int(r.split(b"X-N: ")[1].split(b"\r\n")[0]) for r in server.requests) == list(range(8))


async def test_a_request_whose_connection_closes_before_it_goes_out_is_sent_once_on_a_new_one(client: Client) -> None:
    """A kept-alive connection closed in the turn a request was made for it: the request never went out, so it
    goes on a new connection, and the server sees it once (written to the closing one, it went out twice)."""
    async with scripted([NO_CONTENT]) as server:
        assert (await client.post(target(server), {"X-N": "first"}, b"{}", 5)).status == 204
        [kept] = [conn for conns in client._idle.values() for conn in conns]
        second = asyncio.ensure_future(client.post(target(server), {"X-N": "second"}, b"{}", 5))
        await asyncio.sleep(0)  # the request is made for the kept connection; it is written as the turn ends
        assert not kept.reusable
        kept.close()
        assert (await second).status == 204
    assert [r.count(b"X-N: second") for r in server.requests] == [0, 1]
    assert server.connections == 2


async def test_an_answer_read_before_a_request_goes_out_is_not_its_answer(client: Client) -> None:
    """A receiver that answers twice: its second answer, read in the turn the next request is made (before it is
    written), is not that request's answer. The request goes out on a new connection and gets its own."""
    seen: list[bytes] = []
    stray_sent = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn, contextlib.suppress(OSError):  # the client drops the first connection
                head = b""
                while True:
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        head += chunk
                    if b"\r\n\r\n" not in head:
                        break
                    request, _, head = head.partition(b"\r\n\r\n")
                    head = head[2:]  # the body, b"{}"
                    seen.append(request.split(b"X-N: ")[1][:1])
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal")
                    time.sleep(0.05)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray")  # unasked
                    stray_sent.set()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        where = Target.parse(f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
        assert (await client.post(where, {"X-N": "1"}, b"{}", 5)).body == b"real"
        go = asyncio.get_running_loop().create_future()

        async def second() -> Response:
            await go
            return await client.post(where, {"X-N": "2"}, b"{}", 5)

        task = asyncio.ensure_future(second())
        await asyncio.sleep(0)
        go.set_result(None)
        # The loop held until the stray answer is in: it is read in the turn the second request is made.
        assert stray_sent.wait(5)
        answer = await task
        assert answer.body == b"real"
        assert seen == [b"1", b"2"]
    finally:
        client.close()  # its sockets close in the loop's next turns: the server is waited for off the loop
        await asyncio.to_thread(server.join, 5)
        listener.close()


async def test_an_endpoint_that_answers_twice_never_answers_another_urls_request(client: Client) -> None:
    """A receiver's `/twice` answers each request, then slips a stray 200 before the next request's answer on
    the same connection; `/fail` always answers 500. Pooled by origin, `/fail`'s request went out on `/twice`'s
    kept connection and read the stray 200: another subscription's failure recorded as a success."""
    server = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stray = b""  # this connection's next answer comes after it
        while (request := await read_request(reader, server)) is not None:
            if request.startswith(b"POST /twice "):
                answer = NO_CONTENT
            else:
                answer = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
            writer.write(stray + answer)
            stray = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" if answer == NO_CONTENT else b""
            await writer.drain()

    async with serving(handle, server):
        statuses = []
        for _ in range(3):
            await client.post(target(server, "/twice"), {}, b"{}", 5)  # its own stray may answer it: one endpoint
            statuses.append((await client.post(target(server, "/fail"), {}, b"{}", 5)).status)
    assert statuses == [500, 500, 500]


async def test_idle_connections_are_bounded_in_all_the_least_recent_closed_first(client: Client) -> None:
    client._max_idle = 2
    async with scripted([NO_CONTENT]) as server:
        for path in ("/a", "/b", "/c", "/b"):
            assert (await client.post(target(server, path), {}, b"{}", 5)).status == 204
        kept = sorted(conn.pool[3].split(b" ")[1].decode() for conns in client._idle.values() for conn in conns)
        assert kept == ["/b", "/c"]  # /a was the least recently used when /c's connection went idle
        await until(lambda: len(client._open) == 2, timeout=5, what="the dropped connection forgotten")
        assert (await client.post(target(server, "/c"), {}, b"{}", 5)).status == 204
    assert server.connections == 3  # /b and /c reused theirs


@contextlib.contextmanager
def soft_file_limit(files: int) -> Iterator[None]:
    """This process's soft limit on open files at `files` meanwhile (skipped where the hard one is lower)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < files:
        pytest.skip(f"the process may open {hard} files at most; the test needs {files}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def connections_for(urls: int, files: int) -> int:
    """Connections a client made under a soft limit of `files` opens for `urls` URLs sent 3 times at once."""
    with soft_file_limit(files):
        client = Client()  # its cap taken from the limit as it is made (after `serve` raised it)
    try:
        async with scripted([NO_CONTENT]) as server:
            for _ in range(3):
                sent = [client.post(target(server, f"/s{i}"), {}, b"{}", 10) for i in range(urls)]
                assert {answer.status for answer in await asyncio.gather(*sent)} == {204}
    finally:
        client.close()
    return server.connections


async def test_hundreds_of_urls_in_flight_each_keep_their_connection() -> None:
    """The idle cap is a quarter of the file descriptors when the client is made: with 2,048 of them, 300 URLs
    with a request each in flight find their connection again for the next. Under a cap of 256 in all, 44 of
    them opened a new one each time; with 256 files (a cap of 64), 236 do."""
    assert await connections_for(300, 2048) == 300
    assert await connections_for(300, 256) == 300 + 2 * 236


@pytest.mark.parametrize(("files", "idle"), [(100, 64), (2048, 512), (8192, 1024)])
def test_the_idle_cap_is_a_quarter_of_the_file_descriptors_64_to_1024(files: int, idle: int) -> None:
    with soft_file_limit(files):
        assert http1._max_idle() == idle
