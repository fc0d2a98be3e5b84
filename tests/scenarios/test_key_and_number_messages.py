"""Scenario files whose keys are lists or mappings, or whose numbers YAML 1.1 reads as text (`1e3`), or past the
range of a number (`1.0e+400`): each is told in words, with its line, never with PyYAML's node repr."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulator.scenarios import ScenarioInvalid, load_text, runner

HEAD = "name: probe\nprovider: syncfy\n"
EMIT = "  - emit: credentials.created\n"


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ScenarioInvalid) as refused:
        load_text(text, "probe.yaml")
    return [(e.line, e.field, e.message) for e in refused.value.errors]


@pytest.mark.parametrize(
    ("text", "line", "field", "kind"),
    [
        (HEAD + "? [a, b]\n: 1\nsteps:\n" + EMIT, 3, "", "a list"),
        (HEAD + "steps:\n" + EMIT + "    with: {? {a: 1} : 2}\n", 5, "steps[0].with", "a mapping"),
    ],
)
def test_a_key_that_is_a_list_or_a_mapping_is_said_in_words_with_its_line(text, line, field, kind):
    [(at, named, message)] = problems(text)
    assert (at, named) == (line, field)
    assert message == f"a key that is {kind} is not a string: expected a text key"
    assert "Node" not in message and "tag:" not in message


CHOOSE = "  - choose:\n      - {{weight: {}, steps: [{{emit: credentials.created}}]}}\n"


@pytest.mark.parametrize(
    ("step", "line", "words"),
    [
        ("  - wait: 1e3\n", 5, "YAML reads 1e3 as text, not a number: write 1000 or 1.0e+3"),
        ("  - wait: 1.0e3\n", 5, "YAML reads 1.0e3 as text, not a number: write 1000 or 1.0e+3"),
        ("  - wait: 1e-20\n", 5, "YAML reads 1e-20 as text, not a number: write 1.0e-20"),
        (
            "  - repeat: 1e3\n    steps: [{emit: credentials.created}]\n",
            5,
            "YAML reads 1e3 as text, not a number: write 1000",
        ),
        (CHOOSE.format("2e1"), 6, "YAML reads 2e1 as text, not a number: write 20 or 2.0e+1"),
        (CHOOSE.format("1e400"), 6, "1e400 is beyond the range of a number"),
        # Read as a float by YAML, as infinity by Python: it passed as a weight of inf.
        (CHOOSE.format("1.0e+400"), 6, "1.0e+400 is beyond the range of a number"),
        ("  - wait: 1.0e+400\n", 5, "1.0e+400 is beyond the range of a number"),
    ],
)
def test_a_number_yaml_reads_as_text_or_as_infinity_says_what_to_write(step, line, words):
    [(at, _field, message)] = problems(HEAD + "steps:\n" + EMIT + step)
    assert at == line
    assert message.startswith(words), message
    assert "got a string" not in message


def test_numbers_yaml_reads_as_numbers_and_text_in_with_are_read_as_before():
    text = HEAD + "steps:\n" + EMIT + "  - wait: 1.0e+3\n" + EMIT + "    with: {payload.id_external: 1e3}\n"
    scenario = load_text(text)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    planned = list(runner.timeline(scenario, seed=1, params={}, start_time=start))
    assert [(p.at - start).total_seconds() for p in planned] == [0, 1000]
    assert planned[1].overrides == {"payload.id_external": "1e3"}  # a string in `with:`, as YAML 1.1 reads it
