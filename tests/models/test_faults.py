"""The `faults` models: one error per problem at its own path, short and long forms alike, the mapping kept as
written by the models that embed it, and a JSON Schema that refuses nothing the models accept."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from simulator.errors import InvalidInput
from simulator.models import formats
from simulator.models.faults import FAULTS, MAX_SECONDS, Faults, FaultsSpec, check_faults, parse_faults
from simulator.scenarios.distributions import Exponential, Fixed, Lognormal, Uniform
from simulator.timeutil import parse_duration


class Host(BaseModel):
    """A model with a `faults` field, as the API's request and answer models have."""

    faults: Faults = Field(default_factory=dict)


def problems(faults: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as info:
        check_faults(faults)
    return [(e.field, e.message) for e in info.value.errors]


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        # A misspelt key is one problem, not also a missing one.
        (
            {"drop": {"probabilty": 0.1}},
            [("faults.drop.probabilty", "unknown key 'probabilty' (did you mean probability?): expected probability")],
        ),
        ({"drop": None}, [("faults.drop", "expected a probability between 0 and 1, got null")]),
        ({"delay": None}, [("faults.delay", "expected a duration or a distribution, got null")]),
        ({"delay": [1]}, [("faults.delay", "expected a duration or a distribution, got [1]")]),
        ({"delay": {"uniform": "1s"}}, [("faults.delay.uniform", "expected two durations [low, high]")]),
        ({"delay": {"exponential": "2s"}}, [("faults.delay.exponential", "expected a mapping, got '2s'")]),
        ({"delay": {"exponential": {"max": "2s"}}}, [("faults.delay.exponential.mean", "missing 'mean'")]),
        (
            {"delay": {"lognormal": {"median": "1s", "sigma": -1}}},
            [("faults.delay.lognormal.sigma", "expected a number from 0 to 10, got -1")],
        ),
        (
            {"delay": {"uniform": ["1s", "${hi}"]}},
            [("faults.delay.uniform.1", "'${hi}': ${param} templates are not accepted in faults")],
        ),
        (
            {"delay": {"fixed": "1s", "uniform": ["1s", "2s"]}},
            [
                (
                    "faults.delay",
                    "expected exactly one of fixed, uniform, exponential, lognormal, got ['fixed', 'uniform']",
                )
            ],
        ),
        (
            {"stale_timestamp": {"probability": 0.1, "age": 0}},
            [("faults.stale_timestamp.age", "expected a duration greater than 0")],
        ),
        # Bounded so that every draw is a time the clock can reach.
        ({"delay": "8d"}, [("faults.delay", "expected a duration of at most a week (7d), got '8d'")]),
        (
            {"duplicate": {"probability": 1, "spacing": 1e300}},
            [("faults.duplicate.spacing", "expected a duration of at most a week (7d), got 1e+300")],
        ),
        (
            {"delay": {"lognormal": {"median": "1s", "sigma": 1e300}}},
            [("faults.delay.lognormal.sigma", "expected a number from 0 to 10, got 1e+300")],
        ),
        ({"reorder": 2.0}, [("faults.reorder", "expected a window of events: a whole number from 2 to 1000, got 2.0")]),
        ([("drop", 0.1)], [("faults", "expected a mapping of fault names to settings")]),
        # Two problems in one fault: two errors, each at its own key.
        (
            {"duplicate": {"probability": 2, "copies": 0}},
            [
                ("faults.duplicate.probability", "expected a probability between 0 and 1, got 2"),
                ("faults.duplicate.copies", "expected a number of copies: a whole number from 1 to 10, got 0"),
            ],
        ),
    ],
)
def test_one_error_per_problem_at_its_path(faults, expected):
    assert problems(faults) == expected


