"""The scenario interpreter: parameters, the simulated timeline of emits, and playing it in (scaled) real time.

Pure: no HTTP, no storage. `timeline` says which event is emitted when; `play` builds the events in that order
with one BuildContext for the whole run and hands each to a callback at its (scaled) wall-clock deadline.

Two random streams keep a run reproducible and its bodies stable: the events' builders use the run's context
(`catalog.new_context(seed, …)`), and the timeline's waits and choices use a separate `Random` derived from the
seed, so inserting a `wait` never changes the bodies of the events.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from contextlib import aclosing, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from simulator import catalog
from simulator.errors import FieldError, InvalidInput
from simulator.models import BuildContext, Event
from simulator.providers.base import EventType
from simulator.scenarios import checks, distributions, lookahead, offload
from simulator.scenarios.checks import override_problems
from simulator.scenarios.coercion import coerce
from simulator.scenarios.guard import MAX_STILL_PASSES, Guard, Open
from simulator.scenarios.model import (
    Branch,
    Choose,
    Emit,
    FieldPath,
    Parallel,
    Repeat,
    Scenario,
    Step,
    Wait,
    field_path,
    substitute,
)

# At speed 0 nothing sleeps; the loop is still given a turn once this many seconds have gone by without one, so
# cancellation gets through and a timed run beside it sends on time (given a turn every 256 events, the loop was
# held 15-25 ms at a time: beside a run at speed 0, a timed run's p99 lateness was 38-50 ms, and 5-14 ms at 2 ms).
_YIELD_AFTER = 0.002

# An emitted event: its simulated time, the event, and the step that emits it.
Built = tuple[datetime, Event, Emit]


@dataclass(frozen=True)
class Planned:
    """One emit at its simulated time, with its `with:` overrides after `${param}` substitution."""

    at: datetime
    step: Emit
    overrides: Mapping[str, Any]


# --- parameters ------------------------------------------------------------------------------------------------


def resolve_params(scenario: Scenario, given: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameters: the declared defaults, overridden by `given` coerced to each default's type.

    Raises InvalidInput naming `params.<name>` for an unknown name or a value of the wrong kind, or naming the
    step whose wait or repeat the values make unusable (`--param gap=soon` where a wait reads `${gap}`).
    """
    values = {name: param.default for name, param in scenario.params.items()}
    errors: list[FieldError] = []
    for name, value in given.items():
        if name not in scenario.params:
            declared = ", ".join(scenario.params) or "none"
            errors.append(
                FieldError(f"params.{name}", f"unknown parameter {name!r}: {scenario.name} declares {declared}")
            )
            continue
        try:
            values[name] = coerce(value, scenario.params[name].default)
        except ValueError as exc:
            errors.append(FieldError(f"params.{name}", str(exc)))
    if not errors and given:
        errors = _blamed(scenario, given, values, bind_problems(scenario.steps, values, scenario.provider))
    if errors:
        raise InvalidInput(
            f"bad parameters for scenario {scenario.name}: {errors[0].field}: {errors[0].message}", errors=errors
        )
    return values


def _blamed(
    scenario: Scenario, given: Mapping[str, Any], values: Mapping[str, Any], problems: list[Problem]
) -> list[FieldError]:
    """Each problem as the error of the step, at its line in its file (the first is the one a command line says);
    then, where one given parameter alone makes it, as the error of that parameter too (`params.refreshes`, the
    step it reaches said in the message). Named by the step alone, a request's `params.refreshes: -1` was told of
    `steps[3].repeat` of a file it never wrote, and no field of its own."""
    defaults = {name: param.default for name, param in scenario.params.items()}
    reaches = {
        name: {path for path, _ in bind_problems(scenario.steps, {**defaults, name: values[name]}, scenario.provider)}
        for name in given
        if name in values
    }
    blamed, steps = [], []
    for path, message in problems:
        if path[:1] == ("params",):
            blamed.append(FieldError(field_path(path), message))
            continue
        steps.append(FieldError(field_path(path), message, scenario.source))
        name = next((name for name, paths in reaches.items() if path in paths), None)
        if name is not None:
            blamed.append(FieldError(f"params.{name}", f"{message}, at {field_path(path)}"))
    return steps + blamed


