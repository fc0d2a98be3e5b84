"""An answer whose body was cut short, in the API and on a delivery's page: the receiver's status and headers, what
of the body came, and why the rest is missing (not "No answer", nor the log's 64 KiB bound as the reason)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.dashboard.conftest import Page

ERROR = "the answer's body was cut short: connection closed after 3 of 10 bytes"


@contextmanager
def raw_receiver(answer: bytes) -> Iterator[str]:
    """A receiver's URL: it reads each request and writes `answer` as given (a status line, headers and a body, framed
    as the test wants, wrongly too), then closes the connection."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += self.rfile.readline()
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            self.rfile.read(length)
            self.wfile.write(answer)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/hook"
        finally:
            server.shutdown()


# A 200 whose Content-Length says 10, with 3 bytes of body.
CUT_SHORT = b"HTTP/1.1 200 OK\r\nX-Receiver: kept\r\nContent-Length: 10\r\n\r\nabc"


def test_an_answer_cut_short_shows_its_status_headers_and_why(page: Page) -> None:
    with raw_receiver(CUT_SHORT) as url, page.server.client() as api:
        api.post("/subscriptions", json={"url": url, "retry": {"delays": []}})
        api.post("/events", json={"type": "basistheory:token.created"})
        page.wait(lambda: api.get("/deliveries", params={"status": "dead"}).json()["data"], what="a dead delivery")
        [listed] = api.get("/deliveries").json()["data"]
        delivery = api.get(f"/deliveries/{listed['id']}").json()
    [attempt] = delivery["attempt_log"]
    assert (attempt["status_code"], attempt["error"], attempt["response"]) == (200, ERROR, "abc")
    assert attempt["response_headers"] == {"x-receiver": "kept", "content-length": "10"}
    assert (delivery["last_status"], delivery["last_error"]) == (200, ERROR)

    page.open(f"/deliveries/{delivery['id']}")
    section = page.one('section.attempt[data-number="1"]')
    assert section.find_element("css selector", ".outcome").text == "HTTP 200"
    assert page.one(".response .line").text.startswith("HTTP 200 in ")
    assert page.one(".response p.cut").text == "The answer's body was cut short: connection closed after 3 of 10 bytes."
