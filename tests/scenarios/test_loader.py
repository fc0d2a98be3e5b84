"""The scenario format: the broken corpus (field, line, message), the valid corpus, discovery and lookup."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from simulator.errors import InvalidInput, NotFound
from simulator.scenarios import (
    Choose,
    Emit,
    Parallel,
    Repeat,
    ScenarioInvalid,
    Wait,
    builtin_dir,
    discover,
    find,
    find_name_or_file,
    load_file,
    load_text,
    schema,
    validate_files,
)
from simulator.scenarios.distributions import Exponential, Fixed, Lognormal, Uniform

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scenarios"
BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (?P<field>.*?):(?P<line>\d+): (?P<phrase>.+)$")

MINIMAL = "name: {name}\nprovider: syncfy\ndescription: x\nsteps:\n  - emit: credentials.created\n"


def expectations(path: Path) -> list[tuple[str, int, str]]:
    found = [EXPECT.match(line) for line in path.read_text().splitlines() if line.startswith("# expect:")]
    assert found and all(found), f"{path.name} needs '# expect: field:line: phrase' lines"
    return [(m["field"], int(m["line"]), m["phrase"]) for m in found if m]


def test_the_broken_corpus_is_large_enough():
    assert len(BROKEN) >= 15


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_a_broken_file_reports_field_line_and_what_was_expected(path):
    with pytest.raises(ScenarioInvalid) as caught:
        load_file(path)
    errors = caught.value.errors
    assert all(e.file == str(path) for e in errors)
    for field, line, phrase in expectations(path):
        matching = [e for e in errors if e.field == field and e.line == line]
        assert matching, f"no error at {field}:{line}; got {[str(e) for e in errors]}"
        assert any(phrase in e.message for e in matching), f"{phrase!r} not in {[e.message for e in matching]}"


def test_every_problem_of_a_file_is_reported_at_once():
    text = (
        "name: several\nprovider: syncfy\nsteps:\n  - emit: credentials.craeted\n  - wait: 3 sec\n"
        "  - wait: {uniform: [6s, -2s]}\n  - choose:\n      - {weight: 0, steps: [{emit: documents.success}]}\n"
    )
    with pytest.raises(ScenarioInvalid) as caught:
        load_text(text, "several.yaml")
    assert [(e.field, e.line) for e in caught.value.errors] == [
        ("steps[0].emit", 4),
        ("steps[1].wait", 5),
        ("steps[2].wait.uniform[1]", 6),
        ("steps[3].choose[0].weight", 8),
    ]
    assert "several.yaml:4" in str(caught.value)
    assert isinstance(caught.value, InvalidInput) and caught.value.status == 422


@pytest.mark.parametrize(("value", "spelled"), [("null", "got null"), ("true", "got true")])
def test_a_scalar_where_a_step_goes_is_one_problem_in_jsons_words(value, spelled):
    """Two keywords of the schema refuse it; the file is told once, as YAML and JSON write the value."""
    with pytest.raises(ScenarioInvalid) as caught:
        load_text(f"name: odd\nprovider: syncfy\nsteps: [{value}]\n", "odd.yaml")
    [error] = caught.value.errors
    assert (error.field, error.line) == ("steps[0]", 3) and error.message.endswith(spelled), error


def test_the_valid_fixture_becomes_the_model():
    s = load_file(FIXTURES / "valid" / "every-step-kind.yaml")
    assert (s.name, s.provider, s.observe) == ("fixture-every-step-kind", "syncfy", "Nothing in particular.")
    assert {n: p.default for n, p in s.params.items()} == {
        "environment": "sandbox",
        "customer": "ACME-001",
        "refreshes": 2,
        "gap": "1h",
        "ratio": 0.5,
        "executing": True,
        "nothing": None,
    }
    assert s.faults == {"drop": 0.1}
    first = s.steps[0]
    assert isinstance(first, Emit) and first.ref == "cred" and first.faults == {"delay": "2s"}
    assert first.overrides["header.user.id_external"] == "${customer}" and first.line == 17 and first.unchecked
    assert [step.distribution for step in s.steps[1:6] if isinstance(step, Wait)] == [
        Fixed(3.0),
        Fixed(0.5),
        Uniform(2.0, 6.0),
        Exponential(30.0, 300.0),
        Lognormal(2.0, 0.5, None),
    ]
    repeat_count, repeat_for, choose, parallel = s.steps[7:11]
    assert isinstance(repeat_count, Repeat) and repeat_count.count == "${refreshes}"
    assert isinstance(repeat_for, Repeat) and repeat_for.for_seconds == 600.0 and repeat_for.count is None
    assert isinstance(choose, Choose) and [b.weight for b in choose.branches] == [9.0, 1.0]
    assert isinstance(parallel, Parallel) and len(parallel.branches) == 2
    # `documents.fail` is the documented spelling: the model holds the canonical name.
    assert s.event_types() == (
        "credentials.created",
        "credentials.updated",
        "credentials.refreshed",
        "documents.success",
        "documents.failed",
        "documents.completed",
    )


def test_dates_stay_strings_and_numbers_stay_numbers():
    text = MINIMAL.format(name="dates") + "    with: {payload.day: 2025-01-01, payload.n: 3, payload.x: 1.5}\n"
    text += "    unchecked: true\n"  # fields of no event: only the values' types matter here
    emit = load_text(text).steps[0]
    assert isinstance(emit, Emit)
    assert emit.overrides == {"payload.day": "2025-01-01", "payload.n": 3, "payload.x": 1.5}


def test_the_json_schema_is_valid_draft_2020_12_and_accepts_every_builtin():
    document = schema()
    Draft202012Validator.check_schema(document)
    validator = Draft202012Validator(document)
    import yaml

    for path in builtin_dir().glob("*.yaml"):
        assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path.name


def test_x_keys_hold_anchors_that_steps_reuse():
    s = load_file(FIXTURES / "valid" / "anchors.yaml")
    repeat = s.steps[1]
    assert isinstance(repeat, Repeat) and repeat.count == 2
    assert [type(step).__name__ for step in repeat.steps] == ["Wait", "Emit"]
    assert s.event_types() == ("credentials.created", "credentials.updated", "documents.completed")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("a: &a [*a]\n", "refers to itself"),
        ("name: deep\nprovider: syncfy\nsteps: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    ],
)
def test_recursive_and_absurdly_deep_documents_are_refused(text, phrase):
    with pytest.raises(ScenarioInvalid, match=phrase):
        load_text(text)


def test_billion_laughs_is_refused():
    text = "name: laughs\nprovider: syncfy\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 7):
        text += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    text += "steps: [{emit: credentials.created}]\n"
    with pytest.raises(ScenarioInvalid, match="expands to more than"):
        load_text(text)


def test_load_file_of_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        load_file(tmp_path / "nope.yaml")


def test_load_file_sees_an_edited_file(tmp_path):
    path = tmp_path / "edited.yaml"
    path.write_text(MINIMAL.format(name="before"))
    assert load_file(path).name == "before"
    path.write_text(MINIMAL.format(name="after-the-edit"))
    assert load_file(path).name == "after-the-edit"


# --- discovery ---------------------------------------------------------------------------------------------


def test_discover_keeps_loading_when_a_user_file_is_broken(tmp_path):
    shutil.copy(FIXTURES / "valid" / "minimal.yaml", tmp_path / "a.yaml")
    shutil.copy(FIXTURES / "broken" / "bad-duration.yaml", tmp_path / "b.yaml")
    (tmp_path / "c.yml").write_text(MINIMAL.format(name="third"))
    shutil.copy(FIXTURES / "broken" / "control-character.yaml", tmp_path / "d.yaml")
    (tmp_path / "notes.txt").write_text("not a scenario")
    found, errors = discover([tmp_path])
    assert {"fixture-minimal", "third", "syncfy-credential-lifecycle"} <= set(found)
    assert [(e.file, e.field, e.line) for e in errors] == [
        (str(tmp_path / "b.yaml"), "steps[1].wait", 7),
        (str(tmp_path / "d.yaml"), "", 4),
    ]


def test_discover_names_what_is_called_a_scenario_file_but_is_not_a_file(tmp_path):
    assert discover([tmp_path])[1] == []  # discovered once, and kept while the folder's scenario files stay
    (tmp_path / "folder.yaml").mkdir()
    os.mkfifo(tmp_path / "pipe.yml")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    errors = discover([tmp_path])[1]
    assert [(e.file, e.field) for e in errors] == [
        (str(tmp_path / name), "") for name in ("folder.yaml", "gone.yaml", "pipe.yml")
    ]
    assert all("not a regular file" in e.message for e in errors)
    (tmp_path / "c.yml").write_text(MINIMAL.format(name="third"))
    assert "third" in discover([tmp_path])[0]


def test_a_user_scenario_may_not_take_a_builtin_name(tmp_path):
    (tmp_path / "clash.yaml").write_text("# mine\n" + MINIMAL.format(name="syncfy-credential-lifecycle"))
    found, errors = discover([tmp_path])
    assert Path(found["syncfy-credential-lifecycle"].source).parent == builtin_dir()
    assert [(e.file, e.field, e.line) for e in errors] == [(str(tmp_path / "clash.yaml"), "name", 2)]
    assert "built-in" in errors[0].message


def test_two_user_files_with_one_name_report_the_second(tmp_path):
    for stem in ("one", "two"):
        (tmp_path / f"{stem}.yaml").write_text(MINIMAL.format(name="twin"))
    found, errors = discover([tmp_path])
    assert found["twin"].source == str(tmp_path / "one.yaml")
    assert [e.file for e in errors] == [str(tmp_path / "two.yaml")] and "one.yaml" in errors[0].message


def test_a_missing_user_dir_is_an_error_not_a_crash(tmp_path):
    found, errors = discover([tmp_path / "absent"])
    assert "syncfy-credential-lifecycle" in found
    assert errors[0].file == str(tmp_path / "absent") and "no such directory" in errors[0].message


def test_validate_files_reports_every_file_and_duplicate_names(tmp_path):
    (tmp_path / "x.yaml").write_text(MINIMAL.format(name="same"))
    (tmp_path / "y.yaml").write_text(MINIMAL.format(name="same"))
    bad = FIXTURES / "broken" / "unknown-provider.yaml"
    errors = validate_files([tmp_path / "x.yaml", tmp_path / "y.yaml", bad, tmp_path / "missing.yaml"])
    assert [(Path(e.file or "").name, e.field) for e in errors] == [
        ("y.yaml", "name"),
        ("unknown-provider.yaml", "provider"),
        ("missing.yaml", ""),
    ]
    assert validate_files([tmp_path / "x.yaml"]) == []


def test_find_by_name_by_path_and_unknown_names_suggest(tmp_path):
    assert find("syncfy-credential-lifecycle").name == "syncfy-credential-lifecycle"
    path = FIXTURES / "valid" / "minimal.yaml"
    assert find_name_or_file(str(path)).name == "fixture-minimal"
    with pytest.raises(NotFound):
        find(str(path))  # a name is only ever looked up in the scenario folders
    (tmp_path / "mine.yaml").write_text(MINIMAL.format(name="mine"))
    assert find("mine", [tmp_path]).source == str(tmp_path / "mine.yaml")
    with pytest.raises(NotFound, match="did you mean syncfy-credential-lifecycle") as caught:
        find("syncfy-credential-lifecyle")
    assert caught.value.errors[0].field == "scenario"


def test_builtin_dir_is_the_repository_scenarios_folder_in_a_checkout():
    assert (builtin_dir() / "syncfy-credential-lifecycle.yaml").is_file()


def test_summary_is_json_ready():
    summary = find("syncfy-two-factor").summary()
    assert json.loads(json.dumps(summary))["params"]["refreshes"] == {
        "default": 3,
        "description": "how many periodic refreshes follow",
    }


def test_an_unknown_name_says_which_files_could_not_be_loaded_and_why(tmp_path: Path) -> None:
    """It said only "(1 scenario files could not be loaded)": a test asking for its folder's broken scenario by
    name learned that the name was unknown, and looked for a typo."""
    (tmp_path / "probe-broken.yaml").write_text(
        "name: probe-broken\nprovider: syncfy\ndescription: x\nsteps:\n  - emit: credentials.nope\n"
    )
    with pytest.raises(NotFound) as caught:
        find("probe-broken", [tmp_path])
    assert f"{tmp_path / 'probe-broken.yaml'}:5: steps[0].emit" in caught.value.detail, caught.value.detail
    [broken] = [e for e in caught.value.errors if e.file is not None]
    assert (broken.line, broken.field) == (5, "steps[0].emit")
