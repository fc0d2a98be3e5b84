"""The deliveries list in a real Chromium: a scenario started from the page arrives at a real receiver and its
deliveries appear live, with no reload; filtering by status; a page of 1,000 deliveries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulator.testing.receiver import Receiver
from tests.dashboard.conftest import Page

SECRET = "whsec_" + "ZGFzaGJvYXJkLXRlc3Qtc2VjcmV0"


def start_from_the_page(page: Page, scenario: str, target: str, **fields: str) -> None:
    page.one("#open-start").click()
    form = page.one("#start-form")
    page.wait(
        lambda: scenario in [o.get_attribute("value") for o in page.css("#start-form select[name=scenario] option")]
    )
    page.choose(form.find_element("css selector", "select[name=scenario]"), scenario)
    page.choose(form.find_element("css selector", "select[name=deliver_to]"), "target")
    form.find_element("css selector", "input[name=target]").send_keys(target)
    for name, value in fields.items():
        element = form.find_element("css selector", f"[name={name}]")
        if element.tag_name == "select":
            page.choose(element, value)
        else:
            element.clear()
            element.send_keys(value)
    form.find_element("css selector", "button[type=submit]").click()
    page.wait(lambda: not page.one("#form-dialog").get_attribute("open"), what="the dialog closed")


def test_a_run_started_from_the_page_appears_live(page: Page, webhook_receiver: Receiver, shots: Path) -> None:
    page.open("/")
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
    page.wait(lambda: "0 deliveries" in page.one(".summary").text, what="the empty list")
    page.js("window.sameDocument = true")  # a reload would lose it

    start_from_the_page(page, "dash-trickle", webhook_receiver.url, signing="standard", secret=SECRET, speed="1")

    received = webhook_receiver.wait_for(3, timeout=20)
    page.wait(lambda: [s for _, s in page.rows()] == ["succeeded"] * 3, what="three succeeded rows")
    assert page.js("return window.sameDocument") is True
    assert page.js("return performance.getEntriesByType('navigation').length") == 1
    with page.server.client() as api:
        listed = api.get("/deliveries", params={"order": "newest"}).json()["data"]
    assert [(d["id"], d["status"]) for d in listed] == page.rows()
    # The receiver got what the rows name: each delivery's id is its webhook-id.
    assert sorted(r.headers["webhook-id"] for r in received) == sorted(d["id"] for d in listed)
    assert {row.find_element("css selector", ".target").text for row in page.css(".delivery")} == {webhook_receiver.url}


def test_filtering_by_status(page: Page, make_webhook_receiver: Callable[..., Receiver], shots: Path) -> None:
    ok, failing = make_webhook_receiver(), make_webhook_receiver(status=500)
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": ok.url, "signing": "standard", "secret": SECRET})
        bad = api.post(
            "/subscriptions", json={"url": failing.url, "events": ["basistheory:*"], "retry": {"delays": [0.05]}}
        ).json()
        api.post("/subscriptions", json={"url": ok.url, "events": ["syncfy:*"], "faults": {"duplicate": 1.0}})
        for etype in ("basistheory:token.created", "syncfy:credentials.created", "basistheory:token.updated"):
            api.post("/events", json={"type": etype})

        def settled() -> bool:
            statuses = [d["status"] for d in api.get("/deliveries").json()["data"]]
            return len(statuses) >= 7 and not {"pending", "failed"} & set(statuses)

        page.wait(settled, what="every delivery final")
        dead = {d["id"] for d in api.get("/deliveries", params={"status": "dead"}).json()["data"]}
    assert len(dead) == 2

    page.open("/")
    page.wait(lambda: len(page.rows()) >= 7, what="every delivery listed")
    page.screenshot(shots / "dashboard-deliveries.png", height=700)
    page.choose(page.one(".filters select[name=status]"), "dead")
    page.wait(
        lambda: "status=dead" in page.driver.current_url and {i for i, _ in page.rows()} == dead, what="dead only"
    )
    assert {s for _, s in page.rows()} == {"dead"}
    assert all(row.find_element("css selector", ".http").text == "500" for row in page.css(".delivery"))

    # Live, and filtered: a delivery that dies while the filter is shown joins it.
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
    with page.server.client() as api:
        api.post("/events", json={"type": "basistheory:token.created", "subscriptions": [bad["id"]]})
    page.wait(lambda: len(page.rows()) == 3, what="the new dead delivery")
    assert {s for _, s in page.rows()} == {"dead"}


def test_a_page_of_a_thousand_deliveries(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        run = api.post("/runs", json={"scenario": "dash-many", "target": webhook_receiver.url, "speed": 0}).json()
        page.wait(lambda: api.get(f"/runs/{run['id']}").json()["counts"] == {"succeeded": 1000}, 120, "the run")

    page.open("/?limit=1000")
    # Measured in the page (performance.now() counts from the start of the navigation): until the frame that
    # shows 1,000 rows is painted, and the list's own timings, which it records for anyone to read.
    listed = page.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const check = () => window.dashboard?.listed ? done(window.dashboard.listed) : setTimeout(check, 5);
        check();
        """
    )
    assert listed["rows"] == 1000
    assert len(page.rows()) == 1000
    print(
        f"\n1,000 deliveries: rendered and painted {listed['renderMs']:.0f} ms after their data arrived "
        f"(read in {listed['fetchMs']:.0f} ms: GET /deliveries twice); {listed['at']:.0f} ms after the navigation"
    )


