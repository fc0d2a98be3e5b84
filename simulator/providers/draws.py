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
from math import floor


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


def uniform_indices(rng: random.Random, n: int, k: int) -> bytes:
    """The indices `rng.choices(range(n), k=k)` would give (`n` up to 256), as bytes, drawing the same numbers.

    `choices` without weights takes `floor(random() * n)` for each, `n` as a float, and `random()` is
    `m / 2**53` for a 53-bit `m` made of two 32-bit words of the generator: `m = (w1 >> 5) * 2**26 + (w2 >> 6)`.
    `getrandbits(64 * k)` draws the same `2 * k` words, in order, in one call (the lowest 64 bits are the first
    pair), and the indices come out of it with a few operations on that one integer rather than `k` calls: each
    pair's `m` in a field of 64 bits, times `8 * n`, leaves `floor(m * n / 2**53)` in the field's top byte. That
    is `floor(random() * n)` unless the product's rounding to a float carries it up to the next integer, which
    can happen only within 2**-46 below one: where a field's bits fall so close (bytes 2 to 6 all 0xff), the
    indices are made the float way, from the same `m`s. A Basis Theory fingerprint's 44 characters cost 2.7 µs
    this way, against 5.3 through `choices`.
    """
    if type(rng) is not random.Random or not 0 < n <= 256:  # another `random()` than the generator's own
        draw, scale = rng.random, n + 0.0
        return bytes([floor(draw() * scale) for _ in range(k)])
    return _indices(rng.getrandbits(64 * k), n, k) if k > 0 else b""


def _indices(words: int, n: int, k: int) -> bytes:
    """`uniform_indices` of `k` pairs of words, the first pair lowest in `words`."""
    high, low = _fields(k)
    m = (((words >> 5) & high) << 26) | ((words >> 38) & low)
    scaled = (m * (8 * n)).to_bytes(8 * k, "little")
    if 255 in scaled[6::8] and b"\xff\xff\xff\xff\xff" in scaled:  # the first test is cheaper, the second rarer
        scale = n + 0.0
        return bytes([floor((m >> (64 * i) & _M53) * _PER_M * scale) for i in range(k)])
    return scaled[7::8]


_M53 = (1 << 53) - 1
_PER_M = 1.0 / 9007199254740992.0  # 2**-53, as `random()` multiplies by it


@lru_cache(maxsize=64)
def _fields(k: int) -> tuple[int, int]:
    """Masks of the low 27 and the low 26 bits of each of `k` 64-bit fields."""
    return int.from_bytes(b"\xff\xff\xff\x07\0\0\0\0" * k, "little"), int.from_bytes(
        b"\xff\xff\xff\x03\0\0\0\0" * k, "little"
    )
