"""The checks a run must pass before it is recorded, shared by `POST /runs`, `POST /schedules` and `run`, so the
three refuse the same input with the same error."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from simulator.errors import FieldError, InvalidInput, NotFound, spelled
from simulator.ids import OBJECT_ID_FIRST, OBJECT_ID_LAST
from simulator.models import formats
from simulator.models.inputs import RunSpec
from simulator.models.records import Subscription
from simulator.models.target_rules import check_native_secret
from simulator.scenarios import loader, lookup, runner
from simulator.scenarios.model import Emit, FieldPath, Scenario, field_path, walk_paths
from simulator.timeutil import utc

FaultCheck = Callable[[Mapping[str, Any], str], None]
SubscriptionLookup = Callable[[str], Awaitable[Subscription]]


@dataclass(frozen=True)
class ValidRun:
    """A run spec that passed every check: its scenario and its resolved parameters."""

    scenario: Scenario
    params: dict[str, Any]


async def find_scenario(name: str, scenario_dirs: Sequence[Path], *, unique: bool = False) -> Scenario:
    """The scenario called `name` (`loader.find`), looked up off the event loop: the first reading of the folders
    parses and checks every file (0.2 s for the built-in ones on a quick day), and a changed file is read again.
    `unique`: refused (InvalidInput) when several files declare the name (`lookup.find_one`), as a new run or
    schedule is; a run already recorded plays the file it always played."""
    return await asyncio.to_thread(lookup.find_one if unique else loader.find, name, scenario_dirs)


async def validate_run(
    spec: RunSpec,
    *,
    scenario_dirs: Sequence[Path],
    check_faults: FaultCheck,
    subscription: SubscriptionLookup,
    scenario: Scenario | None = None,
    typed_params: bool = False,
) -> ValidRun:
    """Raise `InvalidInput` (or `NotFound` for a named subscription) for anything a run of `spec` would trip on.

    `spec.scenario` is a name, looked up in the built-in scenarios and `scenario_dirs` only; a caller that loaded
    a scenario itself (the command line's `run ./file.yaml`) passes it as `scenario`, with `spec.scenario` its name.
    `typed_params`: each parameter must have its default's JSON type (JSON bodies: `"3"` is not a count), as
    the API document states; otherwise text is converted (`--param refreshes=3`).
    """
    if scenario is None:
        scenario = await find_scenario(spec.scenario, scenario_dirs, unique=True)
    elif scenario.name != spec.scenario:
        raise ValueError(f"the spec names {spec.scenario!r} but the scenario given is {scenario.name!r}")
    if typed_params:
        check_param_types(scenario, spec.params)
    check_native_secret(scenario.provider, spec.target, spec.signing, spec.secret)
    params = resolve_params(scenario, spec.params)
    if scenario.provider == "syncfy":
        await check_syncfy_times(spec, scenario, params)
    check_faults(spec.faults, "faults")
    check_scenario_faults(scenario, check_faults)
    for i, sub_id in enumerate(spec.subscriptions or ()):
        try:
            await subscription(sub_id)
        except NotFound as exc:  # named by the field that gave it: `id` pointed at a path this body has none of
            raise NotFound(exc.detail, errors=[FieldError(f"subscriptions.{i}", "not found")]) from None
    return ValidRun(scenario, params)


# A Syncfy run's user signed up up to 30 days before its first event (`providers.syncfy.events`), and the user's id
# holds that time: a start must leave room for it.
SIGNED_UP_BEFORE = timedelta(days=30)
# Closer than this to the last instant an id holds, a run with a seed is played through (its times alone) to find
# where its events fall; further off, none of a scenario's reaches that far.
NEAR_THE_END = timedelta(days=3650)
# A timeline is measured ahead up to this many events: for the run's ETA (a longer one shows none), and here.
PLAN_LIMIT = 100_000


def check_object_id_time(start: datetime, field: str = "start_time") -> None:
    """A Syncfy run's ids (MongoDB ObjectIds) hold its times: 4 bytes of Unix seconds, judged by the instant
    (1970-01-01T05:00:00+06:00 is in 1969), from its user's signing up, up to 30 days before the start."""
    first = OBJECT_ID_FIRST + SIGNED_UP_BEFORE
    if not first <= utc(start) <= OBJECT_ID_LAST:
        span = f"{first.isoformat()} to {OBJECT_ID_LAST.isoformat()}"
        raise InvalidInput(
            f"a Syncfy run starts from {span}: its ids (MongoDB ObjectIds) hold no other time, its user's "
            f"(who signed up to {SIGNED_UP_BEFORE.days} days before) included",
            errors=[FieldError(field, f"outside {span}, the times a Syncfy id holds")],
        )


async def check_syncfy_times(spec: RunSpec, scenario: Scenario, params: dict[str, Any]) -> None:
    """`check_object_id_time`, and near the last time an id holds, that the run's events all come before it: a
    run starting hours before it was taken and failed at its first event past it."""
    moment, field = spec.start_time, "start_time"
    if moment is None:  # a one-off schedule's run starts as it fires: taken, one at 2150 could never run
        moment, field = getattr(spec, "at", None), "at"
    if moment is None:
        return
    check_object_id_time(moment, field)
    start = utc(moment)
    if spec.seed is None:  # a schedule's (a run's seed is drawn before it is checked): each firing draws its own
        if moment.year <= formats.SYNCFY_UNSEEDED_LAST_YEAR:  # as written, as the document states it
            return
        raise InvalidInput(
            f"a Syncfy schedule from {moment.isoformat()}, after {formats.SYNCFY_UNSEEDED_LAST_YEAR} and "
            f"so near {OBJECT_ID_LAST.isoformat()} (the last time its ids hold), needs a seed: each firing would "
            "draw its own, and those whose events run past that time would fail",
            errors=[FieldError(field, "this close to the last time a Syncfy id holds, give a seed")],
        )
    if OBJECT_ID_LAST - start > NEAR_THE_END:
        return
    past = await asyncio.to_thread(_first_past, scenario, spec.seed, params, start, OBJECT_ID_LAST)
    if past is not None:
        raise InvalidInput(
            f"a Syncfy run from {start.isoformat()} with seed {spec.seed} has an event at {past.isoformat()}, "
            f"past {OBJECT_ID_LAST.isoformat()}, the last time its ids (MongoDB ObjectIds) hold",
            errors=[FieldError(field, f"its events run past {OBJECT_ID_LAST.isoformat()}")],
        )


def _first_past(
    scenario: Scenario, seed: int, params: Mapping[str, Any], start: datetime, end: datetime
) -> datetime | None:
    """The time of the run's first event after `end`, or None (looking at PLAN_LIMIT events at most)."""
    try:
        for count, item in enumerate(runner.timeline(scenario, seed=seed, params=params, start_time=start)):
            if item.at > end:
                return item.at
            if count >= PLAN_LIMIT:
                return None
    except OverflowError:  # its times run past the year 9999: past the end, at a time no datetime holds
        return datetime.max.replace(tzinfo=start.tzinfo)
    return None


# The JSON type a parameter's value must have, by its default's Python type (a number may be whole).
_JSON_TYPES: dict[type, tuple[str, Callable[[Any], bool]]] = {
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}


def check_param_types(scenario: Scenario, given: Mapping[str, Any]) -> None:
    """Refuse a value of another JSON type than its parameter's default (unknown names are left to
    `resolve_params`, which names the declared ones)."""
    errors = []
    for name, value in given.items():
        param = scenario.params.get(name)
        if param is None:
            continue
        expected = _JSON_TYPES.get(type(param.default))
        if expected is not None and not expected[1](value):
            errors.append(
                FieldError(f"params.{name}", f"expected {expected[0]}, like the default {spelled(param.default)}")
            )
    if errors:
        raise InvalidInput(f"bad parameters for scenario {scenario.name}: {errors[0]}", errors=errors)


def resolve_params(scenario: Scenario, given: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return runner.resolve_params(scenario, given)
    except InvalidInput as exc:
        raise _with_lines(scenario, exc) from None
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc), errors=[FieldError("params", str(exc))]) from None


