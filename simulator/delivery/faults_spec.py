"""Fault profiles: the `faults` mapping (subscriptions, runs, scenario files, steps) checked and normalised into a
frozen `FaultProfile`, and the command line's `--fault NAME=VALUE` form.

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

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.errors import FieldError, InvalidInput
from simulator.scenarios import distributions
from simulator.scenarios.distributions import Distribution

FAULTS: tuple[str, ...] = (
    "drop",
    "duplicate",
    "reorder",
    "delay",
    "bad_signature",
    "stale_timestamp",
    "malformed",
    "schema_drift",
    "burst",
)
MALFORMED_KINDS: tuple[str, ...] = ("truncated", "content_type", "empty")
DRIFT_KINDS: tuple[str, ...] = ("add", "remove")
DEFAULT_STALE_AGE = 600.0  # 10 minutes: well outside the usual 5-minute tolerance
MAX_COPIES = 10
MAX_WINDOW = 1000
MAX_BURST = 10000


@dataclass(frozen=True)
class Duplicate:
    probability: float
    copies: int = 1
    spacing: float = 1.0  # simulated seconds between copies


@dataclass(frozen=True)
class Stale:
    probability: float
    age: float = DEFAULT_STALE_AGE


@dataclass(frozen=True)
class Kinded:
    """A probability and the kinds of damage to choose from (one kind, or all of them for `any`)."""

    probability: float
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class FaultProfile:
    """The faults to inject into one subscription's deliveries; zero or None means off."""

    drop: float = 0.0
    duplicate: Duplicate | None = None
    reorder: int = 0
    delay: Distribution | None = None
    bad_signature: float = 0.0
    stale_timestamp: Stale | None = None
    malformed: Kinded | None = None
    schema_drift: Kinded | None = None
    burst: int = 0


