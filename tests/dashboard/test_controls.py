"""The dashboard's other pages in a real Chromium: the token prompt, a run's timeline and Cancel, subscriptions
(secrets masked, pause and resume) and schedules, each acting through the control API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from simulator.testing.receiver import Receiver
from tests.dashboard.conftest import TOKEN, Page

SECRET = "whsec_" + "c2VjcmV0LW5vYm9keS1zZWVzLWl0"


def test_the_token_is_asked_once_and_kept_for_the_tab(
    make_page: Callable[..., Page], webhook_receiver: Receiver
) -> None:
    page = make_page(token=TOKEN)
    page.open("/")
    page.one("#token-dialog[open]")
    page.one("#token-input").send_keys(TOKEN)
    page.one("#token-form button[type=submit]").click()
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream, with the token")
    assert page.js("return sessionStorage.getItem('webhook-sim.token')") == TOKEN
    assert page.js("return localStorage.length") == 0
    with page.server.client(TOKEN) as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url, "signing": "standard", "secret": SECRET})
        api.post("/events", json={"type": "basistheory:token.created"})
    page.wait(lambda: [s for _, s in page.rows()] == ["succeeded"], what="the delivery, live")
    page.open("/subscriptions")  # another page of the same tab: no second prompt
    page.one(".subscriptions tbody tr[data-id]")
    assert not page.css("#token-dialog[open]")
    assert SECRET not in page.driver.page_source and SECRET[-12:] not in page.driver.page_source
    assert page.one(".subscriptions td.secret").text.startswith("whsec_****")


def test_the_prompt_says_whether_a_token_was_refused_or_none_was_sent(make_page: Callable[..., Page]) -> None:
    """A page left open on a server restarted with --token had sent none: it said "refused that token"."""
    page = make_page(token=TOKEN)
    page.open("/")
    page.one("#token-input").send_keys(TOKEN)
    page.one("#token-form button[type=submit]").click()
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream, with the token")
    page.js("sessionStorage.clear(); location.hash = '#/subscriptions'")  # the next call goes without one
    page.one("#token-dialog[open]")
    page.wait(lambda: page.one("#token-error").text == "This server now asks for a token.", what="the prompt's words")
    page.js("document.getElementById('token-dialog').close()")
    page.js("sessionStorage.setItem('webhook-sim.token', 'wrong'); location.hash = '#/runs'")
    page.wait(lambda: page.one("#token-error").text == "The server refused that token.", what="a refused token")
    # The browser logs each refused call; those are this test's, and nothing else went wrong.
    logged = [e for e in page.browser.console() if e.get("level") == "SEVERE"]
    assert logged and all("401 (Unauthorized)" in e["message"] for e in logged), logged


def test_a_run_shows_its_timeline_and_can_be_cancelled(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        run = api.post("/runs", json={"scenario": "dash-slow", "target": webhook_receiver.url, "speed": 1}).json()
    webhook_receiver.wait_for(1)
    page.open(f"/runs/{run['id']}")
    page.wait(lambda: page.css('.timeline tr[data-seq="0"] .badge[data-status="succeeded"]'), what="the first event")
    facts = page.one("table.facts").text
    assert "1 / 2" in facts  # sent / planned
    assert "next event in" in facts and "1 succeeded" in facts
    assert "1 more to come" in page.one(".timeline").text
    # "Sent (real)": when the event's delivery was first sent, from the run's start. A timed run makes its
    # deliveries ahead of time: counted from their creation, the first event read as sent before the run began.
    with page.server.client() as api:
        started = api.get(f"/runs/{run['id']}").json()["started_at"]
        sent = api.get("/deliveries", params={"run": run["id"]}).json()["data"][0]["first_attempt_at"]
    seconds = (datetime.fromisoformat(sent) - datetime.fromisoformat(started)).total_seconds()
    assert seconds >= 0

    def shown() -> float | None:  # the cell as a number: "+0.3 s"; to a tenth, rounded as JavaScript does
        text = page.one('.timeline tr[data-seq="0"] td:nth-child(4)').text
        return float(text[1:-2]) if text.startswith("+") and text.endswith(" s") else None

    page.wait(lambda: (value := shown()) is not None and abs(value - seconds) <= 0.051, what="when it was sent")

    page.click(".title .cancel")
    page.wait(lambda: page.css('.title .badge[data-status="cancelled"]'), what="cancelled, without a reload")
    with page.server.client() as api:
        assert api.get(f"/runs/{run['id']}").json()["status"] == "cancelled"
    page.open("/runs")
    row = page.one(f'.runs tr[data-id="{run["id"]}"]')
    assert row.get_attribute("data-status") == "cancelled"


def test_subscriptions_are_made_paused_and_resumed_from_the_page(page: Page, webhook_receiver: Receiver) -> None:
    page.open("/subscriptions")
    form = page.one("#subscription-form")
    form.find_element("css selector", "input[name=url]").send_keys(webhook_receiver.url)
    page.choose(form.find_element("css selector", "select[name=signing]"), "standard")
    form.find_element("css selector", "input[name=secret]").send_keys(SECRET)
    preview = form.find_element("css selector", "pre.api-call").get_attribute("textContent")
    assert '"secret": "****"' in preview and SECRET not in preview
    form.find_element("css selector", "button[type=submit]").click()
    row = page.one(".subscriptions tbody tr[data-id]")
    sub_id = row.get_attribute("data-id")
    assert SECRET not in page.driver.page_source

    page.click(f'tr[data-id="{sub_id}"] button.pause')
    page.wait(lambda: page.css(f'tr[data-id="{sub_id}"][data-status="disabled"]'), what="paused")
    with page.server.client() as api:
        assert api.get(f"/subscriptions/{sub_id}").json()["enabled"] is False
        assert api.post("/events", json={"type": "basistheory:token.created"}).json()["deliveries"] == []
    page.click(f'tr[data-id="{sub_id}"] button.resume')
    page.wait(lambda: page.css(f'tr[data-id="{sub_id}"][data-status="enabled"]'), what="resumed")
    with page.server.client() as api:
        api.post("/events", json={"type": "basistheory:token.created"})
    [received] = webhook_receiver.wait_for(1)
    assert received.headers["webhook-signature"].startswith("v1,")


def test_a_subscription_is_edited_from_the_page_changing_only_what_was_changed(
    page: Page, webhook_receiver: Receiver
) -> None:
    with page.server.client() as api:
        made = {"url": "http://127.0.0.1:9/old", "headers": {"X-Env": "staging"}, "timeout": 7, "signing": "standard"}
        sub = api.post("/subscriptions", json=made).json()
    page.open("/subscriptions")
    page.click(f'tr[data-id="{sub["id"]}"] button.edit')
    form = page.one("#subscription-edit")
    url = form.find_element("css selector", "input[name=url]")
    url.clear()
    url.send_keys(webhook_receiver.url)
    form.find_element("css selector", "input[name=events]").send_keys("token.created, token.updated")
    call = form.find_element("css selector", "pre.api-call").get_attribute("textContent")
    body = json.loads(call.split("\n\n", 1)[1])
    assert body == {"url": webhook_receiver.url, "events": ["token.created", "token.updated"]}  # nothing else
    form.find_element("css selector", "button[type=submit]").click()
    page.wait(lambda: webhook_receiver.url in page.one(f'tr[data-id="{sub["id"]}"] td.url').text, what="the new URL")
    with page.server.client() as api:
        now = api.get(f"/subscriptions/{sub['id']}").json()
        assert (now["url"], now["events"]) == (webhook_receiver.url, ["token.created", "token.updated"])
        assert (now["headers"], now["timeout"], now["signing"]) == ({"X-Env": "staging"}, 7, "standard")
        api.post("/events", json={"type": "basistheory:token.created"})
    webhook_receiver.wait_for(1)  # deliveries go to the edited URL


def test_a_subscriptions_dead_deliveries_are_sent_again_from_its_row(page: Page, webhook_receiver: Receiver) -> None:
    webhook_receiver.respond(503)
    with page.server.client() as api:
        sub = api.post("/subscriptions", json={"url": webhook_receiver.url, "retry": {"delays": []}}).json()
        [delivery] = api.post("/events", json={"type": "basistheory:token.created"}).json()["deliveries"]
        page.wait(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "dead", what="a dead delivery")
    webhook_receiver.respond(204)
    page.open("/subscriptions")
    page.click(f'tr[data-id="{sub["id"]}"] button.redeliver')
    notice = page.wait(lambda: [t.text for t in page.css("#toasts .toast")], what="the notice")
    assert notice == [f"1 dead delivery of {sub['id']} sent again"]
    with page.server.client() as api:
        page.wait(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "succeeded", what="sent again")
    assert len(webhook_receiver.requests) == 2


def test_schedules_are_added_and_paused_from_the_page(page: Page) -> None:
    page.open("/schedules")
    form = page.one("#schedule-form")
    page.wait(lambda: form.find_elements("css selector", "select[name=scenario] option[value=dash-slow]"), what="names")
    page.choose(form.find_element("css selector", "select[name=scenario]"), "dash-slow")
    page.choose(form.find_element("css selector", "select[name=kind]"), "cron")
    when = form.find_element("css selector", "input[name=when]")
    when.send_keys("61 * * * *")
    form.find_element("css selector", "button[type=submit]").click()
    # The API names `cron`; the refusal shows under the field that holds it, not only at the form's end.
    page.wait(lambda: form.find_elements("css selector", "label:has(input[name=when]) .field-error"), what="the error")
    logged = [e for e in page.browser.console() if e.get("level") == "SEVERE"]  # the refused call, and only it
    assert len(logged) == 1 and "422" in logged[0]["message"], logged
    page.choose(form.find_element("css selector", "select[name=kind]"), "interval")
    when.clear()
    when.send_keys("3600")
    form.find_element("css selector", "button[type=submit]").click()
    row = page.one(".schedules tbody tr[data-id]")
    schedule_id = row.get_attribute("data-id")
    with page.server.client() as api:
        [schedule] = api.get("/schedules").json()["data"]
    assert (schedule["id"], schedule["trigger"]["interval"], schedule["scenario"]) == (schedule_id, 3600, "dash-slow")

    page.click(f'tr[data-id="{schedule_id}"] button')  # Pause
    page.wait(lambda: page.css(f'tr[data-id="{schedule_id}"][data-state="paused"]'), what="paused")
    with page.server.client() as api:
        assert api.get("/schedules").json()["data"][0]["paused"] is True
