"""An answer whose body was cut short, in the API and on a delivery's page: the receiver's status and headers, what
of the body came, and why the rest is missing (not "No answer", nor the log's 64 KiB bound as the reason)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.dashboard.conftest import Page

ERROR = "the answer's body was cut short: connection closed after 3 of 10 bytes"


class _CutShort(socketserver.StreamRequestHandler):
    """Reads one request, answers a 200 whose Content-Length says 10 with 3 bytes of body, and closes."""

    def handle(self) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self.rfile.readline()
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        self.rfile.read(length)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Receiver: kept\r\nContent-Length: 10\r\n\r\nabc")


@contextmanager
def cut_short_receiver() -> Iterator[str]:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _CutShort) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/hook"
        finally:
            server.shutdown()


def test_an_answer_cut_short_shows_its_status_headers_and_why(page: Page) -> None:
    with cut_short_receiver() as url, page.server.client() as api:
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
