"""The dashboard from the keyboard alone, in a real Chromium: Tab walks the deliveries list in order with a focus
ring on each control; a row opens with Enter or Space and the arrow keys move between rows; Escape closes a delivery
and the focus goes back to its row; filters, paging, the bar of newer deliveries, live changes of the list and of a
delivery (a Resend) leave the focus where the user is, and a delivery redrawn keeps its bodies shown raw and its
curl commands shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simulator.testing import serve_app
from simulator.testing.receiver import Receiver
from tests.dashboard.conftest import Page
from tests.dashboard.test_probe_fixes import answering

# What has the focus: enough to name it in an assertion.
FOCUSED = """
const el = document.activeElement;
if (!el || el === document.body) return null;
const row = el.closest('.delivery');
const style = getComputedStyle(el);
const bar = document.querySelector('header.top').getBoundingClientRect();
return {
  tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name') || '', text: el.textContent.trim(),
  row: row ? row.dataset.id : null, view: document.getElementById('view').contains(el),
  ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
  marked: row ? getComputedStyle(row).boxShadow !== 'none' : null,
  under_bar: !el.closest('header.top') && el.getBoundingClientRect().top < bar.bottom,
};
"""


# What the user toggled in an attempt (`arguments[0]` selects its section): its bodies' views and their toggles'
# labels, and its curl command if it is shown.
TOGGLED = """
const section = document.querySelector(arguments[0]);
const curl = section.querySelector('pre.curl');
return {
  views: [...section.querySelectorAll('pre.body')].map((pre) => pre.dataset.view),
  toggles: [...section.querySelectorAll('.toggle')].map((button) => button.textContent),
  curl: curl.hidden ? null : curl.textContent,
};
"""
SELECTED = "return getSelection().toString()"


def press(page: Page, *keys: str) -> None:
    """Keys typed at whatever has the focus, as a user types them."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(page.driver).send_keys(*keys).perform()


def back(page: Page, times: int) -> None:
    """Shift+Tab, `times` times."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    chain = ActionChains(page.driver).key_down(Keys.SHIFT)
    for _ in range(times):
        chain.send_keys(Keys.TAB)
    chain.key_up(Keys.SHIFT).perform()


def focused(page: Page) -> dict[str, Any] | None:
    found: dict[str, Any] | None = page.js(FOCUSED)
    return found


def focus_on(page: Page, what: Callable[[dict[str, Any]], bool], description: str) -> dict[str, Any]:
    def there() -> dict[str, Any] | None:
        now = focused(page)
        return now if now is not None and what(now) else None

    found: dict[str, Any] = page.wait(there, what=f"the focus on {description} (it is on {focused(page)})")
    return found


def deliveries(page: Page, url: str, n: int, status: str = "succeeded") -> list[str]:
    """`n` deliveries to `url`, ended with `status`: their ids, newest first."""
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": url, "retry": {"delays": [3600]}})
        for _ in range(n):
            api.post("/events", json={"type": "basistheory:token.created"})
        listed = {"status": status, "limit": 500}
        page.wait(lambda: len(api.get("/deliveries", params=listed).json()["data"]) == n, what="deliveries")
        return [d["id"] for d in api.get("/deliveries", params={"order": "newest", "limit": 500}).json()["data"]]


def test_tab_walks_the_list_in_order_the_focused_row_marked_and_clear_of_the_top_bar(
    page: Page, webhook_receiver: Receiver
) -> None:
    from selenium.webdriver.common.keys import Keys

    ids = deliveries(page, webhook_receiver.url, 51)
    page.open("/?limit=50")
    page.wait(lambda: len(page.rows()) == 50, what="a page of 50")
    page.js("document.activeElement.blur()")
    walked = []
    for _ in range(100):
        press(page, Keys.TAB)
        now = focus_on(page, lambda f: True, "a control")
        assert now["ring"], f"no focus ring on {now}"
        assert now["row"] is None or now["marked"], f"the focused row is not marked: {now}"
        walked.append(now)
        if now["text"] == "Older →":
            break
    names = [f["text"] if f["tag"] in ("a", "button") and not f["row"] else f["name"] or f["row"] for f in walked]
    top = ["webhook-sim", "Deliveries", "Runs", "Subscriptions", "Schedules", "Start scenario", "Emit event"]
    filters = ["status", "type", "q", "run", "subscription", "limit", "Clear"]
    assert names == [*top, *filters, *ids[:50], "Older →"]  # "← Newest" is disabled on the first page
    # Back up the rows with Shift+Tab: each one scrolled into view stops below the sticky top bar, not under it.
    for expected in reversed(ids[:50]):
        back(page, 1)
        now = focus_on(page, lambda f, expected=expected: f["row"] == expected, f"the row {expected}")
        assert not now["under_bar"], f"the focused row is under the top bar: {now}"


def listed(page: Page, url: str, n: int, route: str = "/?status=succeeded") -> list[str]:
    """`n` deliveries listed at `route`, the focus on the first row's link: their ids, newest first."""
    ids = deliveries(page, url, n)
    page.open(route)
    page.wait(lambda: len(page.rows()) == n, what="the rows")
    page.js("arguments[0].focus()", page.one(f'.delivery[data-id="{ids[0]}"] a'))
    return ids


