"""Draws from a run's `Random` that are exactly `random.Random.choices`' for the same state, for less.

`rng.choices(values, weights)[0]` sums the weights again on every call (2.5 µs); the same draw from sums made once
per weights tuple costs 0.3 µs, and a weighted pick is made about once per event. The draw is the one `choices`
makes (CPython 3.11 to 3.13): one `random()`, scaled by the total as a float, placed by `bisect` among the running
sums, so a seed gives the same values as before (`tests/scenarios/test_seed_stability.py`).
"""

from __future__ import annotations

import random
from bisect import bisect
from functools import lru_cache
from itertools import accumulate


@lru_cache(maxsize=256)
def _sums(weights: tuple[float, ...]) -> tuple[list[float], float]:
    sums = list(accumulate(weights))
    total = sums[-1] + 0.0
    if not 0.0 < total < float("inf"):
        raise ValueError(f"weights must add up to a finite number above zero, not {total!r}")
    return sums, total


def weighted_index(rng: random.Random, weights: tuple[float, ...]) -> int:
    """The index `rng.choices(range(len(weights)), weights)[0]` would give, drawing the same one number."""
    sums, total = _sums(weights)
    return bisect(sums, rng.random() * total, 0, len(weights) - 1)
