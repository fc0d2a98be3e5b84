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
