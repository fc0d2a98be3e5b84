"""The longest a scenario's duration parameter may be before the server refuses it, and the pattern that states it.

A duration parameter (`wait: "${gap}"`, `repeat: {for: "${duration}"}`) too long makes a timeline that could pass
the year 9999, which the server refuses (422 naming the step). As for a repeat count (`openapi_catalog`), the
bound is found with the other parameters at their defaults, by asking the server's own check. A duration is text
with a unit, so the bound is stated as a pattern: in each unit, a whole part below the largest whole number of
that unit that fits, with any fraction. That leaves out a few spellings just under the bound (its last part of a
unit), never one past it.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.scenarios import runner
from simulator.scenarios.model import Scenario

# Milliseconds in each unit a duration is written in (`simulator.timeutil.parse_duration`); no unit is seconds.
UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "": 1000}
DIGITS = 15  # the whole part's most digits (leading zeros included), as the unbounded pattern allows
_FRACTION = r"(?:\.[0-9]{1,9})?"


def maximum_ms(scenario: Scenario, name: str) -> int | None:
    """The longest duration, in whole milliseconds, parameter `name` may be (the others at their defaults) before
    the server refuses it. None where any fits, or where not even the shortest does (a file the loader reports)."""

    def fits(ms: int) -> bool:
        values = {n: p.default for n, p in scenario.params.items()} | {name: f"{ms}ms"}
        return not runner.bind_problems(scenario.steps, values)

    top = 10**DIGITS - 1
    if fits(0):
        low = 0
    elif fits(1):  # a positive duration
        low = 1
    else:
        return None
    return None if fits(top) else largest_that_fits(fits, low, 1000, top)


def largest_that_fits(fits: Callable[[int], bool], low: int, high: int, top: int | None = None) -> int:
    """The largest whole number from `low` (which fits) that `fits`, which holds up to some number and never past
    it, at `top` at the latest: doubling from `high` to the first that does not fit, then halving the gap. A
    duration's bound here, and a repeat count's (`openapi_catalog.count_maximum`)."""
    while fits(high):
        low, high = high, high * 2 if top is None else min(high * 2, top)
    while high - low > 1:  # the largest that fits lies in [low, high)
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def pattern(most_ms: int, *, positive: bool) -> str:
    """Durations of at most `most_ms` milliseconds, as `_DURATION` (or, `positive`, `_POSITIVE_DURATION`) of
    `openapi_catalog` writes them: a whole part below the bound in each unit, with any fraction."""
    branches = []
    for unit, size in UNITS.items():
        below = most_ms // size  # whole parts 0 … below-1 with any fraction are under below units ≤ the bound
        if below < 1:
            continue
        most = min(below - 1, 10**DIGITS - 1)
        if most >= 1 or not positive:
            room = DIGITS - len(str(most))  # leading zeros the whole part may have
            zeros = f"0{{0,{room}}}" if room else ""
            branches.append(f"{zeros}{integers(most, from_one=positive)}{_FRACTION}{unit}")
        if positive:  # under one unit: a zero whole part and a fraction that is not all zeros
            branches.append(f"0{{1,{DIGITS}}}\\.[0-9]{{0,8}}[1-9][0-9]{{0,8}}{unit}")
    return f"^(?:{'|'.join(branches)})$" if branches else "^(?!)$"


def integers(most: int, *, from_one: bool = False) -> str:
    """A regular expression of the whole numbers 0 (or 1, `from_one`) to `most`, written without leading zeros."""
    top = str(most)
    shorter = ["[1-9]" if from_one else "[0-9]"] if len(top) > 1 else []
    shorter += [f"[1-9][0-9]{{{n - 1}}}" for n in range(2, len(top))]
    same = []
    for i, digit in enumerate(top):  # numbers of top's length that first fall below it at digit i
        floor = 1 if i == 0 and len(top) > 1 else (1 if from_one and len(top) == 1 else 0)
        if int(digit) > floor:
            rest = len(top) - i - 1
            same.append(f"{top[:i]}[{floor}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    if most >= (1 if from_one else 0):
        same.append(top)
    return f"(?:{'|'.join(shorter + same)})"