def _with_lines(scenario: Scenario, exc: InvalidInput) -> InvalidInput:
    """`exc` with each problem of a step in the scenario's file given that step's line (the run's parameters
    made a wait, a repeat or an override of the file unusable: `steps[3].wait` is at line 12)."""
    lines = {field_path(path): step.line for path, step in walk_paths(scenario.steps)}

    def line(field: str) -> int | None:
        steps = [f for f in lines if field == f or field.startswith((f"{f}.", f"{f}["))]
        return lines[max(steps, key=len)] if steps else None

    errors = [replace(e, line=line(e.field)) if e.file == scenario.source and e.line is None else e for e in exc.errors]
    detail = exc.detail
    if errors and errors[0] != exc.errors[0]:  # the first problem, told in the detail, with its place too
        detail = detail.replace(f"{errors[0].field}: {errors[0].message}", str(errors[0]), 1)
    return InvalidInput(detail, errors=errors)


def check_scenario_faults(scenario: Scenario, check_faults: FaultCheck) -> None:
    """The scenario file's own `faults:` blocks, checked before the run starts; every problem at once, each with
    its full path (`steps[1].faults.drop`), file and line. (The loader checks them too: this is for scenarios
    made otherwise.)"""
    blocks: list[tuple[FieldPath, Mapping[str, Any], int | None]] = [(("faults",), scenario.faults, None)]
    blocks += [((*p, "faults"), s.faults, s.line) for p, s in walk_paths(scenario.steps) if isinstance(s, Emit)]
    errors: list[FieldError] = []
    for path, faults, line in blocks:
        try:
            check_faults(dict(faults), field_path(path))
        except InvalidInput as exc:
            errors += [FieldError(e.field, e.message, scenario.source, line) for e in exc.errors]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        first = f"{errors[0].field}: {errors[0].message}"
        raise InvalidInput(f"{scenario.source}: invalid faults: {first}{more}", errors=errors)
