"""The deliveries list in a real Chromium keeps the API's newest-first order under load: a delivery the page has
not shown goes where its age puts it (an old one sent again does not jump to the top, nor count as newer), a burst
larger than the page leaves the rows a contiguous stretch of `GET /deliveries?order=newest` below a bar counting
exactly the deliveries newer than them; and the Start form sends a parameter named `__proto__`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.api.app import server_app
from simulator.core import watch
from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer, eventually
from tests.dashboard import browser as chromium
from tests.dashboard.conftest import Page, write_scenarios

# A scenario parameter named as JavaScript's prototype: `values["__proto__"] = …` on a plain object sets its
# prototype instead of a key, and the key was not sent.
PROTO_SCENARIO = """
name: dash-proto
provider: basistheory
description: A parameter named like the prototype.
params:
  __proto__: {default: 1, description: how many tokens}
steps:
  - repeat: "${__proto__}"
    steps:
      - emit: token.created
"""


def newest_ids(api: httpx.Client) -> list[str]:
    """Every delivery's id in the API's newest-first order."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"order": "newest", "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = api.get("/deliveries", params=params).json()
        ids += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def run_tokens(api: httpx.Client, n: int) -> None:
    """`n` deliveries at speed 0 to the subscriptions, waited for until all succeeded."""
    run = api.post("/runs", json={"scenario": "dash-tokens", "params": {"n": n}, "speed": 0}).json()

    def done() -> bool:
        answer = api.get(f"/runs/{run['id']}").json()
        return bool(answer["status"] == "completed" and answer["counts"] == {"succeeded": n})

    # A bound, not a pace: on a loaded 2-core machine (a browser, a receiver and the server on it) 3,000 took
    # more than a minute.
    wait_api(done, f"the run of {n}", timeout=max(60.0, n / 15))


