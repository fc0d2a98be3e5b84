"""The dashboard in a real Chromium, where it showed less than it had or other than it had: the deliveries list's
event and URL at 1024 and 375 px, seeds beyond 2^53 read and sent exactly, bodies pretty-printed token for token,
the token prompt's words and notices, a dropped delivery, and schedules' cron in UTC."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.testing import serve_app
from simulator.testing.receiver import Receiver
from tests.dashboard.conftest import TOKEN, Page

LONG_TYPE = "basistheory:3ds.session.decoupled-challenge-notification"

# Each event cell: its text, its title, whether its content is cut (wider or taller than the cell shows), and
# whether it lies within what the list scrolls to.
EVENT_CELLS = """
const grid = document.querySelector('.grid');
const box = grid.getBoundingClientRect();
return [...document.querySelectorAll('.delivery')].map(row => {
  const event = row.querySelector('.event'), target = row.querySelector('.target');
  const r = event.getBoundingClientRect();
  return {
    text: event.textContent, title: event.title, targetText: target.textContent, targetTitle: target.title,
    cut: event.scrollWidth > event.clientWidth || event.scrollHeight > event.clientHeight,
    reachable: r.left - box.left + grid.scrollLeft >= 0 && r.right - box.left + grid.scrollLeft <= grid.scrollWidth,
  };
});
"""


@pytest.mark.parametrize("width", [1024, 375])
def test_the_list_shows_each_event_type_whole_and_titles_hold_type_and_url(
    page: Page, webhook_receiver: Receiver, width: int
) -> None:
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        for kind in ("basistheory:token.created", LONG_TYPE):
            api.post("/events", json={"type": kind})
    webhook_receiver.wait_for(2)
    page.driver.set_window_size(width, 900)
    try:
        page.wait(lambda: page.js("return window.innerWidth") <= width, what="the window's width")
        page.open("/")
        page.wait(lambda: len(page.rows()) == 2 and "·" in page.one(".delivery .event").text, what="the rows")
        page.wait(lambda: all(c["targetTitle"] == webhook_receiver.url for c in page.js(EVENT_CELLS)), what="URLs")
        cells = page.js(EVENT_CELLS)
        expected = ["basistheory · 3ds.session.decoupled-challenge-notification", "basistheory · token.created"]
        assert [c["text"] for c in cells] == [c["title"] for c in cells] == expected
        assert [c["cut"] for c in cells] == [False, False], cells  # "basistheory · t…" at 1024 px, "b" at 375
        assert all(c["reachable"] for c in cells), cells
        assert all(c["targetText"] == webhook_receiver.url for c in cells), cells  # the URL, not the subscription id
        # The list scrolls sideways within itself when it must; the page does not.
        assert page.js("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    finally:
        page.driver.set_window_size(1440, 1000)


def fact(page: Page, name: str) -> str:
    return str(page.one(f'table.facts tr[data-name="{name}"] td').get_attribute("textContent"))


def test_a_seed_beyond_2_to_the_53_is_shown_exactly(page: Page) -> None:
    seed = 1796187863567502387  # JSON.parse read 1796187863567502300
    with page.server.client() as api:
        run = api.post("/runs", json={"scenario": "dash-batch", "seed": seed, "speed": 0}).json()
    page.open(f"/runs/{run['id']}")
    page.wait(lambda: fact(page, "seed") == str(seed), what=f"the seed {seed}")


def start_form(page: Page, seed: str) -> Any:
    """The Start scenario dialog for dash-batch, at speed 0, with `seed` typed (the form, to submit)."""
    page.open("/")
    page.click("#open-start")
    form = page.one("#start-form")
    page.wait(lambda: form.find_elements("css selector", "option[value=dash-batch]"), what="the scenarios")
    page.choose(form.find_element("css selector", "select[name=scenario]"), "dash-batch")
    speed = form.find_element("css selector", "input[name=speed]")
    speed.clear()
    speed.send_keys("0")
    form.find_element("css selector", "input[name=seed]").send_keys(seed)
    return form


def test_a_typed_seed_is_sent_with_all_its_digits(page: Page) -> None:
    seed = 9007199254740993  # 2^53 + 1: Number() made it 9007199254740992
    form = start_form(page, str(seed))
    call = form.find_element("css selector", "pre.api-call").get_attribute("textContent")
    assert f'"seed": {seed},' in call  # the call shown is the call made
    form.find_element("css selector", "button[type=submit]").click()
    link = page.one("#toasts a[href^='#/runs/']")
    run_id = link.get_attribute("href").rsplit("/", 1)[1]
    with page.server.client() as api:
        assert api.get(f"/runs/{run_id}").json()["seed"] == seed


@pytest.mark.parametrize("typed", ["9223372036854775808", "-1", "1e3", "12.5", "seven"])
def test_the_form_refuses_a_seed_the_api_would_not_take(page: Page, typed: str) -> None:
    form = start_form(page, typed)
    form.find_element("css selector", "button[type=submit]").click()
    error = page.wait(
        lambda: form.find_elements("css selector", "label:has(input[name=seed]) .field-error"), what="the error"
    )
    assert "0 to 9223372036854775807" in error[0].text
    with page.server.client() as api:
        assert api.get("/runs").json()["data"] == []  # nothing was sent


ANSWER = b'{"id": 12345678901234567891, "x": 1.0, "dup": 1, "dup": 2, "s": "caf\\u00e9", "e": [], "o": {}}'
ANSWER_PRETTY = """{
  "id": 12345678901234567891,
  "x": 1.0,
  "dup": 1,
  "dup": 2,
  "s": "caf\\u00e9",
  "e": [],
  "o": {}
}"""


def answering(body: bytes) -> Starlette:
    async def answer(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/", answer, methods=["POST"])])


def shown(page: Page, selector: str) -> tuple[str, str]:
    pre = page.one(selector)
    return str(pre.get_attribute("data-view")), str(pre.get_attribute("textContent"))


def test_bodies_are_pretty_printed_token_for_token(page: Page) -> None:
    big = 12345678901234567891
    with serve_app(answering(ANSWER)) as receiver, page.server.client() as api:
        api.post("/subscriptions", json={"url": receiver.url + "/"})
        emitted = api.post(
            "/events", json={"type": "basistheory:reactor.completed", "overrides": {"data.elapsed_ms": big}}
        )
        [delivery_id] = emitted.json()["deliveries"]
        page.wait(lambda: api.get(f"/deliveries/{delivery_id}").json()["status"] == "succeeded", what="delivered")
        sent = api.get(f"/deliveries/{delivery_id}").json()["attempt_log"][0]["request"]["body"]
    assert f'"elapsed_ms":{big}' in sent
    page.open(f"/deliveries/{delivery_id}")
    page.wait(lambda: shown(page, ".response pre.response-body") == ("pretty", ANSWER_PRETTY), what="the answer")
    view, request = shown(page, ".request pre.request-body")
    assert view == "pretty" and f'"elapsed_ms": {big},' in request  # 12345678901234567000 through JSON.parse
    assert request == json.dumps(json.loads(sent), indent=2, ensure_ascii=False)
    page.click(".response .body-box .toggle")
    assert shown(page, ".response pre.response-body") == ("raw", ANSWER.decode())


def test_an_answer_that_is_not_json_is_shown_raw(page: Page) -> None:
    with serve_app(answering(b'{"almost": json')) as receiver, page.server.client() as api:
        api.post("/subscriptions", json={"url": receiver.url + "/"})
        [delivery_id] = api.post("/events", json={"type": "basistheory:token.created"}).json()["deliveries"]
        page.wait(lambda: api.get(f"/deliveries/{delivery_id}").json()["status"] == "succeeded", what="delivered")
    page.open(f"/deliveries/{delivery_id}")
    page.wait(lambda: shown(page, ".response pre.response-body") == ("raw", '{"almost": json'), what="the raw answer")
    assert not page.css(".response .body-box .toggle")


# Every call the page makes from now on: its path, whether it carried a token, and the status it got.
RECORD_CALLS = """
window.calls = [];
const real = window.fetch;
window.fetch = async (input, init) => {
  const call = { path: new URL(String(input), location.href).pathname, token: !!init?.headers?.Authorization };
  window.calls.push(call);
  const response = await real(input, init);
  call.status = response.status;
  return response;
};
"""


def refused_without_a_token(page: Page, path: str) -> bool:
    return any(c["path"] == path and not c["token"] and c.get("status") == 401 for c in page.js("return window.calls"))


def submit_token(page: Page, token: str) -> None:
    page.one("#token-input").send_keys(token)
    page.one("#token-form button[type=submit]").click()


def test_a_refused_token_stays_the_word_and_its_notices_go_with_the_right_one(make_page: Callable[..., Page]) -> None:
    page = make_page(token=TOKEN)
    page.open("/")
    page.one("#token-dialog[open]")
    page.js(RECORD_CALLS)
    submit_token(page, "wrong")
    page.wait(lambda: page.one("#token-error").text == "The server refused that token.", what="the refusal")
    # The refusal cleared the token; the list's read then went without one and was refused too: the words stay.
    page.wait(lambda: refused_without_a_token(page, "/deliveries"), what="a call without the token, refused")
    assert page.one("#token-error").text == "The server refused that token."
    assert page.css("#toasts .toast.error")  # what the refused calls said
    submit_token(page, TOKEN)
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream, with the token")
    # Gone once a call gets through, not 10 s later.
    page.wait(lambda: not page.css("#toasts .toast.error"), 5, "the notices of the refused calls gone")
    page.wait(lambda: page.one("#deliveries") and "Loading" not in page.one(".summary").text, what="the list")
    assert not page.css("#toasts .toast.error")
    logged = [e for e in page.browser.console() if e.get("level") == "SEVERE"]
    assert all("401 (Unauthorized)" in e["message"] for e in logged), logged


def test_a_token_a_request_cannot_carry_is_refused_in_the_form(make_page: Callable[..., Page]) -> None:
    page = make_page(token=TOKEN)
    page.open("/")
    submit_token(page, "tok\u2019en")
    page.wait(lambda: "printable ASCII" in page.one("#token-error").text, what="the form's refusal")
    assert "\u2019" in page.one("#token-error").text
    assert page.css("#token-dialog[open]")
    assert page.js("return sessionStorage.getItem('webhook-sim.token')") is None
    page.one("#token-input").clear()
    submit_token(page, TOKEN)
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream, with the token")


def test_a_stored_token_that_cannot_be_sent_is_asked_again(make_page: Callable[..., Page]) -> None:
    page = make_page(token=TOKEN)
    page.open("/")
    page.one("#token-dialog[open]")
    page.js("sessionStorage.setItem('webhook-sim.token', 'tok\u2019en')")
    page.driver.refresh()  # every call failed with "String contains non ISO-8859-1 code point", reload or not
    page.wait(lambda: "cannot be sent" in page.one("#token-dialog[open] #token-error").text, what="the prompt")
    assert page.js("return sessionStorage.getItem('webhook-sim.token')") is None
    submit_token(page, TOKEN)
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream, with the token")


def test_a_dropped_delivery_says_the_drop_fault_dropped_it(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url, "faults": {"drop": 1}})
        [delivery_id] = api.post("/events", json={"type": "basistheory:token.created"}).json()["deliveries"]
        page.wait(lambda: api.get(f"/deliveries/{delivery_id}").json()["status"] == "dropped", what="dropped")
    page.open(f"/deliveries/{delivery_id}")
    said = page.one(".no-attempt").text
    assert said == "The drop fault dropped this delivery: it is never sent."
    assert "No attempt yet" not in page.one("#view").text


def test_cron_schedules_say_utc(page: Page) -> None:
    with page.server.client() as api:
        made = api.post("/schedules", json={"scenario": "dash-slow", "cron": "0 9 * * 1-5"})
        assert made.status_code == 201, made.text
    page.open("/schedules")
    row = page.one(f'.schedules tr[data-id="{made.json()["id"]}"]')
    assert row.find_elements("css selector", "td")[2].text == "cron 0 9 * * 1-5 UTC"
    form = page.one("#schedule-form")
    page.choose(form.find_element("css selector", "select[name=kind]"), "cron")
    assert form.find_element("css selector", "select[name=kind] option[value=cron]").text == "cron (UTC)"
    assert "UTC" in form.find_element("css selector", "label:has(input[name=when]) .help").text