def open_empty(page: Page, address: str) -> None:
    """Open the list at `address` and wait until it follows the stream and shows no delivery yet."""
    page.open(address)
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
    page.wait(lambda: "0 deliveries" in page.one(".summary").text, what="the empty list")


def test_the_bar_counts_each_delivery_once(page: Page, webhook_receiver: Receiver) -> None:
    """Each delivery is told by the stream at every change (made `pending`, then `succeeded`): the bar counts the
    deliveries not shown, not the changes."""
    open_empty(page, "/?limit=50")
    with page.server.client() as api:
        run = api.post("/runs", json={"scenario": "dash-many", "target": webhook_receiver.url, "speed": 0}).json()
        page.wait(lambda: api.get(f"/runs/{run['id']}").json()["counts"] == {"succeeded": 1000}, 120, "the run")
        bar = "950 newer deliveries — show"
        try:
            page.wait(lambda: page.one(".banner").text == bar, what="the bar")
        except AssertionError:
            raise AssertionError(f"the bar says {page.one('.banner').text!r}, not {bar!r}") from None
        assert [s for _, s in page.rows()] == ["succeeded"] * 50  # the page grew by a page's worth, no more
        page.click(".banner")
        newest = api.get("/deliveries", params={"order": "newest", "limit": 50}).json()["data"]
    newest = [(d["id"], d["status"]) for d in newest]
    page.wait(lambda: page.rows() == newest and not page.one(".banner").is_displayed(), what="the newest page")


def test_rows_that_leave_the_filter_make_room(page: Page, make_webhook_receiver: Callable[..., Receiver]) -> None:
    """`status=pending`: rows leave as their deliveries succeed; those that waited behind the bar take their
    place, and the bar counts only deliveries that still match."""
    quick, stuck = make_webhook_receiver(delay=0.02), make_webhook_receiver(delay=20)
    open_empty(page, "/?status=pending&limit=50")
    with page.server.client() as api:
        # 80 made at once, then sent one at a time: more than the page has room for are pending together.
        first = api.post("/runs", json={"scenario": "dash-tokens", "target": quick.url, "speed": 0}).json()
        page.wait(lambda: api.get(f"/runs/{first['id']}").json()["counts"] == {"succeeded": 80}, 60, "the first run")
        try:
            page.wait(lambda: not page.rows() and not page.one(".banner").is_displayed(), what="no row, no bar")
        except AssertionError:
            bar = page.one(".banner").text if page.one(".banner").is_displayed() else "no bar"
            raise AssertionError(f"{len(page.rows())} rows and {bar!r} after all 80 succeeded") from None
        # Five that stay pending (the receiver answers in 20 s) are shown: the 80 that left made room.
        api.post("/runs", json={"scenario": "dash-tokens", "params": {"n": 5}, "target": stuck.url, "speed": 0})

        def five_pending() -> set[str]:
            found = {d["id"] for d in api.get("/deliveries", params={"status": "pending"}).json()["data"]}
            return found if len(found) == 5 else set()

        pending = page.wait(five_pending, what="5 pending")
    page.wait(lambda: {i for i, _ in page.rows()} == pending, what="the pending deliveries, shown")
    assert {s for _, s in page.rows()} == {"pending"} and not page.one(".banner").is_displayed()
