"""Scenario files with thousands of problems are checked in time that grows with the file, not its square; and the
lines told are the lines editors, `grep -n` and `sed -n` count, whatever Unicode line separators a file holds."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from simulator.errors import FieldError
from simulator.scenarios import ScenarioInvalid, load_text

LISTED = 20  # unknown keys of one mapping told one by one (MAX_UNKNOWN_LISTED); the rest are counted
HEAD = "name: many\nprovider: syncfy\nsteps:\n  - emit: credentials.created\n"
N = 400  # the old lookups read each key about N times over: 160,000 reads where a linear check makes a few thousand
SHAPES = {
    "unknown top-level keys": HEAD + "".join(f"k{i}: 1\n" for i in range(N)),
    "unknown fields under with": HEAD + "    with:\n" + "".join(f"      p.f{i}: 1\n" for i in range(N)),
    "unknown keys under params": HEAD + "params:\n" + "".join(f"  p{i}: {{default: 1, x: 2}}\n" for i in range(N)),
    "unknown keys in a step": HEAD + "".join(f"    k{i}: 1\n" for i in range(N)),
    "duplicate keys and unknown parameters": HEAD
    + "    with:\n"
    + "".join(f"      p.f{i}: ${{nope{i}}}\n" for i in range(N))
    + "x-a:\n"
    + "  a: 1\n" * N,
}


class _CountedScalar(yaml.ScalarNode):
    """A scalar node that counts the reads of its text: finding a key's line reads the keys it passes."""

    reads = 0

    @property  # type: ignore[override]
    def value(self) -> Any:
        _CountedScalar.reads += 1
        return self._text

    @value.setter
    def value(self, text: Any) -> None:
        self._text = text


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts what checking a file reads: scalar texts (the line lookups) and problem fields (telling apart the
    problems inside one already told). Work, not time: a loaded machine cannot make it pass or fail."""
    counts = {"fields": 0}
    # The composer makes the nodes, the resolver recognises their class by identity: both must see the subclass.
    monkeypatch.setattr(yaml.composer, "ScalarNode", _CountedScalar)
    monkeypatch.setattr(yaml.resolver, "ScalarNode", _CountedScalar)
    monkeypatch.setattr(_CountedScalar, "reads", 0)

    def counting(self: FieldError, name: str) -> Any:
        if name == "field":
            counts["fields"] += 1
        return object.__getattribute__(self, name)

    monkeypatch.setattr(FieldError, "__getattribute__", counting)
    return counts


def problems(text: str) -> list[FieldError]:
    with pytest.raises(ScenarioInvalid) as refused:
        load_text(text, "probe.yaml")
    return refused.value.errors


@pytest.mark.parametrize("shape", SHAPES)
def test_thousands_of_problems_are_checked_with_work_that_grows_with_the_file(shape, work):
    """Each problem's line was found by scanning its mapping again, and each problem was compared with every
    other: 49,000 unknown keys in a 479 KB file took minutes."""
    assert problems(SHAPES[shape])
    assert _CountedScalar.reads < 30 * N
    assert work["fields"] < 30 * N


def test_unknown_keys_past_a_screenful_are_counted_in_one_error():
    errors = problems(SHAPES["unknown top-level keys"])
    assert [e.field for e in errors] == [f"k{i}" for i in range(LISTED + 1)]
    assert errors[0].message.startswith("unknown key 'k0'") and errors[0].line == 5
    last = errors[-1]
    assert last.line == 5 + LISTED
    assert last.message.startswith(f"and {N - LISTED} more unknown keys from 'k{LISTED}' on")


# --- U+0085, U+2028 and U+2029: line breaks to YAML 1.1, ordinary characters to YAML 1.2, JSON and editors ----

SEPARATORS = pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"], ids=["NEL", "LS", "PS"])
BAD_WAIT = "provider: syncfy\nsteps:\n  - wait: 3 sec\n  - emit: credentials.created\n"


def line_of(text: str, needle: str) -> int:
    """The line `grep -n` tells for `needle`."""
    return text[: text.index(needle)].count("\n") + 1


@SEPARATORS
@pytest.mark.parametrize(
    "written",
    ["# one{c} two\nname: hx\n", "name: hx\n# {c}\n", 'name: hx\ndescription: "one{c}two"\n'],
    ids=["in a comment", "ending a comment", "in a quoted string"],
)
def test_a_valid_file_with_a_unicode_line_separator_in_a_comment_or_a_quoted_string_loads(char, written):
    scenario = load_text(written.format(c=char) + "provider: syncfy\nsteps:\n  - emit: credentials.created\n")
    assert scenario.name == "hx"


@SEPARATORS
@pytest.mark.parametrize("quote", ['"', "'", ""], ids=["double", "single", "plain"])
def test_a_unicode_line_separator_in_a_scalar_is_kept_and_does_not_shift_lines(char, quote):
    text = f"name: hx\ndescription: {quote}one{char}two{quote}\n" + BAD_WAIT
    [error] = problems(text)
    assert (error.field, error.line) == ("steps[0].wait", line_of(text, "wait"))
    fixed = load_text(text.replace("3 sec", "3s"))
    assert fixed.description == f"one{char}two"  # as YAML 1.2 and JSON read it (YAML 1.1 folds U+0085 to a space)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_a_character_yaml_refuses_and_a_bad_value_are_told_on_the_same_line(newline):
    """The two came from different counts: PyYAML's marks, and the text's newlines for a refused character."""
    text = "# \u2028\nname: hx\n" + BAD_WAIT
    [bad_value] = problems(text.replace("\n", newline))
    [refused] = problems(text.replace("3 sec", "\x01").replace("\n", newline))
    assert "U+0001 is not allowed" in refused.message
    assert bad_value.line == refused.line == line_of(text, "wait")


def test_a_syntax_error_quotes_the_unicode_line_separator_the_file_holds():
    [error] = problems("name: hx\nx-a: &an\u2028chor 1\n" + BAD_WAIT)
    assert error.line == 2
    assert "'\\u2028'" in error.message and "\\ue" not in error.message


def test_a_file_that_holds_every_private_use_character_and_a_separator_is_refused_with_its_line():
    """The separators are read through private-use characters the file does not hold: with none free, the file is
    refused rather than misread."""
    private = "".join(map(chr, [*range(0xE000, 0xF900), *range(0xF0000, 0xFFFFE), *range(0x100000, 0x10FFFE)]))
    [error] = problems(f"name: hx\n# {private}\n# \u2028\n" + BAD_WAIT)
    assert error.line == 3 and "U+2028" in error.message


def test_close_spellings_are_looked_for_for_the_first_unknown_event_types_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each look costs a few ms among the catalog's spellings: 8,000 unknown types took 51 s to check."""
    import difflib

    from simulator import catalog
    from simulator.scenarios import loader

    looks = []
    real = difflib.get_close_matches

    def counted(word: str, possibilities: Any, *args: Any, **kwargs: Any) -> list[str]:
        looks.append(len(list(possibilities)))
        return real(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(catalog.difflib, "get_close_matches", counted)
    text = "name: many\nprovider: syncfy\nsteps:\n" + "".join(f"  - emit: credentials.creatd{i}\n" for i in range(N))
    with pytest.raises(ScenarioInvalid) as caught:
        load_text(text, "many.yaml")
    messages = [e.message for e in caught.value.errors]
    assert len(messages) == N  # each unknown type is still told, with its line
    assert len(looks) == loader.SUGGESTED and "did you mean credentials.created" in messages[0], messages[0]
    assert "did you mean" not in messages[-1]
    assert max(looks) < len(catalog._index()) / 5  # among Syncfy's own spellings, not Basis Theory's too