class _Bad(ValueError):
    """One problem below a fault's name: `where` is the path under it (`""` for the fault itself)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


# --- values ----------------------------------------------------------------------------------------------------


def _probability(value: Any, where: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _Bad(where, f"expected a probability between 0 and 1, got {value!r}")
    return float(value)


def _count(value: Any, low: int, high: int, what: str, where: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Bad(where, f"expected {what}: a whole number from {low} to {high}, got {value!r}")
    return value


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, str) and "${" in value:
        raise _Bad(where, f"{value!r}: ${{param}} templates are not accepted in faults")
    try:
        return distributions.to_seconds(value, {})
    except ValueError as exc:
        raise _Bad(where, str(exc)) from None


def _long_form(value: Any, keys: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    """`value` as a mapping with only `keys` and every one of `required`."""
    unknown = [k for k in value if k not in keys]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), keys, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise _Bad(str(unknown[0]), f"unknown key {unknown[0]!r}{hint}: expected {', '.join(keys)}")
    for key in required:
        if key not in value:
            raise _Bad(key, f"missing {key!r}")
    return dict(value)


# --- one parser per fault --------------------------------------------------------------------------------------


def _chance(value: Any) -> float:
    if isinstance(value, Mapping):
        return _probability(_long_form(value, ("probability",), ("probability",))["probability"], "probability")
    return _probability(value)


def _duplicate(value: Any) -> Duplicate:
    if not isinstance(value, Mapping):
        return Duplicate(_probability(value))
    v = _long_form(value, ("probability", "copies", "spacing"), ("probability",))
    return Duplicate(
        _probability(v["probability"], "probability"),
        _count(v.get("copies", 1), 1, MAX_COPIES, "a number of copies", "copies"),
        _seconds(v.get("spacing", 1.0), "spacing"),
    )


def _window(key: str, what: str, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, Mapping):
            return _count(_long_form(value, (key,), (key,))[key], 2, high, what, key)
        return _count(value, 2, high, what)

    return parse


def _stale(value: Any) -> Stale:
    if not isinstance(value, Mapping):
        return Stale(_probability(value))
    v = _long_form(value, ("probability", "age"), ("probability",))
    age = _seconds(v.get("age", DEFAULT_STALE_AGE), "age")
    if age <= 0:
        raise _Bad("age", "expected an age greater than 0")
    return Stale(_probability(v["probability"], "probability"), age)


def _kinded(kinds: tuple[str, ...]) -> Callable[[Any], Kinded]:
    def parse(value: Any) -> Kinded:
        if not isinstance(value, Mapping):
            return Kinded(_probability(value), kinds)
        v = _long_form(value, ("probability", "kind"), ("probability",))
        kind = v.get("kind", "any")
        if kind != "any" and kind not in kinds:
            raise _Bad("kind", f"expected one of {', '.join((*kinds, 'any'))}, got {kind!r}")
        return Kinded(_probability(v["probability"], "probability"), kinds if kind == "any" else (kind,))

    return parse


def _delay(value: Any) -> Distribution:
    if isinstance(value, Mapping):
        _delay_shape(value)
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad("", f"expected a duration or a distribution, got {value!r}")
    if "${" in json.dumps(value, default=str):
        raise _Bad("", "${param} templates are not accepted in faults")
    try:
        return distributions.bind(distributions.parse(dict(value) if isinstance(value, Mapping) else value), {})
    except distributions.DistributionError as exc:
        raise _Bad(".".join(map(str, exc.field)), exc.message) from None


def _delay_shape(value: Mapping[str, Any]) -> None:
    """What the scenario schema checks for a `wait:`, checked here for faults that arrive from anywhere."""
    if len(value) != 1 or next(iter(value)) not in distributions.KINDS:
        raise _Bad("", f"expected exactly one of {', '.join(distributions.KINDS)}, got {sorted(value)}")
    kind, arg = next(iter(value.items()))
    if kind == "uniform" and not (isinstance(arg, list | tuple) and len(arg) == 2):
        raise _Bad(kind, "expected two durations [low, high]")
    if kind == "exponential":
        _long_form(_mapping(arg, kind), ("mean", "max"), ("mean",))
    if kind == "lognormal":
        sigma = _long_form(_mapping(arg, kind), ("median", "sigma", "max"), ("median", "sigma"))["sigma"]
        if isinstance(sigma, bool) or not isinstance(sigma, int | float):
            raise _Bad(f"{kind}.sigma", f"expected a number >= 0, got {sigma!r}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Bad(where, f"expected a mapping, got {value!r}")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "drop": _chance,
    "duplicate": _duplicate,
    "reorder": _window("window", "a window of events", MAX_WINDOW),
    "delay": _delay,
    "bad_signature": _chance,
    "stale_timestamp": _stale,
    "malformed": _kinded(MALFORMED_KINDS),
    "schema_drift": _kinded(DRIFT_KINDS),
    "burst": _window("size", "a burst size", MAX_BURST),
}


# --- entry points ----------------------------------------------------------------------------------------------


def parse_profile(faults: Mapping[str, Any] | None, field: str = "faults") -> FaultProfile:
    """The profile `faults` describes. Raises `InvalidInput` with one `FieldError` per problem, each at
    `{field}.{fault}` (or deeper), naming what was expected."""
    if faults is None:
        return FaultProfile()
    if not isinstance(faults, Mapping):
        raise InvalidInput(
            f"{field}: expected a mapping of fault names to settings",
            errors=[FieldError(field, "expected a mapping of fault names to settings")],
        )
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in faults.items():
        parser = _PARSERS.get(name)
        if parser is None:
            close = difflib.get_close_matches(str(name), FAULTS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            errors.append(
                FieldError(f"{field}.{name}", f"unknown fault {name!r}{hint}: expected one of {', '.join(FAULTS)}")
            )
            continue
        try:
            values[name] = parser(value)
        except _Bad as bad:
            errors.append(FieldError(f"{field}.{name}" + (f".{bad.where}" if bad.where else ""), bad.message))
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidInput(f"invalid faults: {errors[0]}{more}", errors=errors)
    return FaultProfile(**values)


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


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


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
            close = difflib.get_close_matches(name, FAULTS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"unknown fault {name!r}{hint}")
        value = json.loads(text) if text[:1] in "{[" else _cli_value(name, [p.strip() for p in text.split(":")])
        validate({name: value}, "--fault")
    except InvalidInput as exc:
        message = "; ".join(e.message for e in exc.errors)
        raise _cli_error(item, message) from None
    except ValueError as exc:
        raise _cli_error(item, str(exc)) from None
    return {name: value}


def _cli_error(item: str, message: str) -> InvalidInput:
    error = FieldError("--fault", f"{item!r}: {message}")
    return InvalidInput(f"{error} (forms: {', '.join(CLI_FORMS)})", errors=[error])
