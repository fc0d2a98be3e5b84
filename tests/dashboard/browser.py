"""A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven through Selenium, for the dashboard's
tests: started with a fresh profile, every console message collected, stopped within a bound."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Where Debian puts them; WEBHOOK_SIM_CHROMIUM and WEBHOOK_SIM_CHROMEDRIVER name others (or none: a path that
# does not exist makes the tests skip, which is how their skipping is checked).
CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = ("chromedriver",)
HOW_TO_GET_IT = (
    "the dashboard's browser tests need Chromium and its driver: `apt-get update && apt-get install -y chromium "
    "chromium-driver` (what .ci/run does), and Selenium: `scripts/install --dev`"
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,1000",
)


def missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return HOW_TO_GET_IT
    if _chromium() is None or _chromedriver() is None:
        return HOW_TO_GET_IT
    return None


def _find(variable: str, names: tuple[str, ...]) -> str | None:
    given = os.environ.get(variable)
    if given is not None:
        return given if Path(given).is_file() else None
    return next((found for name in names if (found := shutil.which(name)) is not None), None)


def _chromium() -> str | None:
    return _find("WEBHOOK_SIM_CHROMIUM", CHROMIUM)


def _chromedriver() -> str | None:
    return _find("WEBHOOK_SIM_CHROMEDRIVER", CHROMEDRIVER)


class Browser:
    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="webhook-sim-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = _chromium() or ""
        for flag in (*FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # The driver's path is given: Selenium Manager never looks for (or downloads) one.
        self.driver = webdriver.Chrome(options=options, service=Service(_chromedriver() or ""))
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(30)

    def console(self) -> list[dict[str, Any]]:
        """The console's messages since the last call (the driver's buffer empties as it is read)."""
        return list(self.driver.get_log("browser"))

    def wait(self, predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> Any:
        """Poll `predicate` every 50 ms until it is truthy and return it; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except Exception as exc:  # a stale element between two renders: try again
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")

    def quit(self, timeout: float = 20.0) -> None:
        """Stop the browser (its driver kills it if it does not stop in time) and delete its profile."""
        stopper = threading.Thread(target=self.driver.quit, daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive():
            self.driver.service.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