def test_errors_come_in_the_order_the_faults_were_written():
    fields = [field for field, _ in problems({"reorder": 1, "dorp": 1, "drop": 2})]
    assert fields == ["faults.reorder", "faults.dorp", "faults.drop"]


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ({"drop": 0.1}, {"drop": {"probability": 0.1}}),
        ({"duplicate": 0.5}, {"duplicate": {"probability": 0.5, "copies": 1, "spacing": "1s"}}),
        ({"reorder": 5}, {"reorder": {"window": 5}}),
        ({"delay": "2s"}, {"delay": {"fixed": 2}}),
        ({"bad_signature": 1}, {"bad_signature": {"probability": 1.0}}),
        ({"stale_timestamp": 0.1}, {"stale_timestamp": {"probability": 0.1, "age": "10m"}}),
        ({"malformed": 0.1}, {"malformed": {"probability": 0.1, "kind": "any"}}),
        ({"schema_drift": 0.1}, {"schema_drift": {"probability": 0.1, "kind": "any"}}),
        ({"burst": 20}, {"burst": {"size": 20}}),
    ],
)
def test_a_short_form_is_its_long_form_with_the_defaults(short, long):
    assert parse_faults(short) == parse_faults(long)


@pytest.mark.parametrize(
    ("delay", "distribution"),
    [
        ({"uniform": ["1s", "5s"]}, Uniform(1.0, 5.0)),
        ({"exponential": {"mean": "2s"}}, Exponential(2.0, 20.0)),
        ({"lognormal": {"median": "1s", "sigma": 0.5, "max": "10s"}}, Lognormal(1.0, 0.5, 10.0)),
        ("500ms", Fixed(0.5)),
    ],
)
def test_delay_is_a_bound_distribution(delay, distribution):
    assert parse_faults({"delay": delay}).delay == distribution


WRITTEN = {
    "bad_signature": 1,
    "delay": "2s",
    "duplicate": {"probability": 0.5, "spacing": "500ms"},
    "malformed": {"probability": 0.1, "kind": "empty"},
}


def test_a_faults_field_keeps_the_mapping_as_written():
    assert Host.model_validate({"faults": WRITTEN}).faults == WRITTEN
    strict = Host.model_validate_json(json.dumps({"faults": WRITTEN}), strict=True)
    assert strict.model_dump_json() == json.dumps({"faults": WRITTEN}, separators=(",", ":"))
    assert Host.model_validate({"faults": FaultsSpec.model_validate({"drop": 0.1})}).faults == {"drop": 0.1}


@pytest.mark.parametrize(
    "faults",
    [{"drop": 7}, {"dorp": 1}, {"duplicate": {"copys": 2}}, {"delay": {"uniform": ["5s", "-1s"]}}, {"burst": None}],
)
@pytest.mark.parametrize("strict", [False, True])
def test_a_faults_field_refuses_with_the_problem_of_the_core_check(faults, strict):
    """The same `InvalidInput` whichever model holds the field, and however it is validated."""
    with pytest.raises(InvalidInput) as info:
        if strict:
            Host.model_validate_json(json.dumps({"faults": faults}), strict=True)
        else:
            Host.model_validate({"faults": faults})
    with pytest.raises(InvalidInput) as core:
        check_faults(faults)
    assert (info.value.detail, info.value.errors) == (core.value.detail, core.value.errors)


ACCEPTED = [
    {"drop": 0, "bad_signature": {"probability": 1}},
    {"duplicate": {"probability": 0.2, "copies": 10, "spacing": 0}},
    {"reorder": 1000, "burst": {"size": 2}},
    {"delay": 0},
    {"delay": {"uniform": [0, 604800]}},
    {"delay": {"lognormal": {"median": "7d", "sigma": 10}}},
    {"delay": {"exponential": {"mean": "2s", "max": None}}},
    {"stale_timestamp": {"probability": 0.1, "age": "1h"}},
    {"malformed": {"probability": 0.1, "kind": "content_type"}, "schema_drift": {"probability": 0, "kind": "remove"}},
]
REFUSED = [
    {"drop": None},
    {"drop": True},
    {"drop": -0.1},
    {"dorp": 0.1},
    {"duplicate": {"copies": 2}},
    {"duplicate": {"probability": 0.1, "copies": 11}},
    {"reorder": 1},
    {"reorder": {"size": 5}},
    {"delay": -1},
    {"delay": {"gaussian": 1}},
    {"delay": {"uniform": ["1s"]}},
    {"delay": {"lognormal": {"median": 1}}},
    {"malformed": {"probability": 0.1, "kind": "weird"}},
    {"burst": 10001},
    {"stale_timestamp": {"probability": 0.1, "age": 604801}},
    {"delay": {"lognormal": {"median": 1, "sigma": 10.5}}},
]


