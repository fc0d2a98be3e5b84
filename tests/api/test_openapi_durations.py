"""The patterns that state how long a scenario's duration parameter may be (`simulator.api.openapi_durations`)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.api.openapi_durations import UNITS, integers, pattern
from simulator.timeutil import parse_duration

DRAWS = settings(max_examples=400, deadline=None, database=None)


@DRAWS
@given(st.integers(0, 10**15), st.integers(0, 10**16), st.booleans())
def test_the_whole_numbers_of_a_range_and_no_other(most: int, number: int, from_one: bool) -> None:
    for n in (number, most, most + 1, max(most - 1, 0), number % (most + 2)):
        matched = re.fullmatch(integers(most, from_one=from_one), str(n)) is not None
        assert matched == ((1 if from_one else 0) <= n <= most), (most, n, from_one)


@DRAWS
@given(st.integers(1, 10**18), st.booleans(), st.data())
def test_every_duration_a_bounded_pattern_allows_is_within_its_bound(
    most_ms: int, positive: bool, data: st.DataObject
) -> None:
    written = data.draw(st.from_regex(pattern(most_ms, positive=positive), fullmatch=True))
    seconds = parse_duration(written)
    assert seconds * 1000 <= most_ms * (1 + 1e-12), (most_ms, written)
    assert seconds > 0 or not positive, written


@DRAWS
@given(st.integers(2, 10**14), st.sampled_from(sorted(UNITS)), st.booleans())
def test_a_bounded_pattern_takes_a_whole_number_of_each_unit_below_the_bound(
    most_ms: int, unit: str, positive: bool
) -> None:
    whole = most_ms // UNITS[unit] - 1  # the largest whole number of the unit the pattern promises
    if whole >= 1:
        assert re.fullmatch(pattern(most_ms, positive=positive), f"{whole}{unit}"), (most_ms, unit)
