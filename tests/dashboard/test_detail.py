"""A delivery's page in a real Chromium: the exact signature header the receiver got, the body as sent, the
verification steps; Resend makes a new attempt at the receiver; a dead delivery shows its error; hostile bodies
and headers stay text."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from simulator.testing import serve_app
from simulator.testing.receiver import Receiver
from tests.dashboard.conftest import Page
from tests.dashboard.test_list import SECRET
from tests.ports import refused_port


def header_cell(page: Page, attempt: int, name: str) -> str:
    selector = f'section.attempt[data-number="{attempt}"] .request tr[data-name="{name}"] td'
    return str(page.one(selector).text)


def only_delivery(page: Page) -> dict:
    with page.server.client() as api:
        page.wait(lambda: api.get("/deliveries", params={"status": "succeeded"}).json()["data"], what="a delivery")
        [delivery] = api.get("/deliveries").json()["data"]
    return delivery


def test_the_page_shows_the_signature_the_receiver_got(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url, "signing": "standard", "secret": SECRET})
        api.post("/events", json={"type": "syncfy:credentials.created"})
    [received] = webhook_receiver.wait_for(1)
    delivery = only_delivery(page)

    page.open(f"/deliveries/{delivery['id']}")
    page.one('section.attempt[data-number="1"]')
    for name in ("webhook-signature", "webhook-id", "webhook-timestamp", "content-type", "user-agent", "host"):
        assert header_cell(page, 1, name) == received.headers[name], name
    assert header_cell(page, 1, "content-length") == str(len(received.body))
    raw = page.one(".request .body-box .toggle")
    raw.click()
    assert page.one(".request pre.request-body").get_attribute("data-view") == "raw"
    assert page.one(".request pre.request-body").get_attribute("textContent") == received.body.decode()
    # The verification steps show the signed content built from this attempt's own bytes.
    page.one("details.verify summary")
    signed = page.one("pre.signed-content").get_attribute("textContent")
    assert (
        signed == f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.{received.body.decode()}"
    )
    assert SECRET not in page.driver.page_source
    # Copy as curl: the same request again, signature included.
    page.one(".copy-curl").click()
    command = page.wait(lambda: page.one("pre.curl").get_attribute("textContent"), what="the curl command")
    assert f"-H 'webhook-signature: {received.headers['webhook-signature']}'" in command
    assert command.startswith(f"curl -X POST '{webhook_receiver.url}'")


def test_basis_theory_signatures_verify_in_the_page(
    page: Page, make_webhook_receiver: Callable[..., Receiver], shots: Path
) -> None:
    receiver = make_webhook_receiver(fail=1, fail_status=503)
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": receiver.url, "retry": {"delays": [0.1]}})
        api.post("/events", json={"type": "basistheory:token.created"})
    first, second = receiver.wait_for(2)
    delivery = only_delivery(page)

    page.open(f"/deliveries/{delivery['id']}")
    page.wait(lambda: len(page.css("section.attempt")) == 2, what="both attempts")
    assert header_cell(page, 2, "bt-signature") == second.headers["bt-signature"]
    assert header_cell(page, 1, "bt-signature") == first.headers["bt-signature"]
    assert page.one('section.attempt[data-number="1"] .attempt-error .kind').text.lower() == "http"
    verdict = page.wait(lambda: page.one('section.attempt[data-number="2"] .verdict[data-ok="true"]'), what="verified")
    assert "verifies" in verdict.text
    page.screenshot(shots / "dashboard-delivery.png", height=2400)


def test_resend_makes_a_new_attempt(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url, "signing": "standard", "secret": SECRET})
        api.post("/events", json={"type": "basistheory:token.created"})
    webhook_receiver.wait_for(1)
    delivery = only_delivery(page)

    page.open(f"/deliveries/{delivery['id']}")
    page.one('section.attempt[data-number="1"]')
    page.wait(lambda: page.one("#resend").is_enabled(), what="Resend enabled")
    page.one("#resend").click()

    first, again = webhook_receiver.wait_for(2)
    assert again.headers["webhook-id"] == first.headers["webhook-id"] == delivery["id"]
    page.wait(lambda: page.css('section.attempt[data-number="2"]'), what="the second attempt, live")
    assert header_cell(page, 2, "webhook-signature") == again.headers["webhook-signature"]


def test_resend_of_a_delivery_waiting_for_its_retry_sends_it_now(page: Page, webhook_receiver: Receiver) -> None:
    webhook_receiver.fail(1, 500)
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url, "retry": {"delays": [3600]}})
        api.post("/events", json={"type": "basistheory:token.created"})
    webhook_receiver.wait_for(1)
    with page.server.client() as api:
        page.wait(lambda: api.get("/deliveries", params={"status": "failed"}).json()["data"], what="a failed one")
        [delivery] = api.get("/deliveries").json()["data"]
    page.open(f"/deliveries/{delivery['id']}")
    page.wait(lambda: page.css('section.attempt[data-number="1"]'), what="the failed first attempt")
    page.wait(lambda: page.one("#resend").is_enabled(), what="Resend enabled while the retry waits an hour")
    page.one("#resend").click()
    first, again = webhook_receiver.wait_for(2)  # now, not in an hour
    assert json.loads(again.body)["event"] == json.loads(first.body)["event"]  # `delivered_at` is the attempt's
    page.wait(lambda: page.css('section.attempt[data-number="2"]'), what="the attempt made now, live")


def test_a_dead_delivery_shows_its_error(page: Page) -> None:
    port = refused_port()
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": f"http://127.0.0.1:{port}/hook", "retry": {"delays": [0.05]}})
        api.post("/events", json={"type": "basistheory:token.created"})
        page.wait(lambda: api.get("/deliveries", params={"status": "dead"}).json()["data"], what="a dead delivery")
        [dead] = api.get("/deliveries").json()["data"]

    page.open(f"/deliveries/{dead['id']}")
    page.wait(lambda: len(page.css("section.attempt")) == 2, what="both attempts")
    assert page.one(".title .badge").text == "dead"
    for attempt in page.css("section.attempt"):
        assert attempt.find_element("css selector", ".kind").text.lower() == "refused"
        assert attempt.find_element("css selector", ".error-text").text == dead["last_error"]
    assert "Nothing was sent" not in page.one("section.attempt").text  # it was: nobody answered
    assert page.one("#resend").is_enabled()


def test_an_answer_outside_2xx_and_an_answer_cut_at_64_kib_say_so(page: Page) -> None:
    """The error line says the status once ("HTTP HTTP 503" before), and a long answer is said to be cut."""
    long_text = "x" * (200 * 1024)

    async def answer(request: Request) -> Response:
        if request.url.path == "/fail":
            return Response("unavailable", status_code=503)
        return Response(long_text, status_code=200)

    routes = [Route("/fail", answer, methods=["POST"]), Route("/long", answer, methods=["POST"])]
    with serve_app(Starlette(routes=routes)) as receiver:
        with page.server.client() as api:
            failing = api.post("/subscriptions", json={"url": f"{receiver.url}/fail", "retry": {"delays": []}}).json()
            api.post("/subscriptions", json={"url": f"{receiver.url}/long"})
            api.post("/events", json={"type": "basistheory:token.created"})
            page.wait(
                lambda: all(d["status"] in ("succeeded", "dead") for d in api.get("/deliveries").json()["data"]),
                what="both deliveries final",
            )
            by_sub = {d["subscription_id"]: d for d in api.get("/deliveries").json()["data"]}
        dead = by_sub.pop(failing["id"])
        [long] = by_sub.values()
        page.open(f"/deliveries/{dead['id']}")
        attempt = page.one('section.attempt[data-number="1"]')
        assert attempt.find_element("css selector", ".attempt-error").text == "HTTP status 503"
        assert not page.css(".response p.cut")  # a short answer is whole
        page.open(f"/deliveries/{long['id']}")
        page.one('section.attempt[data-number="1"]')
        assert page.one(".response p.cut").text == (
            "The first 65,536 bytes of 204,800: the log keeps 64 KiB of an answer."
        )


def test_times_name_the_zone_they_are_shown_in(page: Page, webhook_receiver: Receiver) -> None:
    """In New York a bare 21:02 stood beside a receiver's `date` header in GMT, read as the same clock."""
    page.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    try:
        with page.server.client() as api:
            api.post("/subscriptions", json={"url": webhook_receiver.url})
            api.post("/events", json={"type": "basistheory:token.created"})
        delivery = only_delivery(page)
        page.open(f"/deliveries/{delivery['id']}")
        stamp = page.one('section.attempt[data-number="1"] time')
        title, utc = stamp.get_attribute("title"), stamp.get_attribute("datetime")
        shown = re.fullmatch(r"\d{4}-\d\d-\d\d (\d\d):\d\d:\d\d\.\d{3} (EST|EDT) \((.+)\)", title)
        assert shown is not None, title
        assert shown[3] == utc
        assert (int(utc[11:13]) - int(shown[1])) % 24 in (4, 5)  # New York's clock, not UTC's
    finally:
        page.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})


HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


def test_hostile_bodies_and_headers_stay_text(page: Page) -> None:
    async def answer(request: Request) -> Response:
        return Response(HOSTILE, status_code=200, headers={"X-Hostile": HOSTILE}, media_type="text/html")

    with serve_app(Starlette(routes=[Route("/hook", answer, methods=["POST"])])) as hostile:
        with page.server.client() as api:
            api.post("/subscriptions", json={"url": f"{hostile.url}/hook", "headers": {"X-Sent": HOSTILE}})
            override = {"data.token.metadata.note": HOSTILE}
            emitted = api.post("/events", json={"type": "basistheory:token.created", "overrides": override})
            assert emitted.status_code == 202, emitted.text
        delivery = only_delivery(page)
        page.open(f"/deliveries/{delivery['id']}")
        page.one('section.attempt[data-number="1"]')
        page.open("/")
        page.wait(lambda: page.rows(), what="the list")
        page.open(f"/deliveries/{delivery['id']}")
        response = page.one(".response pre.response-body")
        assert response.get_attribute("textContent") == HOSTILE
        assert page.one('.response tr[data-name="x-hostile"] td').text == HOSTILE
        assert header_cell(page, 1, "x-sent") == HOSTILE
        assert HOSTILE.replace('"', '\\"') in page.one(".request pre.request-body").get_attribute("textContent")
    assert page.js("return document.title") == "webhook-sim"
    assert page.css("img[src=x]") == [] and page.js("return document.scripts.length") == 1