# --- binding: templates resolved, numbers checked --------------------------------------------------------------

Problem = tuple[FieldPath, str]


def bind_problems(
    steps: tuple[Step | None, ...], params: Mapping[str, Any], provider: str | None = None
) -> list[Problem]:
    """What is wrong with a scenario's `steps` once `params` fill their templates (empty: they can run): an
    unusable wait or repeat, (given the scenario's `provider`) a `with:` override its event's schema refuses
    or that leaves no event to build, a timeline that can last longer than any time holds, and a repeat that
    plays too many steps that emit nothing (`checks`).

    None stands for a step the loader could not build (already reported); it is skipped.
    """
    problems: list[Problem] = []
    bound = _bind(steps, params, ("steps",), problems)
    if provider is not None:
        problems += override_problems(steps, params, provider)
        problems += [(("params", name), why) for name, why in catalog.get_provider(provider).param_problems(params)]
    if not problems and None not in steps:  # the bound steps are at the file's places
        found = checks.too_long(bound)
        problems += ([found] if found else []) + checks.silent_problems(bound)
    return problems


def bind(scenario: Scenario, params: Mapping[str, Any]) -> tuple[Step, ...]:
    """The steps with every wait and repeat resolved from `params`; raises InvalidInput if any is unusable or
    an override does not fit its event's schema."""
    problems: list[Problem] = []
    steps = _bind(scenario.steps, params, ("steps",), problems)
    problems += override_problems(scenario.steps, params, scenario.provider)
    if problems:
        errors = [FieldError(field_path(path), message, scenario.source) for path, message in problems]
        raise InvalidInput(
            f"scenario {scenario.name} cannot run with these parameters: {errors[0].field}: {errors[0].message}",
            errors=errors,
        )
    return steps


def _bind(
    steps: tuple[Step | None, ...], params: Mapping[str, Any], path: FieldPath, problems: list[Problem]
) -> tuple[Step, ...]:
    out: list[Step] = []
    for i, step in enumerate(steps):
        here = (*path, i)
        if step is None:
            continue
        if isinstance(step, Wait):
            try:
                out.append(replace(step, distribution=distributions.bind(step.distribution, params)))
            except distributions.DistributionError as exc:
                problems.append(((*here, "wait", *exc.field), exc.message))
        elif isinstance(step, Repeat):
            out.append(_bind_repeat(step, params, here, problems))
        elif isinstance(step, Choose):
            out.append(
                replace(
                    step,
                    branches=tuple(
                        Branch(b.weight, _bind(b.steps, params, (*here, "choose", j, "steps"), problems))
                        for j, b in enumerate(step.branches)
                    ),
                )
            )
        elif isinstance(step, Parallel):
            out.append(
                replace(
                    step,
                    branches=tuple(
                        _bind(b, params, (*here, "parallel", j, "steps"), problems) for j, b in enumerate(step.branches)
                    ),
                )
            )
        else:
            out.append(step)
    return tuple(out)