def test_the_json_schema_agrees_with_the_models():
    schema = Host.model_json_schema()["$defs"]["FaultsSpec"]
    assert set(schema["properties"]) == set(FAULTS)
    validator = Draft202012Validator({**schema, "$defs": Host.model_json_schema()["$defs"]})
    for faults in ACCEPTED:
        assert validator.is_valid(faults), faults
        check_faults(faults)
    for faults in REFUSED:  # what the document refuses, the API must refuse too
        assert not validator.is_valid(faults), faults
        with pytest.raises(InvalidInput):
            check_faults(faults)


DURATION = formats.duration(int(MAX_SECONDS))
POSITIVE = formats.duration(int(MAX_SECONDS), positive=True)


@settings(max_examples=300, deadline=None, database=None)
@given(st.from_regex(DURATION, fullmatch=True), st.from_regex(POSITIVE, fullmatch=True))
def test_every_duration_the_pattern_allows_is_taken(text: str, positive: str) -> None:
    """What the document's pattern allows the check takes, at its value in seconds (a week at most)."""
    assert check_faults({"delay": text}).delay is not None
    assert check_faults({"stale_timestamp": {"probability": 1, "age": positive}}).stale_timestamp is not None
    assert 0 < parse_duration(positive) <= MAX_SECONDS


@pytest.mark.parametrize(
    "text", ["", " 5s", "5 s", "05s", "1e3", "٣s", "5sec", "-1s", "604801", "10081m", "7.0000000001d", "1.1234567891s"]
)
def test_what_the_pattern_refuses_the_check_refuses(text: str) -> None:
    assert re.fullmatch(DURATION, text) is None
    with pytest.raises(InvalidInput) as caught:
        check_faults({"delay": text})
    assert [e.field for e in caught.value.errors] == ["faults.delay"]


HUGE = int("9" * 310)  # a whole number past a float: `float()` raised OverflowError (a 500, a traceback)


@pytest.mark.parametrize(
    ("faults", "field"),
    [
        ({"delay": HUGE}, "faults.delay"),
        ({"delay": {"fixed": HUGE}}, "faults.delay.fixed"),
        ({"delay": {"uniform": [1, HUGE]}}, "faults.delay.uniform.1"),
        ({"delay": {"exponential": {"mean": HUGE}}}, "faults.delay.exponential.mean"),
        ({"delay": {"exponential": {"mean": 1, "max": HUGE}}}, "faults.delay.exponential.max"),
        ({"delay": {"lognormal": {"median": HUGE, "sigma": 1}}}, "faults.delay.lognormal.median"),
        ({"duplicate": {"probability": 1, "spacing": HUGE}}, "faults.duplicate.spacing"),
        ({"stale_timestamp": {"probability": 1, "age": HUGE}}, "faults.stale_timestamp.age"),
    ],
)
def test_a_duration_past_a_float_is_too_long_at_its_path(faults, field):
    [(where, message)] = problems(faults)
    assert where == field
    assert message.startswith("expected a duration of at most a week (7d), got 999")


@pytest.mark.parametrize(
    "delay", [{"exponential": {"mean": "6d"}}, {"lognormal": {"median": "6d", "sigma": 2}}], ids=["exp", "lognormal"]
)
def test_a_delays_default_max_is_kept_to_a_week(delay: dict[str, Any]) -> None:
    """Ten times a mean of days drew delays of weeks, past the week every other duration is held to."""
    import random

    from simulator.delivery.faults_spec import parse_profile
    from simulator.scenarios import distributions

    profile = parse_profile({"delay": delay})
    assert profile.delay is not None
    assert distributions.bounds(profile.delay)[1] == 7 * 24 * 3600
    draws = [distributions.draw(profile.delay, random.Random(seed)) for seed in range(400)]
    assert max(draws) <= 7 * 24 * 3600 and max(draws) > 6 * 24 * 3600  # some reach the week, none go past
