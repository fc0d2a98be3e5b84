"""Checks of a scenario that need more than its shape: its `faults:` blocks, the `with:` overrides of its steps
(an `unchecked` one must still leave an event the simulator can build), how far its timeline can reach, and
how many steps it can play between two events. None plans the timeline: each works from the steps alone.

Each problem is a (path, message) pair, the path into the document (`steps[1].faults.drop`), for the loader to
give its line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from simulator import catalog
from simulator.errors import InvalidInput
from simulator.providers.base import EventType
from simulator.scenarios import distributions
from simulator.scenarios.model import (
    Choose,
    Emit,
    FieldPath,
    Parallel,
    Repeat,
    Step,
    Wait,
    inner_steps,
    substitute,
    walk_paths,
)

Problem = tuple[FieldPath, str]
# The simulated seconds any timeline can span: from the first instant a time holds to the last (the end of the
# year 9999). A longer one cannot be played to its end from any start time.
_ROOM = (datetime.max - datetime.min).total_seconds()


def fault_problems(faults: Any, path: FieldPath) -> list[Problem]:
    """Each problem of a `faults:` mapping, at `path` + the fault's own path (`faults.duplicate.copies`), in the
    words of the fault validator every other `faults` goes through. A non-mapping is the JSON Schema's to report."""
    # Imported here: `simulator.models.faults` reads delays with this package's distributions.
    from simulator.models.faults import FaultsSpec

    if not isinstance(faults, Mapping):
        return []
    try:
        FaultsSpec.model_validate(faults)
    except ValidationError as exc:
        return [((*path, *error["loc"]), error["msg"]) for error in exc.errors(include_url=False)]
    return []


def override_problems(steps: tuple[Step | None, ...], params: Mapping[str, Any], provider: str) -> list[Problem]:
    """Each `with:` override (its templates filled from `params`) the event's JSON Schema refuses, at its path
    in the document (`steps[1].with["payload.is_exec"]`). A step marked `unchecked` may leave the schema, but not
    break the event itself (`header: 5` where the simulator reads the event's id from `header.event`)."""
    problems: list[Problem] = []
    tried: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for path, step in walk_paths(steps):
        if not isinstance(step, Emit) or not step.overrides:
            continue
        try:
            overrides = substitute(dict(step.overrides), params)
        except KeyError:
            continue  # an undeclared `${param}`: reported where references are checked
        etype = catalog.resolve(step.type, provider)
        if step.unchecked:
            key = (step.type, repr(overrides))  # a repeated step is built once
            found = tried[key] if key in tried else tried.setdefault(key, _unbuildable(etype, overrides))
        else:
            found = catalog.override_problems(etype, overrides)
        problems += [((*path, "with", p), message) for p, message in found]
    return problems


def _unbuildable(etype: EventType, overrides: dict[str, Any]) -> list[tuple[str, str]]:
    """The unchecked overrides with which no `etype` event can be built, each tried alone (for its path) once
    the whole set fails. A trial build in a context of its own: the run's world is the run's."""
    if _builds(etype, overrides) is None:
        return []
    found = []
    for path, value in overrides.items():
        failure = _builds(etype, {path: value})
        if failure is not None:
            found.append((str(path), f"a {etype.name} cannot be built with this value ({failure}): {_WHY}"))
    if not found:  # only together: named at the first of them
        failure, path = _builds(etype, overrides), str(next(iter(overrides)))
        found.append((path, f"a {etype.name} cannot be built with these values ({failure}): {_WHY}"))
    return found


_WHY = "unchecked lets a value leave the event's schema, not take away what the event is made of"


def _builds(etype: EventType, overrides: dict[str, Any]) -> str | None:
    """None when an `etype` event builds with `overrides`, else what went wrong."""
    try:
        event = catalog.build_event(etype, catalog.new_context(0, catalog.SAMPLE_TIME), dict(overrides), checked=False)
    except InvalidInput as exc:
        return exc.detail
    except Exception as exc:  # a trial: whatever a builder trips on is the answer, never raised
        return f"{type(exc).__name__}: {exc}"
    # The event's id (Syncfy's header.event.eid, Basis Theory's id) is how the run stores and delivers it.
    return None if isinstance(event.id, str) else f"its id would be {event.id!r}, not a string"


# --- how far a timeline can reach, and how much it plays between two events -----------------------------------

# A timeline is planned where its events are sent, one emit at a time: the steps between two emits are planned
# without a pause. A repeat of steps that emit nothing is at most this many of them (well under a second).
MAX_SILENT = 100_000


