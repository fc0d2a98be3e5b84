"""Scenario files written to break what reads them: each is reported with its file, line and field, and skipped;
the other files still load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simulator.core.validation import check_scenario_faults
from simulator.delivery.faults_spec import validate as validate_faults
from simulator.errors import InvalidInput
from simulator.scenarios import (
    Emit,
    Scenario,
    ScenarioInvalid,
    discover,
    find_name_or_file,
    load_file,
    load_text,
    loader,
    runner,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scenarios"
MINIMAL = "name: {name}\nprovider: syncfy\nsteps:\n  - emit: credentials.created\n"


def test_a_file_with_a_non_string_key_or_nested_deeply_is_skipped_and_the_others_load(tmp_path):
    """Such a file made the scenario list, the API document and every new run answer 500."""
    (tmp_path / "good.yaml").write_text(MINIMAL.format(name="good"))
    (tmp_path / "key.yaml").write_text("name: key\nprovider: syncfy\n1: x\nsteps:\n  - emit: credentials.created\n")
    deep = "[{repeat: 1, steps: " * 140 + "[{emit: credentials.created}]" + "}]" * 140
    (tmp_path / "deep.yaml").write_text(f"name: deep\nprovider: syncfy\nsteps: {deep}\n")
    found, errors = discover([tmp_path])
    assert "good" in found and "syncfy-credential-lifecycle" in found
    assert [(Path(e.file or "").name, e.line, e.field) for e in errors] == [("deep.yaml", 3, ""), ("key.yaml", 3, "1")]
    assert "nested too deeply" in errors[0].message and "not a string" in errors[1].message


def test_a_file_the_checks_trip_on_unforeseen_is_reported_and_skipped(tmp_path, monkeypatch):
    (tmp_path / "good.yaml").write_text(MINIMAL.format(name="good"))
    (tmp_path / "odd.yaml").write_text(MINIMAL.format(name="odd"))
    real = loader.load_text

    def tripping(text: str, source: str = "<string>") -> Scenario:
        if source.endswith("odd.yaml"):
            raise TypeError("something no check foresaw")
        return real(text, source)

    monkeypatch.setattr(loader, "load_text", tripping)
    found, errors = discover([tmp_path])
    assert "good" in found and "odd" not in found
    assert [(Path(e.file or "").name, e.message) for e in errors] == [
        ("odd.yaml", "cannot be checked: TypeError: something no check foresaw")
    ]


def test_a_file_larger_than_the_bound_is_refused_unparsed(tmp_path):
    """200,000 emits (5.4 MB) took 28 s and 484 MB to be refused, for a reason it did not have (aliases)."""
    path = tmp_path / "many.yaml"
    path.write_text(MINIMAL.format(name="many") + "  - emit: credentials.created\n" * 200_000)
    began = time.monotonic()
    with pytest.raises(ScenarioInvalid) as caught:
        load_file(path)
    assert time.monotonic() - began < 1
    assert [(e.file, e.line, e.field) for e in caught.value.errors] == [(str(path), None, "")]
    assert caught.value.errors[0].message.startswith("larger than 1 MiB")


def test_too_many_nodes_is_told_as_such_where_it_happens():
    text = MINIMAL.format(name="wide") + "x-pad:\n  - [" + "1, " * 100_001 + "1]\n"
    with pytest.raises(ScenarioInvalid) as caught:
        load_text(text, "wide.yaml")
    [error] = caught.value.errors
    assert (error.line, error.message) == (6, "the document has more than 100000 nodes: expected a smaller file")


def test_a_file_may_not_take_a_builtin_name_when_given_by_its_path(tmp_path):
    """`run FILE` played it, with the built-in's ids; `validate` and the server refuse it."""
    path = tmp_path / "mine.yaml"
    path.write_text("# a copy\n" + MINIMAL.format(name="syncfy-credential-lifecycle"))
    with pytest.raises(ScenarioInvalid) as caught:
        find_name_or_file(str(path))
    assert [(e.file, e.line, e.field) for e in caught.value.errors] == [(str(path), 2, "name")]
    assert "already used by the built-in scenario" in caught.value.errors[0].message
    other = tmp_path / "other"
    other.mkdir()
    (other / "twin.yaml").write_text(MINIMAL.format(name="twin"))
    (tmp_path / "twin.yaml").write_text(MINIMAL.format(name="twin"))
    with pytest.raises(ScenarioInvalid, match="already used by the scenario in"):
        find_name_or_file(str(tmp_path / "twin.yaml"), [other])
    assert find_name_or_file(str(other / "twin.yaml"), [other]).name == "twin"  # the file itself, by its path


def test_a_run_whose_parameters_make_its_timeline_too_long_is_refused_before_it_starts():
    text = "name: gap\nprovider: syncfy\nparams:\n  gap: {default: 1s}\nsteps:\n  - wait: '${gap}'\n"
    scenario = load_text(text + "  - emit: credentials.created\n", "gap.yaml")
    with pytest.raises(InvalidInput) as caught:
        runner.resolve_params(scenario, {"gap": "1000000000000d"})
    assert [e.field for e in caught.value.errors] == ["steps[0].wait", "params.gap"]
    assert "past the year 9999 from any start time" in caught.value.errors[0].message
    assert runner.resolve_params(scenario, {"gap": "1000d"}) == {"gap": "1000d"}


def test_a_scenario_made_otherwise_has_its_faults_checked_with_their_full_paths():
    scenario = Scenario(
        name="made",
        provider="syncfy",
        description="",
        observe="",
        params={},
        steps=(Emit("credentials.created", line=4), Emit("credentials.updated", faults={"drop": 5}, line=7)),
        faults={"reorder": 1},
        source="made.yaml",
    )
    with pytest.raises(InvalidInput) as caught:
        check_scenario_faults(scenario, validate_faults)
    assert [(e.file, e.line, e.field) for e in caught.value.errors] == [
        ("made.yaml", None, "faults.reorder"),
        ("made.yaml", 7, "steps[1].faults.drop"),
    ]
