"""The page's address in a real Chromium: the filters it names are shown in the controls and kept when another
changes, whichever form names them; an address that cannot be decoded is said, and the page goes on."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from simulator.testing.receiver import Receiver
from tests.dashboard.conftest import Page


def filters_in_address(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(urlsplit(page.driver.current_url).fragment).query)


def chosen_type(page: Page) -> str:
    return str(page.js("return document.querySelector('.filters select[name=type]').selectedOptions[0].textContent"))


def test_a_type_filter_is_shown_and_kept_in_either_form(page: Page, webhook_receiver: Receiver) -> None:
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": webhook_receiver.url})
        [created] = api.post("/events", json={"type": "syncfy:credentials.created"}).json()["deliveries"]
        api.post("/events", json={"type": "basistheory:token.created"})
        page.wait(lambda: len(api.get("/deliveries", params={"status": "succeeded"}).json()["data"]) == 2, what="both")

    for form in ("syncfy:credentials.created", "credentials.created"):
        page.open(f"/?type={form}")
        page.wait(lambda: page.rows() == [(created, "succeeded")], what=f"the {form} delivery alone")
        page.wait(lambda: len(page.css(".filters select[name=type] option")) > 2, what="the catalog's types")
        assert chosen_type(page) == "syncfy:credentials.created", form
        page.choose(page.one(".filters select[name=status]"), "succeeded")
        page.wait(lambda: filters_in_address(page).get("status") == ["succeeded"], what="the status in the address")
        assert filters_in_address(page)["type"] == [form]  # kept, as it was written
        page.wait(lambda: page.rows() == [(created, "succeeded")], what="still that delivery alone")
        page.wait(lambda: chosen_type(page) == "syncfy:credentials.created", what=f"{form} still chosen")


def test_a_malformed_address_is_said_and_the_page_goes_on(page: Page) -> None:
    page.open("/")
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
    page.js("location.hash = '#/deliveries/%E0%A4%A'")
    notice = page.wait(lambda: [t.text for t in page.css("#toasts .toast.error")], what="a notice")
    assert notice == ["The address has a malformed percent-escape: %E0%A4%A"]
    assert "%E0%A4%A" in page.one("#view .error").text
    # Another address works as before (and an uncaught error would have failed the test at its end).
    page.js("location.hash = '#/runs'")
    page.wait(lambda: page.one("#view h1").text == "Runs", what="the runs page")
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="live again")
