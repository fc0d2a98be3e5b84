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
