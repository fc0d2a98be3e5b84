"""When a later step of a run ends what an earlier one began: a token's `token.expired` for its `token.created`, a
documents job's `documents.success` or `documents.failed` for its `documents.completed`.

A token's `expires_at` is in its token.created, but the scenario's timeline decides when its token.expired comes.
Both are planned before either is built, so the run looks ahead along its plan: the builder of the beginning
learns the time of the end (`BuildContext.ends`) and writes that as the token's `expires_at`. The end's type goes
with the beginning's event (`Event.ends_with`): a documents job has finished, with or without errors, when it
reports `documents.completed`, so the twin shows its documents as they ended from then on, before the outcome is
announced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

# How far ahead a beginning looks for its end, in planned emits: a story's own steps, not a long run's repeats.
WINDOW = 1024


class _Planned(Protocol):
    @property
    def at(self) -> datetime: ...

    @property
    def step(self) -> Any: ...


P = TypeVar("P", bound=_Planned)


# What ends a beginning: any of these types (one for a token's expiry, several for the outcomes a job announces).
Ends = Mapping[str, tuple[str, ...]]


def with_ends(planned: Iterable[P], ends: Ends) -> Iterator[tuple[P, P | None]]:
    """Each planned emit with the later emit that ends what it begins, or None.

    The end is the first later emit of a type in `ends[type]` with the same step name (`as:`), unless another emit
    of the beginning's type with that name comes first (a new beginning: the end is its own). A plan names each
    type as the catalog does (the loader resolves a prefix or an alias). Without `ends` nothing is held back.
    """
    if not ends:
        for each in planned:
            yield each, None
        return
    ahead: deque[P] = deque()
    plan = iter(planned)
    while True:
        try:
            item: P | None = next(plan, None)
        except Exception:
            # A plan that fails further on (a wait past the year 9999) has what came before it built first.
            yield from _drain(ahead, ends)
            raise
        if item is None:
            break
        ahead.append(item)
        if len(ahead) > WINDOW:
            first = ahead.popleft()
            yield first, _end(first, ahead, ends)
    yield from _drain(ahead, ends)


def _drain(ahead: deque[P], ends: Ends) -> Iterator[tuple[P, P | None]]:
    while ahead:
        first = ahead.popleft()
        yield first, _end(first, ahead, ends)


def _end(item: P, ahead: Iterable[P], ends: Ends) -> P | None:
    kind, ref = item.step.type, item.step.ref
    end = ends.get(kind)
    if end is None:
        return None
    for later in ahead:
        if later.step.ref == ref:
            if later.step.type in end:
                return later
            if later.step.type == kind:
                return None
    return None
