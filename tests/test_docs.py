"""The generated catalog page: current, complete, and its links land on its headings."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest

from simulator import catalog, cli
from simulator.cli import docs

PAGE = Path(__file__).parent.parent / "docs" / "events.md"
SECTION = re.compile(r"^### `([^`]+)`\n(.*?)^```json\n(.*?)^```$", re.M | re.S)


@pytest.fixture(scope="module")
def page() -> str:
    return docs.render_catalog()


def test_committed_page_is_current(page: str) -> None:
    committed = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if committed != page:
        diff = difflib.unified_diff(
            committed.splitlines(), page.splitlines(), "docs/events.md", "registry", lineterm="", n=1
        )
        excerpt = "\n".join(list(diff)[:20])
        pytest.fail(f"docs/events.md is stale: run `webhook-sim docs`\n{excerpt}", pytrace=False)


def test_every_type_has_its_sample_and_aliases(page: str) -> None:
    sections = {key: (text, json.loads(body)) for key, text, body in SECTION.findall(page)}
    assert list(sections) == [etype.key for etype in catalog.event_types()]
    for etype in catalog.event_types():
        text, body = sections[etype.key]
        assert body == json.loads(catalog.sample(etype.key, seed=0))
        assert " ".join(etype.description.split()) in text
        for alias in etype.aliases:
            assert f"`{alias}`" in text
    assert "Aliases: `documents.fail`." in sections["syncfy:documents.failed"][0]


def test_links_land_on_headings(page: str) -> None:
    headings = {docs.anchor(h) for h in re.findall(r"^#{1,6} (.+)$", page, re.M)}
    links = re.findall(r"\]\(#([^)]+)\)", page)
    assert len(links) == len(catalog.event_types()) + len(catalog.providers())
    assert set(links) <= headings


def test_anchor_follows_github() -> None:
    assert docs.anchor("`syncfy:credentials.created`") == "syncfycredentialscreated"
    assert docs.anchor("Basis Theory (`basistheory`)") == "basis-theory-basistheory"
    assert docs.anchor("`basistheory:token-intent.converted`") == "basistheorytoken-intentconverted"


def test_main_writes_the_page_and_checks_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "docs" / "events.md"
    assert cli.main(["docs", "--check", str(target)]) == 1
    assert cli.main(["docs", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == docs.render_catalog()
    assert cli.main(["docs", "--check", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8").replace("credentials.created", "x", 1))
    assert cli.main(["docs", "--check", str(target)]) == 1
    assert "webhook-sim docs" in capsys.readouterr().err