def _bind_repeat(step: Repeat, params: Mapping[str, Any], here: FieldPath, problems: list[Problem]) -> Repeat:
    body = _bind(step.steps, params, (*here, "steps"), problems)
    if step.for_seconds is None:
        count = substitute(step.count, params) if isinstance(step.count, str) else step.count
        if isinstance(count, str) and count.strip().isdigit():
            with suppress(ValueError):  # more digits than Python reads: refused below, as text
                count = int(count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            problems.append(
                (
                    (*here, "repeat"),
                    f"expected a whole number of iterations >= 0, got {count!r}"
                    + (f" (from {step.count!r})" if count != step.count else ""),
                )
            )
            count = 0
        return replace(step, count=count, steps=body)
    field = (*here, "repeat", "for")
    try:
        seconds = distributions.to_seconds(step.for_seconds, params)
    except ValueError as exc:
        problems.append((field, str(exc)))
        return replace(step, for_seconds=0.0, steps=body)
    if seconds <= 0:
        problems.append((field, f"expected a duration greater than 0, got {seconds:g}s"))
    elif len(body) == len(step.steps) and not _can_take_time(body):
        problems.append(
            (
                (*here, "steps"),
                "these steps never take any time, so repeat {for: ...} would never "
                "end: expected a wait with a positive duration among them",
            )
        )
    return replace(step, for_seconds=seconds, steps=body)


def _can_take_time(steps: tuple[Step, ...]) -> bool:
    """Whether some path through bound `steps` advances simulated time (else a `repeat {for}` loops forever)."""
    for step in steps:
        if isinstance(step, Wait) and distributions.bounds(step.distribution)[1] > 0:
            return True
        if isinstance(step, Repeat) and step.count != 0 and _can_take_time(step.steps):
            return True
        if isinstance(step, Choose) and any(_can_take_time(b.steps) for b in step.branches):
            return True
        if isinstance(step, Parallel) and any(_can_take_time(b) for b in step.branches):
            return True
    return False


# --- the timeline ----------------------------------------------------------------------------------------------

# What the step generators yield: (simulated offset in seconds, the emit).
_Item = tuple[float, Emit]
_Gen = Generator[_Item, None, float]


def timeline(scenario: Scenario, *, seed: int, params: Mapping[str, Any], start_time: datetime) -> Iterator[Planned]:
    """Every emit of one run, lazily, in simulated-time order.

    Waits and choices draw from one `Random` derived from `seed`, in a fixed order. Parameters are resolved and
    the steps bound before the first item is asked for, so bad parameters raise InvalidInput here. A repeat that
    plays more than MAX_SILENT steps between two events raises ScenarioInvalid naming it, when it gets there.
    """
    values = resolve_params(scenario, params)
    steps = bind(scenario, values)
    rng = random.Random(f"{seed}:timeline")
    return _planned(_sequence(steps, 0.0, rng, Guard(scenario.source, steps), None), values, start_time)


def _planned(items: _Gen, params: Mapping[str, Any], start_time: datetime) -> Iterator[Planned]:
    # `Planned(at, step, overrides)` made as `Event.numbered` makes its records, without the frozen `__init__` (1.3
    # µs of every event, this 0.5; `tests/scenarios/test_runner.py` compares them). Each time a datetime of its own,
    # even where emits share one: the building process's pickled messages share no object between events.
    for offset, step in items:
        planned = object.__new__(Planned)
        changes = substitute(dict(step.overrides), params) if step.overrides else {}
        planned.__dict__.update(at=start_time + timedelta(seconds=offset), step=step, overrides=changes)
        yield planned


def _sequence(steps: tuple[Step, ...], t: float, rng: random.Random, guard: Guard, inside: Open | None) -> _Gen:
    """Run `steps` (inside the repeat `inside`) from offset `t`; returns the offset at which they end. Each step
    played is counted by `guard`, which stops a repeat that emits nothing for too long."""
    for step in steps:
        guard.played += 1
        if guard.played > guard.alarm:
            guard.check(inside, t)
        if isinstance(step, Emit):
            guard.emitted()
            yield t, step
        elif isinstance(step, Wait):
            t += distributions.draw(step.distribution, rng)
        elif isinstance(step, Repeat):
            t = yield from _repeat(step, t, rng, guard, (guard.played, t, step, inside))
        elif isinstance(step, Choose):
            t = yield from _sequence(_pick(step.branches, rng), t, rng, guard, inside)
        elif isinstance(step, Parallel):
            t = yield from _merge(step.branches, t, rng, guard, inside)
    return t


def _repeat(step: Repeat, t: float, rng: random.Random, guard: Guard, inside: Open) -> _Gen:
    if step.for_seconds is None:
        for _ in range(int(step.count or 0)):
            t = yield from _sequence(step.steps, t, rng, guard, inside)
        return t
    # An iteration starts only while less than `for` has elapsed; the last one runs to its end.
    end = t + float(step.for_seconds)
    still = 0  # passes in a row that left the time where it was
    while t < end:
        before = t
        t = yield from _sequence(step.steps, t, rng, guard, inside)
        still = still + 1 if t == before else 0
        if still >= MAX_STILL_PASSES:
            guard.still(step, t)
    return t


def _pick(branches: tuple[Branch, ...], rng: random.Random) -> tuple[Step, ...]:
    point = rng.random() * sum(b.weight for b in branches)
    for branch in branches:
        point -= branch.weight
        if point < 0:
            return branch.steps
    return branches[-1].steps  # only reachable through float rounding


def _merge(
    branches: tuple[tuple[Step, ...], ...],
    t: float,
    rng: random.Random,
    guard: Guard,
    inside: Open | None,
) -> _Gen:
    """Interleave the branches' emits by (time, branch index); ends when the longest branch ends."""
    gens = [_sequence(b, t, rng, guard, inside) for b in branches]
    heap: list[tuple[float, int, Emit]] = []
    end = t

    def advance(index: int) -> None:
        nonlocal end
        try:
            offset, step = next(gens[index])
        except StopIteration as stop:
            end = max(end, stop.value)
            return
        heapq.heappush(heap, (offset, index, step))

    for index in range(len(gens)):
        advance(index)
    while heap:
        offset, index, step = heapq.heappop(heap)
        yield offset, step
        advance(index)
    return end


# --- playing it ------------------------------------------------------------------------------------------------


async def play(
    scenario: Scenario,
    *,
    seed: int,
    params: Mapping[str, Any],
    start_time: datetime,
    speed: float,
    emit: Callable[[Event, Emit], Awaitable[None]],
    on_idle: Callable[[], Awaitable[None]] | None = None,
    run_id: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    on_start: Callable[[], None] | None = None,
    lead: float = 0.0,
    handoff: int | None = None,
    on_wait: Callable[[], Awaitable[None]] | None = None,
    skip: int = 0,
    origin: float | None = None,
) -> int:
    """Build and hand over every event of one run, in order; returns how many were emitted.

    The event at simulated offset d is released at `t0 + d / speed` on the `monotonic` clock (absolute deadlines,
    so time spent emitting does not add up); `speed == 0` never sleeps. `on_idle` is awaited before each real
    sleep and once at the end (the delivery layer flushes batches there); `on_wait` is awaited wherever the
    scenario waited, at any speed, however late (Syncfy batches close there). Cancelling the task stops the run.
    `t0` is `lead` seconds after the run is ready (its context made): its first events are built and handed
    over that much before they are due. `on_start` is called at that moment, so the caller's clock agrees.
    A run past `handoff` events has the rest built by a process of its own (see `offload`); with `handoff` 0,
    all of them, and the run is ready once that process's first events are here.
    A resumed run (see `core.run_resume`) builds its first `skip` events without handing them over, and keeps the
    clock it had: its simulated start at wall time `origin`, so events already due go at once and the rest on time.
    """
    _check_speed(speed)
    values = resolve_params(scenario, params)
    planned = timeline(scenario, seed=seed, params=values, start_time=start_time)
    built = build(planned, context(scenario, seed, values, start_time), scenario.provider, run_id, skip)
    if handoff is not None:
        job = offload.Job(scenario, seed, values, start_time, run_id)
        stream = offload.handed_off(built, handoff, job, skip)
    else:
        stream = offload.in_process(built)
    count = 0
    async with aclosing(stream):
        first = await anext(stream, None) if handoff == 0 else None
        if on_start is not None:
            on_start()
        t0 = yielded = monotonic() + (lead if origin is None else origin - time.time())
        previous: datetime | None = None
        async for at, event, step in _after(first, stream) if handoff == 0 else stream:
            # Only a wait of the scenario's moves simulated time: events emitted back to back share their time,
            # and the one before has waited for it already (a sleep that wakes early must not split them).
            waited = previous is not None and at > previous
            previous = at
            # A wait of the scenario closes what collects until it (a Syncfy batch) at any speed: closed only before
            # a real sleep, a timed run behind its clock (a high speed, a busy server, a resumed backlog) ran its
            # batches across the waits, and which events shared a body changed from one run to the next.
            if waited and on_wait is not None:
                await on_wait()
            if speed > 0 and (waited or count == 0):
                await _wait_until(t0 + (at - start_time).total_seconds() / speed, on_idle, sleep, monotonic)
            if speed == 0 and monotonic() - yielded > _YIELD_AFTER:
                await asyncio.sleep(0)
                yielded = monotonic()
            await emit(event, step)
            count += 1
    if on_idle is not None:
        await on_idle()
    return count


async def _after(first: Built | None, rest: AsyncIterator[Built]) -> AsyncGenerator[Built, None]:
    if first is not None:
        yield first
    async for item in rest:
        yield item


def context(scenario: Scenario, seed: int, values: Mapping[str, Any], start_time: datetime) -> BuildContext:
    """The build context of a run of `scenario`: its values from the seed, its ids from the seed, the start time,
    the scenario's name and its parameters (another scenario, or other parameters, never repeats its ids)."""
    # A word of the provider's choices in any case is the same value (`PRODUCTION` is `production`): its ids too.
    choices = catalog.get_provider(scenario.provider).choices
    keyed = {k: v.lower() if k in choices and isinstance(v, str) else v for k, v in values.items()}
    scope = f"{scenario.name}\x1f{json.dumps(keyed, sort_keys=True, default=str)}"
    return catalog.new_context(seed, start_time, dict(values), scope=scope)


def build(
    planned: Iterable[Planned], ctx: BuildContext, provider: str, run_id: str | None, skip: int = 0
) -> Generator[Built, None, None]:
    """Each planned emit's event, numbered in the run, with its time and step. The first `skip` are built but
    not yielded: the world they leave is the later events' world."""
    ends = catalog.get_provider(provider).ends
    types: dict[str, EventType] = {}  # a run's steps name a few types, each resolved once
    for count, (item, end) in enumerate(lookahead.with_ends(planned, ends)):
        step = item.step
        etype = types.get(step.type) or types.setdefault(step.type, catalog.resolve(step.type, provider))
        moment = ctx.at(item.at, step.ref, end.at if end is not None else None)
        overrides = dict(item.overrides) if item.overrides else None  # None: as an empty one, without a copy
        event = catalog.build_event(etype, moment, overrides, checked=not step.unchecked)
        if count >= skip:
            ends_with = end.step.type if end is not None else None  # a plan names types as the catalog does
            yield item.at, event.numbered(count, run_id, ends_with), item.step


def _check_speed(speed: float) -> None:
    if not (speed >= 0 and math.isfinite(speed)):
        raise InvalidInput(
            f"speed must be a finite number >= 0, got {speed!r}",
            errors=[FieldError("speed", "expected a finite number >= 0")],
        )


async def _wait_until(
    deadline: float,
    on_idle: Callable[[], Awaitable[None]] | None,
    sleep: Callable[[float], Awaitable[None]],
    monotonic: Callable[[], float],
) -> None:
    if deadline - monotonic() <= 0:
        return
    if on_idle is not None:
        await on_idle()
    remaining = deadline - monotonic()
    if remaining > 0:
        await sleep(remaining)
