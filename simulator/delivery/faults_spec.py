"""Fault profiles: the `faults` mapping (subscriptions, runs, scenario files, steps) checked and normalised into a
frozen `FaultProfile`, and the command line's `--fault NAME=VALUE` form. The pydantic models in
`simulator.models.faults` do the checking (and describe `faults` in the OpenAPI document).

The mapping is the same everywhere; each fault has a short form and a long form:

| fault             | short           | long                                                         |
|-------------------|-----------------|--------------------------------------------------------------|
| `drop`            | `P`             | `{probability}`                                              |
| `duplicate`       | `P`             | `{probability, copies: 1, spacing: 1s}`                      |
| `reorder`         | `N` (>= 2)      | `{window: N}`                                                |
| `delay`           | a duration      | a distribution, as in a scenario's `wait:` (see below)        |
| `bad_signature`   | `P`             | `{probability}`                                              |
| `stale_timestamp` | `P`             | `{probability, age: 10m}`                                    |
| `malformed`       | `P`             | `{probability, kind: truncated, content_type, empty or any}` |
| `schema_drift`    | `P`             | `{probability, kind: add, remove or any}`                    |
| `burst`           | `N` (>= 2)      | `{size: N}`                                                  |

Delay distributions: `{fixed: 2s}`, `{uniform: [1s, 5s]}`, `{exponential: {mean: 2s, max: 20s}}`,
`{lognormal: {median: 1s, sigma: 0.5, max: 10s}}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from simulator.errors import FieldError, InvalidInput, did_you_mean, quoted
from simulator.models.fault_profile import DEFAULT_STALE_AGE, Duplicate, FaultProfile, Kinded, Stale
from simulator.models.faults import (
    DRIFT_KINDS,
    FAULTS,
    MALFORMED_KINDS,
    MAX_BURST,
    MAX_COPIES,
    MAX_WINDOW,
    parse_faults,
)
from simulator.scenarios import distributions

__all__ = [
    "CLI_FORMS",
    "DEFAULT_STALE_AGE",
    "DRIFT_KINDS",
    "FAULTS",
    "MALFORMED_KINDS",
    "MAX_BURST",
    "MAX_COPIES",
    "MAX_WINDOW",
    "Duplicate",
    "FaultProfile",
    "Kinded",
    "Stale",
    "parse_cli_fault",
    "parse_profile",
    "validate",
]


def parse_profile(faults: Mapping[str, Any] | None, field: str = "faults") -> FaultProfile:
    """The profile `faults` describes. Raises `InvalidInput` with one `FieldError` per problem, each at
    `{field}.{fault}` (or deeper), naming what was expected."""
    return parse_faults(faults, field)


def validate(faults: Mapping[str, Any] | None, field: str = "faults") -> None:
    """Raise `InvalidInput` naming `{field}.{fault}` for anything wrong in a `faults` mapping."""
    parse_profile(faults, field)


def _cli_value(name: str, parts: list[str]) -> Any:
    """The mapping value for `--fault name=a:b:c` (numbers as numbers, durations kept as written)."""
    first, rest = parts[0], parts[1:]
    if name == "delay":
        if first in distributions.KINDS:
            return _cli_delay(first, rest)
        _arity(rest, 0)
        return first
    if name in ("reorder", "burst"):
        _arity(rest, 0)
        return _int(first)
    if name in ("drop", "bad_signature"):
        _arity(rest, 0)
        return _number(first)
    optional = {
        "duplicate": ("copies", "spacing"),
        "stale_timestamp": ("age",),
        "malformed": ("kind",),
        "schema_drift": ("kind",),
    }[name]
    _arity(rest, len(optional))
    if not rest:
        return _number(first)
    out: dict[str, Any] = {"probability": _number(first)}
    for key, text in zip(optional, rest, strict=False):
        out[key] = _int(text) if key == "copies" else text
    return out


def _cli_delay(kind: str, args: list[str]) -> dict[str, Any]:
    if kind == "fixed":
        _arity(args, 1, 1)
        return {"fixed": args[0]}
    if kind == "uniform":
        _arity(args, 2, 2)
        return {"uniform": args}
    if kind == "exponential":
        _arity(args, 2, 1)
        return {"exponential": dict(zip(("mean", "max"), args, strict=False))}
    _arity(args, 3, 2)
    median, sigma, *cap = args
    return {"lognormal": {"median": median, "sigma": _number(sigma), **({"max": cap[0]} if cap else {})}}


def _arity(parts: list[str], most: int, least: int = 0) -> None:
    if not least <= len(parts) <= most:
        raise ValueError(
            f"expected {least}-{most} values after the first"
            if least
            else f"expected at most {most} ':'-separated values after the first"
        )


# Numbers as the control API takes them, in ASCII: float() and int() also read other scripts' digits (`٠.٥` as
# 0.5) and `_` between digits, which a fault's JSON form refuses.
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_WHOLE = re.compile(r"[-+]?[0-9]+")


def _number(text: str) -> float:
    if not _NUMBER.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a number")
    return float(text)


def _int(text: str) -> int:
    if not _WHOLE.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


CLI_FORMS = (
    "drop=P",
    "duplicate=P[:COPIES[:SPACING]]",
    "reorder=N",
    "delay=DURATION",
    "delay=uniform:LO:HI",
    "delay=exponential:MEAN[:MAX]",
    "delay=lognormal:MEDIAN:SIGMA[:MAX]",
    "bad_signature=P",
    "stale_timestamp=P[:AGE]",
    "malformed=P[:KIND]",
    "schema_drift=P[:KIND]",
    "burst=N",
)


def parse_cli_fault(item: str) -> dict[str, Any]:
    """One `--fault` value as a `faults` mapping: `duplicate=0.2` → `{"duplicate": 0.2}`,
    `delay=uniform:1s:5s` → `{"delay": {"uniform": ["1s", "5s"]}}`, `malformed=0.1:truncated` →
    `{"malformed": {"probability": 0.1, "kind": "truncated"}}`; a JSON value (`delay={"fixed": "2s"}`) is
    taken as is. Raises `InvalidInput` naming `--fault` for anything it cannot use."""
    name, sep, text = (s.strip() for s in item.partition("="))
    try:
        if not sep or not name or not text:
            raise ValueError("expected NAME=VALUE")
        if name not in FAULTS:
            raise ValueError(f"unknown fault {quoted(name)}{did_you_mean(name, FAULTS)}")
        value = json.loads(text) if text[:1] in "{[" else _cli_value(name, [p.strip() for p in text.split(":")])
        validate({name: value}, "--fault")
    except InvalidInput as exc:
        message = "; ".join(e.message for e in exc.errors)
        raise _cli_error(item, message) from None
    except ValueError as exc:
        raise _cli_error(item, str(exc)) from None
    return {name: value}


def _cli_error(item: str, message: str) -> InvalidInput:
    error = FieldError("--fault", f"{quoted(item)}: {message}")
    return InvalidInput(f"{error} (forms: {', '.join(CLI_FORMS)})", errors=[error])
