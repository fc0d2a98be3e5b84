"""Every kind an attempt's error can be (`error_kind`, as the API answers it and the dashboard shows it) is named
in docs/dashboard.md: `other` was not, and an attempt cut short by its subscription's deletion showed a kind the
page did not list."""

from __future__ import annotations

import re
from pathlib import Path

from simulator.models.enums import ERROR_KINDS
from simulator.models.records import error_kind

PAGE = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"


def test_every_error_kind_is_named_in_the_dashboards_page() -> None:
    text = PAGE.read_text(encoding="utf-8")
    paragraph = text[text.index("- **the error**, by kind:") :].split("\n- ", 1)[0]
    named = set(re.findall(r"`([a-z]+)`", paragraph))
    assert set(ERROR_KINDS) <= named, set(ERROR_KINDS) - named
    assert error_kind(None, "interrupted: its subscription was deleted before an answer came") == "other"