def test_an_answer_without_a_length_is_said_cut_only_when_it_was(page: Page) -> None:
    """Chunked, an answer has no length to compare: one of exactly 64 KiB, whole, was said to "may have gone on",
    as was one cut there. The attempt's record says which."""

    async def answer(request: Request) -> StreamingResponse:
        size = 64 * 1024 + (1 if request.url.path == "/longer" else 0)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, size, 4096):
                yield b"y" * min(4096, size - start)

        return StreamingResponse(chunks(), status_code=200, media_type="text/plain")

    routes = [Route(path, answer, methods=["POST"]) for path in ("/whole", "/longer")]
    with serve_app(Starlette(routes=routes)) as receiver, page.server.client() as api:
        subs = {
            path: api.post("/subscriptions", json={"url": f"{receiver.url}{path}"}).json()["id"]
            for path in ("/whole", "/longer")
        }
        api.post("/events", json={"type": "basistheory:token.created"})
        page.wait(
            lambda: [d["status"] for d in api.get("/deliveries").json()["data"]] == ["succeeded"] * 2,
            what="both deliveries answered",
        )
        by_sub = {d["subscription_id"]: d["id"] for d in api.get("/deliveries").json()["data"]}
    page.open(f"/deliveries/{by_sub[subs['/whole']]}")
    page.one('section.attempt[data-number="1"]')
    assert not page.css(".response p.cut")
    page.open(f"/deliveries/{by_sub[subs['/longer']]}")
    page.one('section.attempt[data-number="1"]')
    assert page.one(".response p.cut").text == (
        "The answer's body is kept to its first 64 KiB of a longer body: the log keeps no more."
    )
