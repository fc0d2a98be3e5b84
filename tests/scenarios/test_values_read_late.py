"""Scenario values that used to pass `validate` and fail later, each time they were written out: a whole number
written in hexadecimal, octal, binary or base 60 past the 4,300 digits Python writes out in decimal, a lone UTF-16
surrogate in any text (a description, a parameter, a key), and a repeat count past a float. Each is refused with its
line and field, as any invalid value is; and telling which problems sit inside others no longer takes time in the
square of a long field's length. A merge key given twice is refused as any key given twice."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from simulator.scenarios import ScenarioInvalid, load_text, loader

HEAD = "name: probe\nprovider: syncfy\n"
LIMIT = sys.get_int_max_str_digits()
LONG = {  # each more than LIMIT decimal digits
    "hexadecimal": "0x" + "f" * 4000,
    "octal": "0" + "7" * 5000,  # YAML 1.1's octal: a leading 0
    "binary": "0b" + "1" * 15000,
    "base 60": "1" + ":59" * 2500,
}


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ScenarioInvalid) as refused:
        load_text(text, "probe.yaml")
    return [(e.line, e.field, e.message) for e in refused.value.errors]


@pytest.mark.parametrize("form", list(LONG))
@pytest.mark.parametrize(
    ("where", "line", "field"),
    [
        ("params:\n  big: {{default: {}}}\nsteps:\n  - emit: credentials.created\n", 4, "params.big.default"),
        ("steps:\n  - repeat: {}\n    steps: [{{emit: credentials.created}}]\n", 4, "steps[0].repeat"),
        (
            "steps:\n  - emit: credentials.updated\n    unchecked: true\n    with: {{payload.extra: {}}}\n",
            6,
            'steps[0].with["payload.extra"]',
        ),
    ],
)
def test_a_whole_number_too_long_to_write_out_is_refused_however_it_is_written(
    form: str, where: str, line: int, field: str
) -> None:
    [(at, named, message)] = problems(HEAD + where.format(LONG[form]))
    assert (at, named) == (line, field)
    assert message == f"a whole number of more than {LIMIT} digits is too long to read: expected at most {LIMIT} digits"


def test_a_long_whole_number_within_the_limit_is_read() -> None:
    scenario = load_text(HEAD + f"params:\n  big: {{default: 0x{'f' * 3000}}}\nsteps:\n  - emit: credentials.created\n")
    assert scenario.params["big"].default == int("f" * 3000, 16)


SURROGATES = HEAD + (
    'description: "bad \\ud800 here"\n'
    'observe: "also \\udc00"\n'
    'params:\n  p: {default: "v\\ud800", description: "d\\ud800"}\n'
    'steps:\n  - emit: credentials.updated\n    with: {"payload.\\udfff": 1}\n'
)


def test_a_lone_surrogate_is_refused_in_every_text_with_its_line_and_field() -> None:
    found = problems(SURROGATES)
    said = "a lone UTF-16 surrogate is not text: expected text that UTF-8 can hold"
    assert found[:4] == [
        (3, "description", said),
        (4, "observe", said),
        (6, "params.p.default", said),
        (6, "params.p.description", said),
    ]
    assert (9, "steps[0].with", f"a key: {said}") in found
    for _, field, message in found:  # every problem can be written out, as a line or an answer
        (field + message).encode()


def test_a_repeat_count_past_a_float_inside_a_timed_repeat_is_refused_not_raised() -> None:
    text = HEAD + (
        "steps:\n  - emit: credentials.created\n  - repeat: {for: 1s}\n    steps:\n      - wait: 1s\n"
        f"      - repeat: 1{'0' * 400}\n        steps: [{{wait: 0s}}]\n"
    )
    [(line, field, message)] = problems(text)
    assert (line, field) == (5, "steps[1].repeat")
    assert "would be planned more than 100000 at a time" in message


class _Counting(set[str]):
    looked_up = 0

    def __contains__(self, item: Any) -> bool:
        _Counting.looked_up += 1
        return super().__contains__(item)


def test_only_prefixes_as_long_as_a_told_field_are_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key of 200,000 dots under `with:` was checked against the problems told before it at each of its
    prefixes, each a copy: minutes for a file of one megabyte."""
    told = loader._Told(_Counting({"steps[0].with", "name", "steps[1]"}))
    field = 'steps[0].with["' + ".a" * 200_000 + '"]'
    _Counting.looked_up = 0
    assert told.covers(field)
    assert _Counting.looked_up <= 1 + len(told.lengths)
    _Counting.looked_up = 0
    assert not told.covers("steps[2].with." + "a." * 200_000)
    assert _Counting.looked_up <= 1 + len(told.lengths)


def test_a_merge_key_given_twice_is_refused_as_any_key_given_twice() -> None:
    text = (
        HEAD
        + "x-a: &a {emit: credentials.created}\nsteps:\n  - {<<: *a, emit: credentials.updated}\n  - {<<: *a, <<: *a}\n"
    )
    [(line, field, message)] = problems(text)
    assert (line, field) == (6, 'steps[1]["<<"]')
    assert message == "key '<<' appears twice: expected each key once in a mapping"


@pytest.mark.parametrize(
    ("where", "line", "field"),
    [
        ("faults:\n  delay: {}\nsteps:\n  - emit: credentials.created\n", 4, "faults.delay"),
        (
            "steps:\n  - emit: credentials.created\n    faults:\n      stale_timestamp: {{probability: 1, age: {}}}\n",
            6,
            "steps[0].faults.stale_timestamp.age",
        ),
    ],
)
def test_a_fault_duration_past_a_float_is_refused_at_its_line(where: str, line: int, field: str) -> None:
    """It raised OverflowError: `validate` said the file "cannot be checked", with no line nor field, and `run`
    printed a traceback."""
    [(at, named, message)] = problems(HEAD + where.format("9" * 310))
    assert (at, named) == (line, field)
    assert message.startswith("expected a duration of at most a week (7d), got 999")