def silent_problems(steps: tuple[Step, ...], path: FieldPath = ("steps",)) -> list[Problem]:
    """Each repeat of bound `steps` whose own steps emit nothing and would play more than MAX_SILENT of them (a
    `for` repeat counted by its shortest pass): the run, and `scenarios NAME`, would stall on it. What the steps
    cannot show (an emit behind a branch almost never picked) is stopped as it is played (`guard`)."""
    problems: list[Problem] = []
    for i, step in enumerate(steps):
        here = (*path, i)
        if isinstance(step, Repeat) and not _can_emit(step.steps):
            if _work(step) > MAX_SILENT:
                problems.append(((*here, "repeat"), _SILENT))
            continue
        for inner_path, inner in inner_steps(step, here):
            problems += silent_problems(inner, inner_path)
    return problems


def _can_emit(steps: tuple[Step, ...]) -> bool:
    """Whether bound `steps` can emit: an emit inside `repeat: 0` (written so, or a parameter's 0) never does."""
    for step in steps:
        if isinstance(step, Emit):
            return True
        if isinstance(step, Repeat) and step.count == 0:
            continue
        if any(_can_emit(inner) for _, inner in inner_steps(step, ())):
            return True
    return False


_SILENT = (
    f"these steps emit nothing, and would be planned more than {MAX_SILENT} at a time (between two events): "
    "expected an emit among them, or one longer wait"
)


def _work(step: Step) -> float:
    """How many steps `step` plays at most: a `for` repeat passes once more than `for` holds its shortest pass."""
    if isinstance(step, Repeat):
        body = sum((_work(s) for s in step.steps), 0.0)
        if step.for_seconds is None:
            return 1 + float(min(int(step.count or 0), 10**300)) * body
        shortest = _shortest(step.steps)
        return 1 + (float(step.for_seconds) / shortest + 1 if shortest > 0 else float("inf")) * body
    # A choose plays one branch, a parallel every one.
    spans = [sum((_work(s) for s in steps), 0.0) for _, steps in inner_steps(step, ())]
    return 1 + (sum(spans, 0.0) if isinstance(step, Parallel) else max(spans, default=0.0))


def _shortest(steps: tuple[Step, ...]) -> float:
    """The fewest simulated seconds bound `steps` can take."""
    total = 0.0
    for step in steps:
        if isinstance(step, Wait):
            total += distributions.bounds(step.distribution)[0]
        elif isinstance(step, Repeat):  # a `for` repeat passes at least once
            passes = 1 if step.for_seconds is not None else min(int(step.count or 0), 10**300)
            total += _shortest(step.steps) * float(passes)  # capped as `_work` caps: past a float, an OverflowError
        elif isinstance(step, Choose | Parallel):
            spans = [_shortest(steps) for _, steps in inner_steps(step, ())]
            total += min(spans) if isinstance(step, Choose) else max(spans)
    return total


def longest(steps: tuple[Step, ...]) -> float:
    """The most simulated seconds bound `steps` can take: every wait at its upper bound, every repeat at its
    count (or its `for` plus one more pass), the longest branch of a choose or parallel. No timeline is built."""
    return sum((_longest(step) for step in steps), 0.0)


def _longest(step: Step) -> float:
    if isinstance(step, Wait):
        return distributions.bounds(step.distribution)[1]
    if isinstance(step, Repeat):
        body = longest(step.steps)
        if step.for_seconds is not None:  # an iteration starts before `for` has passed and runs to its end
            return float(step.for_seconds) + body
        count = int(step.count or 0)
        # A float holds counts up to 1e308; past 1e300 the product is far beyond any timeline anyway.
        return 0.0 if count == 0 or body == 0 else float(min(count, 10**300)) * body
    if isinstance(step, Choose):
        return max(longest(branch.steps) for branch in step.branches)
    if isinstance(step, Parallel):
        return max(longest(branch) for branch in step.branches)
    return 0.0


def too_long(steps: tuple[Step, ...]) -> Problem | None:
    """Where bound `steps` can last longer than any time holds (from the year 1 to the end of 9999), if they
    can: the innermost step at which their longest timeline passes that. Such a run fails on the way from any
    start time; one that merely passes the year 9999 from its own start fails when it gets there, saying so."""
    found = _crossing(steps, ("steps",), 0.0, _ROOM)
    message = (
        "at its longest (every wait at its upper bound, every repeat in full) the timeline here runs past the year "
        "9999 from any start time (a time holds the years 1 to 9999): expected shorter waits or fewer repeats"
    )
    return None if found is None else (found, message)


def _crossing(steps: tuple[Step, ...], path: FieldPath, t: float, room: float) -> FieldPath | None:
    for i, step in enumerate(steps):
        span = _longest(step)
        if not t + span <= room:
            return _inside(step, (*path, i), t, room)
        t += span
    return None


def _inside(step: Step, here: FieldPath, t: float, room: float) -> FieldPath:
    """The step within `step` (at `here`, starting at offset `t`) at which the timeline passes `room`."""
    for path, steps in inner_steps(step, here):
        found = _crossing(steps, path, t, room)
        if found is not None:
            return found
    kind = {Wait: "wait", Repeat: "repeat"}.get(type(step))
    return (*here, kind) if kind else here
