"""Fixtures of the dashboard's tests: the server (the control API on a real SQLite file, with a few scenarios of
the tests' own), receivers, and a real headless Chromium with a page that fails its test on any console error."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.api.app import server_app
from tests.api.harness import ApiServer
from tests.dashboard import browser as chromium

TOKEN = "dashboard-test-token"
SCENARIOS = {
    "dash-trickle": """
name: dash-trickle
provider: syncfy
description: A credential is created and updated twice, a second apart.
params:
  label: {default: first, description: a label for the tests}
steps:
  - emit: credentials.created
  - wait: 1s
  - emit: credentials.updated
  - wait: 1s
  - emit: credentials.updated
""",
    "dash-batch": """
name: dash-batch
provider: syncfy
description: A credential is created and updated twice at once, one Syncfy batch.
steps:
  - emit: credentials.created
  - emit: credentials.updated
  - emit: credentials.updated
""",
    "dash-many": """
name: dash-many
provider: basistheory
description: A thousand tokens.
steps:
  - repeat: 1000
    steps:
      - emit: token.created
""",
    "dash-tokens": """
name: dash-tokens
provider: basistheory
description: Tokens, one after another.
params:
  n: {default: 80, description: how many}
  gap: {default: 1ms, description: between two}
steps:
  - repeat: "${n}"
    steps:
      - emit: token.created
      - wait: "${gap}"
""",
    "dash-lots": """
name: dash-lots
provider: basistheory
description: More tokens than a run's timeline lists.
steps:
  - repeat: 2050
    steps:
      - emit: token.created
""",
    "dash-bidi": """
name: dash-bidi
provider: basistheory
description: A token whose metadata holds a right-to-left override.
steps:
  - emit: token.created
    with: {data.token.metadata.note: "\\u202eevil.exe", data.token.metadata.to: "alice"}
""",
    "dash-slow": """
name: dash-slow
provider: basistheory
description: A token now, another in an hour.
steps:
  - emit: token.created
  - wait: 1h
  - emit: token.created
""",
}


def write_scenarios(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SCENARIOS.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def start_server(base: Path, token: str | None = None) -> ApiServer:
    app = server_app(str(base / "dash.db"), scenario_dirs=[write_scenarios(base / "scenarios")], token=token, grace=1)
    return ApiServer(app).start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    """The control API alone (no browser)."""
    srv = start_server(tmp_path / "server")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[chromium.Browser]:
    reason = chromium.missing()
    if reason is not None:
        pytest.skip(reason)
    b = chromium.Browser()
    yield b
    b.quit()


DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/ with WEBHOOK_SIM_UPDATE_SCREENSHOTS=1 (what the README shows), else a temporary
    folder (taken all the same, so the code that takes them keeps working)."""
    return DOCS if os.environ.get("WEBHOOK_SIM_UPDATE_SCREENSHOTS") == "1" else tmp_path


class Page:
    """The dashboard of `server` in the browser: open a route, find elements, wait for conditions."""

    def __init__(self, b: chromium.Browser, server: ApiServer) -> None:
        self.browser = b
        self.driver = b.driver
        self.server = server

    def open(self, route: str = "/") -> None:
        self.driver.get(f"{self.server.url}/#{route}")

    def css(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements("css selector", selector))

    def one(self, selector: str, timeout: float = 15.0) -> Any:
        return self.wait(lambda: (found := self.css(selector)) and found[0], timeout, selector)

    def wait(self, predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> Any:
        return self.browser.wait(predicate, timeout, what)

    def choose(self, element: Any, value: str) -> None:
        """Pick `value` in the <select> `element`."""
        from selenium.webdriver.support.ui import Select

        Select(element).select_by_value(value)

    def click(self, selector: str, timeout: float = 15.0) -> None:
        """Click the element `selector` names, again if the page redrew it in between."""

        def clicked() -> bool:
            self.css(selector)[0].click()
            return True

        self.wait(clicked, timeout, f"a click on {selector}")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def focus(self, selector: str, closest: str | None = None) -> None:
        """Focus the element `selector` finds (or its `closest` ancestor), found and focused in one script: a list
        redrawn live between finding it and focusing it left the test a stale element."""
        found = self.js(
            "const e = document.querySelector(arguments[0]);"
            " const f = e && (arguments[1] ? e.closest(arguments[1]) : e); if (f) f.focus(); return !!f",
            selector,
            closest,
        )
        assert found, f"nothing matches {selector!r}"

    def rows(self) -> list[tuple[str, str]]:
        """The deliveries list as (id, status) pairs, top to bottom."""
        # One script, not two WebDriver round trips per row (a page of 1,000 rows took seconds).
        found = self.js("return [...document.querySelectorAll('.delivery')].map(r => [r.dataset.id, r.dataset.status])")
        return [(row[0], row[1]) for row in found]

    def screenshot(self, path: Path, height: int | None = None) -> None:
        """The whole page (up to 3,000 px tall) as a PNG."""
        full = height or min(3000, int(self.js("return document.documentElement.scrollHeight")) + 20)
        self.driver.set_window_size(1440, full)
        try:
            self.wait(lambda: self.js("return window.innerHeight") >= min(full, 3000) - 200, what="the window resized")
            path.parent.mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(1440, 1000)


@pytest.fixture
def make_page(browser: chromium.Browser, tmp_path: Path) -> Iterator[Callable[..., Page]]:
    """`make_page(token=None)`: a fresh server and the dashboard on it. After the test any console error fails it;
    the browser leaves for a blank page before the servers stop, so no reconnection reaches the next test."""
    browser.console()  # what earlier tests left
    servers: list[ApiServer] = []

    def make(token: str | None = None) -> Page:
        srv = start_server(tmp_path / f"server{len(servers)}", token)
        servers.append(srv)
        return Page(browser, srv)

    try:
        yield make
        errors = [entry for entry in browser.console() if entry.get("level") == "SEVERE"]
        assert not errors, f"console errors: {errors}"
    finally:
        browser.driver.get("about:blank")
        for srv in servers:
            srv.stop()


@pytest.fixture
def page(make_page: Callable[..., Page]) -> Page:
    return make_page()
