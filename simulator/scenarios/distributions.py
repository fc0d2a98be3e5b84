"""How long a `wait:` step waits: the four distributions, their bounds, and drawing from a seeded Random.

A distribution's fields are seconds, or still a `${param}` template (a `str`) until the run's parameters are
known; `bind` turns the latter into numbers. Every distribution is bounded so a run can never wait forever:
`exponential` and `lognormal` are clamped to their `max` (by default ten times their mean or median).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulator.scenarios.model import substitute
from simulator.timeutil import parse_duration

# A duration in seconds, or a string still holding `${param}` references.
Duration = float | str

KINDS = ("fixed", "uniform", "exponential", "lognormal")
DEFAULT_MAX_FACTOR = 10.0
DURATION_HINT = "expected e.g. 500ms, 2s, 5m, 1h, 1d, a number of seconds, or ${param}"


@dataclass(frozen=True)
class Fixed:
    seconds: Duration


@dataclass(frozen=True)
class Uniform:
    low: Duration
    high: Duration


@dataclass(frozen=True)
class Exponential:
    mean: Duration
    max: Duration | None = None  # None: DEFAULT_MAX_FACTOR × mean


@dataclass(frozen=True)
class Lognormal:
    median: Duration
    sigma: float
    max: Duration | None = None  # None: DEFAULT_MAX_FACTOR × median


Distribution = Fixed | Uniform | Exponential | Lognormal


class DistributionError(ValueError):
    """A distribution that cannot be used; `field` is the path below the `wait:` node, `()` for the node."""

    def __init__(self, field: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def to_seconds(value: Any, params: Mapping[str, Any]) -> float:
    """Seconds in a duration value after `${param}` substitution. Raises ValueError naming what was expected."""
    resolved = substitute(value, params) if isinstance(value, str) else value
    seconds: float | None = None
    if isinstance(resolved, int | float | str) and not isinstance(resolved, bool):
        try:
            seconds = parse_duration(resolved)
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds):
        origin = f", from {value!r}" if resolved != value else ""
        raise ValueError(f"not a duration: {resolved!r}{origin} ({DURATION_HINT})")
    return seconds


def parse(value: Any) -> Distribution:
    """The distribution a `wait:` value describes (already shaped by the JSON Schema), templates unresolved.

    Plain durations are checked here; templated ones are checked by `bind`.
    """
    if not isinstance(value, dict):
        return Fixed(_duration(value, ()))
    kind, arg = next(iter(value.items()))
    if kind == "fixed":
        return Fixed(_duration(arg, ("fixed",)))
    if kind == "uniform":
        return Uniform(_duration(arg[0], ("uniform", 0)), _duration(arg[1], ("uniform", 1)))
    if kind == "exponential":
        cap = arg.get("max")
        return Exponential(
            _duration(arg["mean"], (kind, "mean")), None if cap is None else _duration(cap, (kind, "max"))
        )
    if kind == "lognormal":
        cap = arg.get("max")
        return Lognormal(
            _duration(arg["median"], (kind, "median")),
            float(arg["sigma"]),
            None if cap is None else _duration(cap, (kind, "max")),
        )
    raise DistributionError((), f"unknown distribution {kind!r}; expected one of {', '.join(KINDS)}")


def _duration(value: Any, field: tuple[str | int, ...]) -> Duration:
    if isinstance(value, str) and "${" in value:
        return value
    try:
        return to_seconds(value, {})
    except ValueError as exc:
        raise DistributionError(field, str(exc)) from None


def bind(dist: Distribution, params: Mapping[str, Any]) -> Distribution:
    """`dist` with every template resolved from `params` and its numbers checked.

    Raises DistributionError naming the offending field (relative to the `wait:` node).
    """
    match dist:
        case Fixed(seconds):
            return Fixed(_bound(seconds, params, ()))
        case Uniform(low, high):
            lo, hi = _bound(low, params, ("uniform", 0)), _bound(high, params, ("uniform", 1))
            # Between the two in either order, as Python's random.uniform(a, b): an order no document can
            # state (JSON Schema compares no two values) is not a reason to refuse a well-formed wait.
            return Uniform(min(lo, hi), max(lo, hi))
        case Exponential(mean, cap):
            m = _positive(_bound(mean, params, ("exponential", "mean")), ("exponential", "mean"))
            return Exponential(m, _cap(cap, m, params, ("exponential", "max")))
        case Lognormal(median, sigma, cap):
            m = _positive(_bound(median, params, ("lognormal", "median")), ("lognormal", "median"))
            if not (math.isfinite(sigma) and sigma >= 0):
                raise DistributionError(("lognormal", "sigma"), f"expected a number >= 0, got {sigma!r}")
            return Lognormal(m, sigma, _cap(cap, m, params, ("lognormal", "max")))
    raise TypeError(f"not a distribution: {dist!r}")


def _bound(value: Duration, params: Mapping[str, Any], field: tuple[str | int, ...]) -> float:
    if isinstance(value, float | int):
        return float(value)
    try:
        return to_seconds(value, params)
    except ValueError as exc:
        raise DistributionError(field, str(exc)) from None


def _positive(seconds: float, field: tuple[str | int, ...]) -> float:
    if seconds <= 0:
        raise DistributionError(field, f"expected a duration greater than 0, got {seconds:g}s")
    return seconds


def _cap(cap: Duration | None, centre: float, params: Mapping[str, Any], field: tuple[str | int, ...]) -> float:
    if cap is None:
        return centre * DEFAULT_MAX_FACTOR
    return _positive(_bound(cap, params, field), field)


def bounds(dist: Distribution) -> tuple[float, float]:
    """The smallest and largest value a bound distribution can draw."""
    match dist:
        case Fixed(seconds):
            return float(seconds), float(seconds)
        case Uniform(low, high):
            return float(low), float(high)
        case Exponential(_, cap) | Lognormal(_, _, cap):
            return 0.0, float(cap or 0.0)
    raise TypeError(f"not a distribution: {dist!r}")


def draw(dist: Distribution, rng: random.Random) -> float:
    """One wait, in seconds, from a bound distribution. `fixed` draws nothing from `rng`."""
    match dist:
        case Fixed(seconds):
            return float(seconds)
        case Uniform(low, high):
            return rng.uniform(float(low), float(high))
        case Exponential(mean, cap):
            return min(rng.expovariate(1.0 / float(mean)), float(cap or 0.0))
        case Lognormal(median, sigma, cap):
            return min(_lognormal(rng, math.log(float(median)), sigma), float(cap or 0.0))
    raise TypeError(f"not a distribution: {dist!r}")


def _lognormal(rng: random.Random, mu: float, sigma: float) -> float:
    """`rng.lognormvariate`, infinite where its `exp` overflows (a draw past 1e308 s, with a large `sigma`): the
    caller's `max` caps it, as any draw above it. The normal draw is made first, so `rng` moves on the same."""
    try:
        return rng.lognormvariate(mu, sigma)
    except OverflowError:
        return math.inf


def describe(dist: Distribution) -> str:
    """A short human form, for listings: `3s`, `uniform 2s–6s`, `exponential mean 30s (max 5m)`."""
    match dist:
        case Fixed(seconds):
            return _fmt(seconds)
        case Uniform(low, high):
            return f"uniform {_fmt(low)}-{_fmt(high)}"
        case Exponential(mean, cap):
            return f"exponential mean {_fmt(mean)}" + (f" (max {_fmt(cap)})" if cap is not None else "")
        case Lognormal(median, sigma, cap):
            text = f"lognormal median {_fmt(median)} sigma {sigma:g}"
            return text + (f" (max {_fmt(cap)})" if cap is not None else "")
    raise TypeError(f"not a distribution: {dist!r}")


def _fmt(value: Duration) -> str:
    return value if isinstance(value, str) else f"{value:g}s"
