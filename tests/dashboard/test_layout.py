"""The page's layout in a real Chromium: in a narrow window (a phone, a split screen) every link and control of
the top bar stays in view, wrapped onto more lines rather than pushed past the window's edge, and the page does not
scroll sideways."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import Page

OUT_OF_VIEW = """
const width = document.documentElement.clientWidth;
return [...document.querySelectorAll('.top a, .top button, .top .live')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.left < 0 || r.right > width; })
  .map(e => e.textContent.trim());
"""


@pytest.mark.parametrize("width", [500, 380])
def test_a_narrow_window_keeps_the_top_bar_in_view(page: Page, width: int) -> None:
    page.driver.set_window_size(width, 900)
    try:
        page.open("/")
        page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
        page.wait(lambda: page.js("return window.innerWidth") <= width, what="the narrow window")
        assert page.js(OUT_OF_VIEW) == []
        top = page.one(".top")
        assert page.js("return arguments[0].scrollWidth <= arguments[0].clientWidth", top)
        # The deliveries' columns scroll within the list; the page itself does not go sideways.
        page.one(".grid .head")
        assert page.js("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    finally:
        page.driver.set_window_size(1440, 1000)


# Whether the page scrolls sideways; and each table's widest cell and box, to see that a table scrolls within its
# own box when it is wider than the window.
SIDEWAYS = """
const root = document.documentElement;
return {
  page: root.scrollWidth > root.clientWidth,
  tables: [...document.querySelectorAll('table.list')].map(t => ({
    box: getComputedStyle(t.parentElement).overflowX,
    inside: [...t.querySelectorAll('button')].every(b => {
      const r = b.getBoundingClientRect(), box = t.parentElement.getBoundingClientRect();
      return r.right - box.left + t.parentElement.scrollLeft <= t.parentElement.scrollWidth + 1;
    }),
  })),
  url: [...document.querySelectorAll('td.url')].map(td => td.clientWidth),
};
"""
LONG_URL = "http://127.0.0.1:9/a/rather/long/path/to/a/webhook/receiver?with=a&query=string"


@pytest.mark.parametrize("route", ["/subscriptions", "/runs", "/schedules"])
def test_a_phone_wide_window_scrolls_tables_not_the_page(page: Page, route: str) -> None:
    """At 375 px the tables pushed the page to 700 to 830 px: URLs wrapped every 4 characters and the buttons were
    past the edge."""
    with page.server.client() as api:
        api.post("/subscriptions", json={"url": LONG_URL, "events": ["token.created", "token.updated"]})
        api.post("/runs", json={"scenario": "dash-slow", "target": LONG_URL, "speed": 1})
        api.post("/schedules", json={"scenario": "dash-slow", "cron": "0 9 * * 1-5", "target": LONG_URL})
    page.driver.set_window_size(375, 900)
    try:
        page.wait(lambda: page.js("return window.innerWidth") <= 375, what="the narrow window")
        page.open(route)
        page.one("table.list tbody tr[data-id] button")
        shape = page.js(SIDEWAYS)
        assert not shape["page"], shape
        assert shape["tables"] and all(t["box"] == "auto" and t["inside"] for t in shape["tables"]), shape
        assert all(width >= 150 for width in shape["url"]), shape  # about 20 characters a line at least
    finally:
        page.driver.set_window_size(1440, 1000)


LUMINANCE = """
const rgb = (el, prop) => getComputedStyle(el)[prop].match(/[\\d.]+/g).slice(0, 3).map(Number);
const lum = ([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
const pick = (selector) => document.querySelector(selector);
return {
  page: lum(rgb(document.body.parentElement, "backgroundColor")),
  text: lum(rgb(document.body.parentElement, "color")),
  card: lum(rgb(pick(".grid"), "backgroundColor")),
  field: lum(rgb(pick("input, select"), "backgroundColor")),
};
"""


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_the_page_follows_the_systems_color_scheme(page: Page, scheme: str) -> None:
    page.driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    try:
        page.open("/")
        page.one(".grid .head")
        shade = page.js(LUMINANCE)
        if scheme == "dark":  # dark surfaces, light text: the page was white whatever the system said
            assert max(shade["page"], shade["card"], shade["field"]) < 0.2 and shade["text"] > 0.8, shade
        else:
            assert min(shade["page"], shade["card"], shade["field"]) > 0.9 and shade["text"] < 0.2, shade
    finally:
        page.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