def wait_api(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    eventually(predicate, timeout, what)


def redeliver(api: httpx.Client, delivery_id: str) -> int:
    """Send a delivery again and wait until that attempt succeeded; how many attempts it has then."""
    attempts = int(api.get(f"/deliveries/{delivery_id}").json()["attempts"]) + 1
    assert api.post(f"/deliveries/{delivery_id}/redeliver").status_code == 202
    last: dict[str, Any] = {}

    def again() -> bool:
        last.update(api.get(f"/deliveries/{delivery_id}").json())
        return bool(last["status"] == "succeeded" and last["attempts"] == attempts)

    try:
        wait_api(again, f"{delivery_id} sent again")
    except AssertionError:
        raise AssertionError(f"{delivery_id} not sent again: {last['status']}, {last['attempts']} attempts") from None
    return attempts


def open_live(page: Page, address: str, rows: int) -> None:
    page.open(address)
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
    page.wait(lambda: len(page.rows()) == rows, what=f"{rows} rows")


def ids(page: Page) -> list[str]:
    return [i for i, _ in page.rows()]


def bar_count(page: Page) -> int:
    """The number the bar of newer deliveries says (0 when it is hidden)."""
    banner = page.one(".banner")
    return int(banner.text.split()[0]) if banner.is_displayed() else 0


def in_order(page: Page, newest: list[str]) -> bool:
    """Whether the rows are a stretch of `newest` with no hole, below a bar counting those above them."""
    shown = ids(page)
    if not shown or shown[0] not in newest:
        return False
    top = newest.index(shown[0])
    return shown == newest[top : top + len(shown)] and bar_count(page) == top


def caught_up(page: Page, api: httpx.Client) -> None:
    """Send the bottom row's delivery again and wait until its row says so: the stream tells changes in order, so
    every change made before has reached the page by then."""
    delivery_id = ids(page)[-1]
    attempts = redeliver(api, delivery_id)

    def shown_again() -> bool:
        return bool(
            page.js(
                "const r = document.querySelector(`.delivery[data-id='${arguments[0]}']`);"
                "return r?.dataset.status === 'succeeded' && r.querySelector('.attempts').textContent === arguments[1]",
                delivery_id,
                str(attempts),
            )
        )

    page.wait(shown_again, what=f"the row of {delivery_id} sent again")


def settled_in_order(page: Page, api: httpx.Client) -> tuple[list[str], int]:
    """Wait until the page shows the API's order (see `in_order`) and has caught up; the order and the count."""
    newest = newest_ids(api)
    try:
        page.wait(lambda: in_order(page, newest), 30, "the rows in the API's order")
    except AssertionError:
        shown = ids(page)
        where = [newest.index(i) if i in newest else None for i in (shown[0], shown[-1])] if shown else []
        raise AssertionError(
            f"{len(shown)} rows, at positions {where} of the API's {len(newest)}; the bar says {bar_count(page)}"
        ) from None
    caught_up(page, api)
    assert in_order(page, newest), "the rows left the API's order"
    return newest, bar_count(page)


def test_an_old_delivery_sent_again_stays_out_of_the_top(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        run_tokens(api, 300)
        open_live(page, "/", 100)
        before = newest_ids(api)
        assert ids(page) == before[:100]
        redeliver(api, before[250])  # beyond the page: its change is not a new delivery
        caught_up(page, api)
        [newest] = api.post("/events", json={"type": "basistheory:token.created"}).json()["deliveries"]
        page.wait(lambda: ids(page)[:1] == [newest], what="the new delivery at the top")
        after = newest_ids(api)
    assert after == [newest, *before]  # sending one again moved nothing in the API's order
    assert ids(page) == after[:101]
    assert not page.one(".banner").is_displayed()


def test_a_burst_beyond_the_page_keeps_the_order_and_counts_only_newer(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        run_tokens(api, 300)
        open_live(page, "/?limit=50", 50)
        before = newest_ids(api)
        run_tokens(api, 400)  # room for 50 more rows: the other 350 are counted
        for old in (before[60], before[150], before[299]):  # beyond the page, changed while the bar is up
            redeliver(api, old)
        newest, bar = settled_in_order(page, api)
    assert (bar, len(page.rows())) == (350, 100)
    page.click(".banner")
    page.wait(lambda: ids(page) == newest[:50] and not page.one(".banner").is_displayed(), what="the newest page")


def test_a_burst_of_thousands_keeps_the_order(
    page: Page, webhook_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst at speed 0: the stream may say "read the list again" (more changed at once than a watch lists)
    while deliveries below the page change; what the page ends with is still the API's order. The watch's bound
    is lowered (the server runs in this process) so that a burst of 1,000 passes it as one of thousands would."""
    monkeypatch.setattr(watch, "MAX_PENDING", 250)
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        run_tokens(api, 200)
        open_live(page, "/?limit=100", 100)
        before = newest_ids(api)
        run_tokens(api, 1000)
        redeliver(api, before[150])  # beyond any page the list may have read
        newest, bar = settled_in_order(page, api)
    if bar:  # the last read may have come late enough for the page to hold the newest already
        page.click(".banner")
        page.wait(lambda: ids(page) == newest[:100], what="the newest page")


@pytest.fixture
def proto_page(browser: chromium.Browser, tmp_path: Path) -> Iterator[Page]:
    """The dashboard on a server whose scenarios include dash-proto; any console error fails the test."""
    browser.console()  # what earlier tests left
    folder = write_scenarios(tmp_path / "scenarios")
    (folder / "dash-proto.yaml").write_text(PROTO_SCENARIO)
    srv = ApiServer(server_app(str(tmp_path / "dash.db"), scenario_dirs=[folder], grace=1)).start()
    try:
        yield Page(browser, srv)
        errors = [entry for entry in browser.console() if entry.get("level") == "SEVERE"]
        assert not errors, f"console errors: {errors}"
    finally:
        browser.driver.get("about:blank")
        srv.stop()


def test_a_parameter_named_proto_is_sent(proto_page: Page) -> None:
    page = proto_page
    page.open("/")
    page.click("#open-start")
    form = page.one("#start-form")
    page.wait(lambda: form.find_elements("css selector", "option[value=dash-proto]"), what="the scenario")
    page.choose(form.find_element("css selector", "select[name=scenario]"), "dash-proto")
    field = page.one("#start-form input[name=param-__proto__]")
    field.send_keys("3")
    call = page.wait(
        lambda: (
            '"__proto__": 3' in (text := page.one("#start-form pre.api-call").get_attribute("textContent")) and text
        ),
        what="the parameter in the call shown",
    )
    assert '"params": {\n    "__proto__": 3\n  }' in call
    speed = form.find_element("css selector", "input[name=speed]")
    speed.clear()
    speed.send_keys("0")
    form.find_element("css selector", "button[type=submit]").click()
    link = page.one("#toasts a[href^='#/runs/']")
    run_id = link.get_attribute("href").rsplit("/", 1)[1]
    with page.server.client() as api:
        assert api.get(f"/runs/{run_id}").json()["params"] == {"__proto__": 3}
