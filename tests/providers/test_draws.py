"""The builders' cheaper draws give exactly what the standard library's gave for the same state."""

from __future__ import annotations

import random
from dataclasses import fields, replace
from datetime import UTC, datetime
from math import floor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import catalog
from simulator.models import BuildContext, Event
from simulator.providers.basistheory._values import BASE58, base58
from simulator.providers.draws import _indices, uniform_indices, weighted_index

weights = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(lambda w: sum(w) > 0)


@given(weights=weights, seed=st.integers(min_value=0, max_value=2**32), draws=st.integers(min_value=1, max_value=40))
def test_a_weighted_index_is_the_one_choices_draws_from_the_same_state(weights, seed, draws):
    ours, theirs = random.Random(seed), random.Random(seed)
    w = tuple(weights)
    got = [weighted_index(ours, w) for _ in range(draws)]
    assert got == [theirs.choices(range(len(w)), w)[0] for _ in range(draws)]
    assert ours.random() == theirs.random()  # one number drawn per pick, as before


@given(seed=st.integers(min_value=0, max_value=2**32), lengths=st.lists(st.integers(min_value=0, max_value=99)))
def test_base58_text_is_what_choices_draws_from_the_same_state(seed, lengths):
    ours, theirs = random.Random(seed), random.Random(seed)
    assert [base58(ours, n) for n in lengths] == ["".join(theirs.choices(BASE58, k=n)) for n in lengths]
    assert ours.random() == theirs.random()


def test_a_numbered_event_and_a_moved_context_keep_every_other_field():
    event = Event(
        id="e", provider="p", type="t", occurred_at=datetime(2025, 1, 1, tzinfo=UTC), data={"a": 1}, json="{}",
        envelope_id="env", seq=1, run_id="old",
    )  # fmt: skip
    numbered = event.numbered(7, "run_x")
    assert numbered == replace(event, seq=7, run_id="run_x") and numbered is not event
    assert (event.seq, event.run_id) == (1, "old")
    ctx = BuildContext(world=object(), rng=random.Random(1), names=None, now=event.occurred_at, params={"p": 1})
    moved = ctx.at(datetime(2026, 1, 1, tzinfo=UTC), "step")
    assert moved == replace(ctx, now=datetime(2026, 1, 1, tzinfo=UTC), ref="step")
    assert all(getattr(moved, f.name) is getattr(ctx, f.name) for f in fields(ctx) if f.name not in ("now", "ref"))
    assert ctx.ref is None


def test_a_finished_event_is_the_record_its_class_makes():
    for etype in catalog.event_types():
        event = catalog.build_event(etype, catalog.new_context(3, catalog.SAMPLE_TIME))
        made = Event(**{f.name: getattr(event, f.name) for f in fields(Event)})
        assert event == made and list(vars(event)) == list(vars(made)) and type(event) is Event
        assert event.numbered(4, "run_x") == replace(made, seq=4, run_id="run_x")


def _words(ms: list[int]) -> int:
    """The generator's words that make `random()` return each `m / 2**53` of `ms` in turn, as getrandbits gives them."""
    return sum((((m >> 26) << 5) | ((m & (2**26 - 1)) << 6 << 32)) << (64 * i) for i, m in enumerate(ms))


@pytest.mark.parametrize("n", [58, 26, 10, 3, 255, 256])
def test_indices_just_below_a_step_are_the_float_ones(n):
    # Where `m / 2**53 * n` rounds up to the next integer as a float, the index is the float's, as choices' is.
    ms = [max(0, -(-j * 2**53 // n) - d) for j in range(1, n) for d in range(0, 12)] + [0, 2**53 - 1]
    for start in range(0, len(ms), 40):
        chunk = ms[start : start + 40]
        expected = bytes(floor(m * 2.0**-53 * n) for m in chunk)
        assert _indices(_words(chunk), n, len(chunk)) == expected


@given(
    seed=st.integers(min_value=0, max_value=2**32),
    n=st.integers(min_value=1, max_value=256),
    lengths=st.lists(st.integers(min_value=0, max_value=70), max_size=5),
)
def test_uniform_indices_are_what_choices_draws_from_the_same_state(seed, n, lengths):
    ours, theirs = random.Random(seed), random.Random(seed)
    assert [uniform_indices(ours, n, k) for k in lengths] == [bytes(theirs.choices(range(n), k=k)) for k in lengths]
    assert ours.random() == theirs.random()
