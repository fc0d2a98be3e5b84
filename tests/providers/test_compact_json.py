"""An event's JSON is made by the C encoder directly (`compact_json`): it must be json.dumps's string, or its
error, for every value a builder, an override or a scenario's parameter can put in a body."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulator import catalog
from simulator.providers import base
from simulator.providers.base import compact_json

ARGS = [(False, False), (False, True), (True, True), (True, False)]


def _dumps(value: Any, ensure_ascii: bool, allow_nan: bool) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ensure_ascii, allow_nan=allow_nan)


def _outcome(make: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    try:
        return "ok", make(*args, **kwargs)
    except Exception as exc:  # the same error, of the same type, with the same message
        return type(exc).__name__, str(exc)


class _Text(str):
    pass


def _cycle() -> dict[str, Any]:
    loop: dict[str, Any] = {"a": [1]}
    loop["a"].append(loop)
    return loop


HOSTILE: list[Any] = [
    {"nan": math.nan},
    {"inf": [math.inf, -math.inf]},
    {"tiny": [1e-5, -4.2e-7, 5e-324, 0.0001, -0.0]},
    {"huge": [1e16, 1.5e300, 9999999999999998.0, 2**63, -(2**63) - 1, 2**200]},
    {"text": '\x00\x1f\x7f"\\\n\r\t\b\f\u2028\u2029 é 漢 😀'},
    {"surrogate": "\ud800 \udfff"},
    {7: "int key", 2.5: "float key", False: "bool key", None: "null key"},
    {(1, 2): "tuple key"},
    {"tuple": (1, "two", None, False)},
    {"subclass": _Text("x"), _Text("key"): 1},
    {"date": datetime(2025, 3, 14, tzinfo=UTC)},
    {"set": {1, 2}},
    {"bytes": b"raw"},
    _cycle(),
    [],
    "top-level string é",
    3.25,
    None,
]


@pytest.mark.parametrize("ensure_ascii,allow_nan", ARGS)
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_give_what_json_dumps_gives(value: Any, ensure_ascii: bool, allow_nan: bool) -> None:
    assert _outcome(compact_json, value, ensure_ascii=ensure_ascii, allow_nan=allow_nan) == _outcome(
        lambda: _dumps(value, ensure_ascii, allow_nan)
    )


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**70), 2**70) if rng.random() < 0.1 else rng.randint(-1000, 10**6)
    if kind == 2:
        return rng.choice([rng.uniform(-1e7, 1e7), 10 ** rng.uniform(-12, 20), round(rng.uniform(0, 999), 2)])
    if kind in (3, 4, 5):
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)])) for _ in range(8))
    if kind in (6, 7):
        return {
            _random_value(rng, 4) if rng.random() < 0.1 else f"k{i}": _random_value(rng, depth + 1) for i in range(3)
        }
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_random_structures_give_what_json_dumps_gives() -> None:
    rng = random.Random(20261201)
    for _ in range(3000):
        value = _random_value(rng)
        for ensure_ascii, allow_nan in ARGS:
            expected = _outcome(lambda v=value, a=ensure_ascii, n=allow_nan: _dumps(v, a, n))
            assert _outcome(compact_json, value, ensure_ascii=ensure_ascii, allow_nan=allow_nan) == expected


def test_every_catalog_body_is_the_string_json_dumps_made() -> None:
    ctx = catalog.new_context(7, datetime(2025, 3, 14, tzinfo=UTC))
    for i, etype in enumerate(catalog.event_types()):
        event = catalog.build_event(etype, replace(ctx, now=ctx.now + timedelta(seconds=i)))
        ascii_only = event.provider == "syncfy"  # Syncfy's bodies escape what is not ASCII, as its examples do
        expected = _dumps(json.loads(event.json), ascii_only, not ascii_only)
        assert event.json == expected, etype.key


def test_without_the_c_encoder_json_dumps_makes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_C_ENCODER", None)
    value = {"a": [1, 2.5, "é"], "b": None}
    assert compact_json(value, ensure_ascii=True) == _dumps(value, True, True)
    assert _outcome(compact_json, {"x": math.nan}, ensure_ascii=False, allow_nan=False)[0] == "ValueError"


def test_a_call_after_one_that_failed_midway_sees_no_circle():
    inner: dict[str, Any] = {"x": [math.nan]}
    outer = {"a": inner, "b": [inner]}
    for ensure_ascii in (False, True):
        with pytest.raises(ValueError, match="Out of range"):
            compact_json(outer, ensure_ascii=ensure_ascii, allow_nan=False)
        inner["x"] = [1.0]
        assert compact_json(outer, ensure_ascii=ensure_ascii, allow_nan=False) == _dumps(outer, ensure_ascii, False)
        inner["x"] = [math.nan]


@pytest.mark.parametrize("ensure_ascii,allow_nan", ARGS)
def test_floats_of_every_magnitude_give_what_json_dumps_gives(ensure_ascii: bool, allow_nan: bool) -> None:
    """orjson spells some floats otherwise (`0.00001`, `1e-7`): each such body goes the C encoder's way."""
    for exponent in range(-325, 309):
        for mantissa in (1.0, 1.5, -3.3, 9.999999999999999, 2.2250738585072014, 4.9406564584124654):
            try:
                number = mantissa * 10.0**exponent
            except OverflowError:
                continue
            for value in ({"a": number}, {"a": [1, number]}, {"a": {"b": number}, "c": "x"}):
                assert _outcome(compact_json, value, ensure_ascii=ensure_ascii, allow_nan=allow_nan) == _outcome(
                    lambda v=value: _dumps(v, ensure_ascii, allow_nan)
                ), value


def test_the_catalog_bodies_are_written_by_orjson_where_it_writes_what_json_dumps_writes() -> None:
    """The quick way is taken for nearly every body, and gives json.dumps's string whenever it is."""
    ctx = catalog.new_context(11, datetime(2025, 3, 14, tzinfo=UTC))
    quick = 0
    types = catalog.event_types()
    for i, etype in enumerate(types):
        event = catalog.build_event(etype, replace(ctx, now=ctx.now + timedelta(seconds=i)))
        ascii_only = event.provider == "syncfy"
        text = base._orjson(event.data, ascii_only)
        if text is not None:
            quick += 1
            assert text == _dumps(event.data, ascii_only, not ascii_only), etype.key
    assert quick >= len(types) * 0.9, f"{quick} of {len(types)}"


@pytest.mark.parametrize(
    "value",
    [{"a": "null"}, {"a": "0.00001"}, {"a": "1e-7]"}, {"a": "é"}, {1: "x"}, {"a": 2**64}, {"a": "\ud800"}],
    ids=["null", "small", "exponent", "not-ascii", "int-key", "big-int", "surrogate"],
)
def test_what_orjson_may_write_otherwise_goes_the_c_encoders_way(value: dict[Any, Any]) -> None:
    assert base._orjson(value, ensure_ascii=True) is None
