"""Text from receivers, scenarios and forms shown safely everywhere on the page, in a real Chromium: a bidi override
in an answer's header and in a run's event body is marked and reorders nothing around it (as bodies on a delivery's
page were already); a form's API call preview masks a URL's credentials and an Authorization header, as the API does
wherever it shows them."""

from __future__ import annotations

import json

from tests.dashboard.conftest import Page
from tests.dashboard.test_cut_answer import raw_receiver
from tests.dashboard.test_hostile_answers import WHERE, deliver_once

# An answer whose header value holds U+202E (raw UTF-8 bytes, as a receiver may write them).
HEADER = "café \u202eevil.exe amount alice"
ANSWER = b"HTTP/1.1 200 OK\r\nX-Note: " + HEADER.encode() + b"\r\nContent-Length: 0\r\n\r\n"


def test_a_bidi_override_in_an_answers_header_is_marked(page: Page) -> None:
    """The cell read `café ecila tnuoma exe.live` on screen: the header tables wrote the value bare."""
    with raw_receiver(ANSWER) as url:
        delivery = deliver_once(page, url)
    page.open(f"/deliveries/{delivery['id']}")
    selector = '.response tr[data-name="x-note"] td'
    page.one(selector)
    shown = page.js(WHERE, selector, "amount", "alice")
    assert shown["text"] == HEADER  # the value itself, control included
    assert shown["marks"] == ["U+202E"]
    assert shown["first"] < shown["second"], shown  # left to right, as written


def test_a_bidi_override_in_a_runs_event_body_is_marked(page: Page) -> None:
    with page.server.client() as api:
        run = api.post("/runs", json={"scenario": "dash-bidi", "speed": 0}).json()
        page.wait(lambda: api.get(f"/runs/{run['id']}").json()["status"] == "completed", 60, "the run")
    page.open(f"/runs/{run['id']}")
    page.click(".timeline tr[data-seq] details summary")
    selector = ".timeline tr[data-seq] details pre"
    page.one(selector)
    shown = page.js(WHERE, selector, "evil", ".exe")
    assert '"note": "\u202eevil.exe"' in shown["text"]
    assert shown["marks"] == ["U+202E"]
    assert shown["first"] < shown["second"], shown


def test_the_api_call_preview_masks_credentials_as_the_api_does(page: Page) -> None:
    page.open("/subscriptions")
    form = page.one("#subscription-form")
    form.find_element("css selector", "input[name=url]").send_keys("http://alice:hunter2pw@127.0.0.1:9/x")
    form.find_element("css selector", "textarea[name=headers]").send_keys('{"Authorization": "Bearer tok_SECRET"}')
    page.js("arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", form)
    preview = form.find_element("css selector", "pre.api-call").get_attribute("textContent")
    body = json.loads(preview.split("\n\n", 1)[1])
    assert body["url"] == "http://alice:***@127.0.0.1:9/x", preview
    assert body["headers"] == {"Authorization": "Bearer ***"}, preview
    assert "hunter2pw" not in preview and "tok_SECRET" not in preview