def test_the_arrow_keys_go_from_row_to_row(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    ids = listed(page, webhook_receiver.url, 3)
    press(page, Keys.ARROW_DOWN)
    focus_on(page, lambda f: f["row"] == ids[1], "the second row")
    press(page, Keys.ARROW_DOWN, Keys.ARROW_DOWN)  # past the last row: it stays there
    focus_on(page, lambda f: f["row"] == ids[2], "the last row")
    press(page, Keys.ARROW_UP)
    focus_on(page, lambda f: f["row"] == ids[1], "the second row again")


def test_enter_opens_a_row_with_the_focus_on_the_delivery(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    ids = listed(page, webhook_receiver.url, 3)
    page.js("arguments[0].focus()", page.one(f'.delivery[data-id="{ids[1]}"] a'))
    press(page, Keys.ENTER)
    page.wait(lambda: page.driver.current_url.endswith(f"#/deliveries/{ids[1]}"), what="the delivery opened")
    page.one('section.attempt[data-number="1"]')
    # The delivery's own heading has the focus, so the next Tab goes on into it, not back to the top of the page.
    focus_on(page, lambda f: f["tag"] == "h1", "the delivery's heading")
    press(page, Keys.TAB)
    focus_on(page, lambda f: f["id"] == "resend", "Resend, next after the heading")


def test_escape_closes_a_delivery_back_to_its_row(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    ids = listed(page, webhook_receiver.url, 2)
    press(page, Keys.ENTER)
    page.wait(lambda: page.driver.current_url.endswith(f"#/deliveries/{ids[0]}"), what="the delivery opened")
    page.one('section.attempt[data-number="1"]')
    press(page, Keys.ESCAPE)
    page.wait(lambda: page.driver.current_url.endswith("#/?status=succeeded"), what="the list as it was filtered")
    focus_on(page, lambda f: f["row"] == ids[0] and f["tag"] == "a", "the row the delivery was opened from")


def test_space_opens_a_row(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    ids = listed(page, webhook_receiver.url, 2)
    press(page, Keys.SPACE)
    page.wait(lambda: page.driver.current_url.endswith(f"#/deliveries/{ids[0]}"), what="opened with Space")


def test_a_live_change_of_the_focused_row_keeps_the_focus(
    page: Page, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_webhook_receiver(fail=1, fail_status=503)
    [waiting] = deliveries(page, receiver.url, 1, status="failed")
    page.open("/")
    link = page.one(f'.delivery[data-id="{waiting}"][data-status="failed"] a')
    page.js("arguments[0].focus()", link)
    focus_on(page, lambda f: f["row"] == waiting, "the row")
    with page.server.client() as api:
        api.post(f"/deliveries/{waiting}/redeliver")  # its retry now: it succeeds, and its row changes
        page.wait(lambda: page.rows() == [(waiting, "succeeded")], what="the row changed in place")
        api.post("/events", json={"type": "basistheory:token.created"})  # a new row above it
    page.wait(lambda: len(page.rows()) == 2, what="a new row on top")
    focus_on(page, lambda f: f["row"] == waiting and f["tag"] == "a", "the row it was on")


def test_the_list_read_again_when_its_stream_opens_again_keeps_the_focus_on_the_row(
    page: Page, webhook_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulator.api import routes_stream

    monkeypatch.setattr(routes_stream, "LIFETIME", 1.0)  # the stream ends every second: the list is read again
    ids = listed(page, webhook_receiver.url, 2, route="/")
    link = page.one(f'.delivery[data-id="{ids[1]}"] a')
    page.js("arguments[0].focus(); window.before = arguments[0].closest('.delivery')", link)
    page.wait(lambda: page.js("return !window.before.isConnected"), what="the rows drawn again")
    focus_on(page, lambda f: f["row"] == ids[1] and f["tag"] == "a", "the same row")


def test_a_focused_row_that_leaves_the_filter_gives_the_focus_to_the_next_row(
    page: Page, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_webhook_receiver(fail=2, fail_status=503)
    ids = deliveries(page, receiver.url, 2, status="failed")
    page.open("/?status=failed")
    page.wait(lambda: len(page.rows()) == 2, what="the rows")
    page.js("arguments[0].focus()", page.one(f'.delivery[data-id="{ids[0]}"] a'))
    with page.server.client() as api:
        api.post(f"/deliveries/{ids[0]}/redeliver")  # it succeeds: no longer failed, its row leaves
    page.wait(lambda: page.rows() == [(ids[1], "failed")], what="the row gone")
    focus_on(page, lambda f: f["row"] == ids[1], "the row below it")


def filtered(page: Page, part: str) -> None:
    """Waits for `part` in the address and the list built anew for it and read: the filters that had the focus are
    gone then, so the focus found after is the new view's, not the old one's before it was replaced."""
    page.wait(lambda: part in page.driver.current_url, what=part)
    page.wait(lambda: page.js("return !window.filters.isConnected"), what=f"the view built anew for {part}")
    page.wait(lambda: "(newest first" in page.one(".summary").text, what=f"the list read for {part}")
    page.js("window.filters = document.querySelector('.filters')")


def filters_shown(page: Page, webhook_receiver: Receiver) -> None:
    """The unfiltered list of one delivery, its filters marked to be known once they are replaced."""
    deliveries(page, webhook_receiver.url, 1)
    page.open("/")
    page.wait(lambda: len(page.rows()) == 1, what="the row")
    page.js("window.filters = document.querySelector('.filters')")


def test_a_filter_picked_with_the_arrow_keys_keeps_the_focus(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    filters_shown(page, webhook_receiver)
    page.js("arguments[0].focus()", page.one(".filters select[name=status]"))
    press(page, Keys.ARROW_DOWN)  # a closed <select> takes the next option: the view is redrawn for it
    filtered(page, "status=pending")
    focus_on(page, lambda f: f["name"] == "status" and f["view"], "the status filter")


def test_leaving_a_filter_field_with_tab_goes_on_to_the_next_field(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    filters_shown(page, webhook_receiver)
    page.js("arguments[0].focus()", page.one(".filters input[name=run]"))
    press(page, "run_x", Keys.TAB)  # the change is made on leaving the field: the focus goes on to the next
    filtered(page, "run=run_x")
    focus_on(page, lambda f: f["name"] == "subscription", "the field after the run's")

    back(page, 2)
    press(page, "ab")
    filtered(page, "q=ab")
    focus_on(page, lambda f: f["name"] == "q", "the search box")
    press(page, "c")  # typed at the end of what is there
    page.wait(lambda: "q=abc" in page.driver.current_url, what="the search, typed on")


def test_paging_keeps_the_focus_on_the_page_buttons(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    ids = deliveries(page, webhook_receiver.url, 101)
    page.open("/?limit=50")
    page.wait(lambda: len(page.rows()) == 50, what="a page of 50")
    older = page.wait(lambda: [b for b in page.css(".pager button") if b.text == "Older →" and b.is_enabled()])
    page.js("arguments[0].focus()", older[0])
    press(page, Keys.ENTER)
    page.wait(lambda: "cursor=" in page.driver.current_url and page.rows()[0][0] == ids[50], what="page 2")
    # "Older →" is disabled until the page is read: it takes the focus then, not "← Newest" meanwhile.
    focus_on(page, lambda f: f["text"] == "Older →", "Older →")
    press(page, Keys.ENTER)
    page.wait(lambda: page.rows() == [(ids[100], "succeeded")], what="the last page")
    # "Older →" is disabled on the last page: the focus goes to the other way.
    focus_on(page, lambda f: f["text"] == "← Newest", "← Newest")
    press(page, Keys.ENTER)
    page.wait(lambda: "cursor=" not in page.driver.current_url and len(page.rows()) == 50, what="the first page")
    focus_on(page, lambda f: f["text"] == "Older →", "Older →")


def test_the_bar_of_newer_deliveries_gives_the_focus_to_the_top_row(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    deliveries(page, webhook_receiver.url, 1)
    page.open("/?limit=50")
    page.wait(lambda: len(page.rows()) == 1, what="the row")
    with page.server.client() as api:
        for _ in range(51):  # a page's worth of arrivals and one more: the bar counts it
            api.post("/events", json={"type": "basistheory:token.created"})
    banner = page.wait(lambda: (found := page.css(".banner")) and found[0].is_displayed() and found[0], what="the bar")
    page.js("arguments[0].focus()", banner)
    press(page, Keys.SPACE)
    page.wait(lambda: page.css(".banner")[0].get_attribute("hidden") is not None, what="the bar gone")
    top = page.rows()[0][0]
    focus_on(page, lambda f: f["row"] == top, "the top row")


def test_resend_from_the_keyboard_keeps_the_focus_through_the_redraws(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    [delivery] = deliveries(page, webhook_receiver.url, 1)
    page.open(f"/deliveries/{delivery}")
    page.one('section.attempt[data-number="1"]')
    page.wait(lambda: page.one("#resend").is_enabled(), what="Resend enabled")
    page.js("arguments[0].focus()", page.one("#resend"))
    press(page, Keys.ENTER)
    page.wait(lambda: page.css('section.attempt[data-number="2"]'), what="the second attempt, live")
    page.wait(lambda: page.one("#resend").is_enabled(), what="Resend enabled again")
    focus_on(page, lambda f: f["id"] == "resend", "Resend")


def test_a_live_redraw_of_a_delivery_keeps_the_focus(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    [delivery] = deliveries(page, webhook_receiver.url, 1)
    page.open(f"/deliveries/{delivery}")
    page.one('section.attempt[data-number="1"]')
    page.js("arguments[0].focus()", page.one('section.attempt[data-number="1"] .copy-curl'))
    press(page, Keys.SPACE)
    page.wait(lambda: page.one('section.attempt[data-number="1"] pre.curl').is_displayed(), what="the curl command")
    with page.server.client() as api:
        api.post(f"/deliveries/{delivery}/redeliver")
    page.wait(lambda: page.css('section.attempt[data-number="2"]'), what="the second attempt, live")
    focus_on(page, lambda f: "copy-curl" in page.js("return document.activeElement.className"), "Copy as curl")
    assert page.js("return document.activeElement.closest('section.attempt').dataset.number") == "1"


def test_a_live_redraw_of_a_delivery_keeps_its_raw_bodies_and_its_curl_command(page: Page) -> None:
    from selenium.webdriver.common.keys import Keys

    first = 'section.attempt[data-number="1"]'
    with serve_app(answering(b'{"ok": true}')) as receiver, page.server.client() as api:
        api.post("/subscriptions", json={"url": receiver.url + "/"})
        [delivery] = api.post("/events", json={"type": "basistheory:token.created"}).json()["deliveries"]
        page.wait(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "succeeded", what="delivered")
        page.open(f"/deliveries/{delivery}")
        # No clipboard, as on an insecure origin: the command shown is selected, to be copied by hand.
        page.js("navigator.clipboard.writeText = () => Promise.reject(new Error('no clipboard'))")
        for control in (".request .toggle", ".response .toggle", ".copy-curl"):
            page.js("arguments[0].focus()", page.one(f"{first} {control}"))
            press(page, Keys.ENTER)
        before = page.wait(lambda: (state := page.js(TOGGLED, first)) and state["curl"] and state, what="all toggled")
        assert before["views"] == ["raw", "raw"] and before["toggles"] == ["Pretty", "Pretty"]
        page.wait(lambda: page.js(SELECTED) == before["curl"], what="the command selected")
        page.js("window.before = document.querySelector(arguments[0])", first)
        api.post(f"/deliveries/{delivery}/redeliver")
        # The last redraw: the second attempt shown with its answer, the delivery ended.
        page.wait(lambda: page.css('section.attempt[data-number="2"] pre.response-body'), what="the second attempt")
        page.wait(lambda: page.css('.title [data-status="succeeded"]'), what="the delivery ended")
    assert page.js("return !window.before.isConnected"), "the delivery was not redrawn"
    assert page.js(TOGGLED, first) == before
    assert page.js(SELECTED) == before["curl"]
    # The new attempt is shown as any is at first.
    fresh = {"views": ["pretty", "pretty"], "toggles": ["Raw", "Raw"], "curl": None}
    assert page.js(TOGGLED, 'section.attempt[data-number="2"]') == fresh


def test_back_to_deliveries_keeps_the_list_as_it_was(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    ids = listed(page, webhook_receiver.url, 2)
    press(page, Keys.ENTER)
    page.one('section.attempt[data-number="1"]')
    page.js("arguments[0].focus()", page.one("a[data-focus=back], main p > a"))
    press(page, Keys.ENTER)
    page.wait(lambda: page.driver.current_url.endswith("#/?status=succeeded"), what="the list as it was filtered")
    focus_on(page, lambda f: f["row"] == ids[0], "the row the delivery was opened from")


def test_escape_closes_a_delivery_opened_from_a_run_back_to_the_run(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        run = api.post("/runs", json={"scenario": "dash-batch", "speed": 0}).json()
        # Ended, and its deliveries too: its page is not redrawn under the focus.
        page.wait(lambda: api.get(f"/runs/{run['id']}").json()["status"] == "completed", what="the run")
        page.wait(lambda: api.get("/deliveries", params={"status": "succeeded"}).json()["data"], what="delivered")
    page.open(f"/runs/{run['id']}")
    opened = page.one('a[href^="#/deliveries/"]')
    href = opened.get_attribute("href")
    page.js("arguments[0].focus()", opened)
    press(page, Keys.ENTER)
    page.one('section.attempt[data-number="1"]')
    press(page, Keys.ESCAPE)
    page.wait(lambda: page.driver.current_url.endswith(f"#/runs/{run['id']}"), what="the run's page")
    focus_on(page, lambda f: page.js("return document.activeElement.href") == href, "the delivery's link")


def test_the_runs_list_redrawn_live_keeps_the_focus(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        run = api.post("/runs", json={"scenario": "dash-slow", "speed": 1}).json()
    page.open("/runs")
    page.wait(lambda: page.css(f'a[href="#/runs/{run["id"]}"]'), what="the run listed")
    page.focus(f'a[href="#/runs/{run["id"]}"]')  # the run at speed 1 redraws its row as it goes
    with page.server.client() as api:
        other = api.post("/runs", json={"scenario": "dash-batch", "speed": 0}).json()  # a new row above
    page.wait(lambda: page.css(f'tr[data-id="{other["id"]}"]'), what="the new run listed")
    focus_on(page, lambda f: f["text"] == run["id"], "the run's link")


def test_a_run_page_redrawn_live_keeps_the_focus(page: Page, make_webhook_receiver: Callable[..., Receiver]) -> None:
    receiver = make_webhook_receiver(fail=1, fail_status=503)
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": receiver.url, "retry": {"delays": [3600]}})
        run = api.post("/runs", json={"scenario": "dash-slow", "speed": 1}).json()
        page.wait(lambda: api.get("/deliveries", params={"status": "failed"}).json()["data"], what="a failed one")
        [failed] = api.get("/deliveries").json()["data"]
    page.open(f"/runs/{run['id']}")
    page.one(f'a[href="#/deliveries/{failed["id"]}"] [data-status="failed"]')
    page.focus(f'a[href="#/deliveries/{failed["id"]}"] [data-status="failed"]', closest="a")
    with page.server.client() as api:
        api.post(f"/deliveries/{failed['id']}/redeliver")  # it succeeds: its link is drawn again
    page.wait(lambda: page.css(f'a[href="#/deliveries/{failed["id"]}"] [data-status="succeeded"]'), what="redrawn")
    focus_on(page, lambda f: page.js("return document.activeElement.hash") == f"#/deliveries/{failed['id']}", "it")


def test_pause_and_delete_from_the_keyboard_keep_the_focus_in_the_table(page: Page, webhook_receiver: Receiver) -> None:
    from selenium.webdriver.common.keys import Keys

    with page.server.client() as api:
        first, second = (api.post("/subscriptions", json={"url": webhook_receiver.url}).json()["id"] for _ in "ab")
    page.open("/subscriptions")
    page.js("arguments[0].focus()", page.one(f'tr[data-id="{first}"] button.pause'))
    press(page, Keys.ENTER)
    page.wait(lambda: page.css(f'tr[data-id="{first}"][data-status="disabled"]'), what="paused")
    # The rows are drawn again: Resume, where Pause was, has the focus.
    focus_on(page, lambda f: f["text"] == "Resume", "Resume")
    assert page.js("return document.activeElement.closest('tr').dataset.id") == first
    page.js("arguments[0].focus()", page.one(f'tr[data-id="{first}"] button.danger'))
    press(page, Keys.ENTER)
    page.wait(lambda: page.driver.switch_to.alert, what="the confirmation").accept()
    page.wait(lambda: not page.css(f'tr[data-id="{first}"]'), what="deleted")
    focus_on(page, lambda f: page.js("return document.activeElement.closest('tr')?.dataset.id") == second, "the other")
