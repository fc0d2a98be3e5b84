"""A run looks ahead along its plan so that what begins something learns when a later step ends it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from simulator.errors import InvalidInput
from simulator.scenarios import load_text, play
from simulator.scenarios.lookahead import WINDOW, Ends, with_ends
from simulator.scenarios.model import Emit
from simulator.scenarios.runner import Planned

T0 = datetime(2025, 1, 1, tzinfo=UTC)
ENDS = {"token.created": ("token.expired",)}


def plan(*steps: tuple[str, str | None]) -> list[Planned]:
    """A run's plan as the runner makes it: an emit an hour, each of a type and a step name (`as:`)."""
    return [Planned(T0 + timedelta(hours=i), Emit(kind, ref=ref), {}) for i, (kind, ref) in enumerate(steps)]


def ends_of(items: list[Planned], ends: Ends = ENDS) -> list[datetime | None]:
    out = list(with_ends(items, ends))
    assert [item for item, _ in out] == items  # every item, in order
    return [end.at if end is not None else None for _, end in out]


def test_a_beginning_learns_the_time_of_its_end_of_the_same_name() -> None:
    items = plan(("token.created", "a"), ("token.created", "b"), ("token.read", "a"), ("token.expired", "a"))
    assert ends_of(items) == [items[3].at, None, None, None]


def test_a_beginning_that_several_types_end_learns_which_one_does() -> None:
    outcomes: Ends = {"documents.completed": ("documents.success", "documents.failed")}
    items = plan(
        ("documents.completed", None),
        ("credentials.refreshed", None),
        ("documents.failed", None),
        ("documents.completed", None),
        ("documents.success", None),
    )
    ended = [end for _, end in with_ends(items, outcomes)]
    assert ended == [items[2], None, None, items[4], None]


def test_a_new_beginning_of_the_same_name_takes_the_end_for_itself() -> None:
    items = plan(("token.created", None), ("token.created", None), ("token.expired", None))
    assert ends_of(items) == [None, items[2].at, None]


def test_an_end_past_the_window_is_not_seen() -> None:
    items = plan(("token.created", "a"), *[("token.read", "a")] * WINDOW, ("token.expired", "a"))
    assert ends_of(items)[0] is None
    near = plan(("token.created", "a"), *[("token.read", "a")] * (WINDOW - 1), ("token.expired", "a"))
    assert ends_of(near)[0] == near[-1].at


async def test_a_cvc_expiring_on_a_token_that_is_no_card_is_refused_naming_the_step() -> None:
    scenario = load_text(
        "name: no-card\nprovider: basistheory\nparams:\n  token_type: {default: bank}\nsteps:\n"
        "  - emit: token.created\n    as: t\n  - emit: token.property.expired\n    as: t\n"
    )

    async def emit(event: object, step: object) -> None:
        pass

    with pytest.raises(InvalidInput) as caught:
        await play(scenario, seed=1, params={}, start_time=T0, speed=0, emit=emit)
    assert [e.field for e in caught.value.errors] == ["as"] and "bank" in str(caught.value)


def test_a_plan_that_fails_further_on_gives_what_came_before_it_first() -> None:
    items = plan(("token.created", "a"), ("token.read", "a"))

    def failing() -> Iterator[Planned]:
        yield from items
        raise OverflowError("date value out of range")

    got: list[Planned] = []
    with pytest.raises(OverflowError):
        for item, _ in with_ends(failing(), ENDS):
            got.append(item)
    assert got == items
