"""`webhook-sim scenarios` and `validate`: list the built-in and user scenarios, describe one with its planned
timeline (so a user learns how long a run takes before starting it), check scenario files."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.cli import option_types, options
from simulator.cli.summary import duration
from simulator.errors import FieldError, InvalidInput
from simulator.escapes import escape_controls
from simulator.timeutil import now_utc, utc

# The options that shape the timeline of the scenario NAME describes: without NAME, the list has none to shape.
WITH_NAME = ("--seed", "--speed", "--param", "--start-time", "--limit")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "scenarios",
        help="list scenarios, or describe one with its timeline",
        description="List the built-in scenarios and those in --scenarios folders. With NAME: its description, "
        "parameters with their defaults, and the events a run emits, when, for --seed at --speed.",
    )
    p.add_argument("name", nargs="?", type=_scenario_name, help="a scenario name or a YAML file to describe")
    options.add(p, "--json", "as JSON", default=False, flag_only=True)
    options.add_scenarios(p)
    options.add(
        p, "--seed", "with NAME: the seed of the timeline (waits and choices)", default=0, type=option_types.seed
    )
    options.add(p, "--speed", "with NAME: the speed a run would play at", default=1.0, type=option_types.decimal)
    options.add(p, "--param", "with NAME: a scenario parameter", many=",", metavar="K=V", pairs=True)
    options.add(p, "--start-time", "with NAME: the simulated time of the first event (default: now)")
    options.add(p, "--limit", "with NAME: events listed at most (0: all)", default=50, type=option_types.count)
    p.set_defaults(handler=scenarios_command)
    p = sub.add_parser(
        "validate",
        help="check scenario files",
        description="Check scenario files; every error names file, line and field.",
    )
    p.add_argument("files", nargs="+", help="YAML files")
    p.set_defaults(handler=validate_command)


def _scenario_name(text: str) -> str:
    """NAME, not blank: an empty one (`scenarios "$UNSET"`) listed every scenario, as if none had been given."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: give a scenario's name or a YAML file, or leave NAME out")
    return text


def scenarios_command(args: argparse.Namespace) -> int:
    from simulator.scenarios import loader

    if args.name is not None:
        return describe(args)
    _refuse_without_name(args)
    found, errors = loader.discover([Path(d) for d in args.scenarios])
    if not all(os.path.isdir(d) for d in args.scenarios):  # False for a path too long to look at, too
        # A folder that is not there is a wrong option, said before anything is listed: the built-in scenarios on
        # stdout, then exit 2, reached a pipe (`--json | jq`) as a whole list. A broken file in a folder is
        # said after the rest are listed, as `GET /scenarios` lists them with its errors.
        _said(errors)
        return 2
    if args.json:
        print(json.dumps([s.summary() for s in found.values()], indent=2))
    else:
        for s in found.values():
            print(f"{s.name:<36} {s.provider:<12} {_one_line(s.description)}")
    _said(errors)
    return 2 if errors else 0


def _one_line(text: str) -> str:
    """A scenario's text on one line: its whitespace runs as one space, its control characters escaped (a file's
    escape sequence rewrote the terminal)."""
    return escape_controls(" ".join(text.split()))


def _said(errors: list[FieldError]) -> None:
    """One line per problem: a file named with a line break or an escape sequence forged lines, or rewrote the
    terminal."""
    for err in errors:
        print(f"error: {escape_controls(str(err))}", file=sys.stderr)


def _refuse_without_name(args: argparse.Namespace) -> None:
    """Refuse the options of `WITH_NAME` without NAME (InvalidInput, exit 2, naming them): the list was printed and
    they were ignored without a word. A value from the environment alone is left alone: `run` reads the same
    variables, and a shell that exports them for it still lists the scenarios."""
    given = [flag for flag in WITH_NAME if options.given_on_command_line(args, flag)]
    if not given:
        return
    named = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1 else given)
    need, they, them = ("needs", "it applies", given[0]) if len(given) == 1 else ("need", "they apply", "them")
    raise InvalidInput(
        f"{named} {need} NAME: {they} to the scenario NAME describes, and the list describes none; give NAME "
        f"(a scenario's name or a YAML file), or leave {them} out",
        errors=[FieldError(flag, f"{need} NAME") for flag in given],  # said once, in the line above
    )


@dataclass
class Preview:
    """The planned emits of a run as (simulated offset in seconds, event type), the first of them at least, and
    how many there are in all and when the last is (None when there are more than PLAN_LIMIT to count)."""

    rows: list[tuple[float, str]] = field(default_factory=list)
    count: int | None = 0
    span: float | None = 0.0


def timeline(args: argparse.Namespace) -> tuple[Any, Preview, datetime]:
    """The scenario and its planned emits: every one up to PLAN_LIMIT, or the first --limit when text is asked
    for. The timeline is read lazily and no further than PLAN_LIMIT, so a run of a trillion events is described
    at once, in little memory."""
    from simulator.cli.run import parse_params
    from simulator.core.runs import TOO_LONG
    from simulator.core.validation import PLAN_LIMIT
    from simulator.scenarios import lookup, runner

    _check_speed(args.speed)
    start = _start_time(args.start_time)
    scenario = lookup.find_name_or_file(args.name, [Path(d) for d in args.scenarios])
    planned = runner.timeline(
        scenario,
        seed=args.seed,
        params=parse_params(args.param, options.from_environment(args, "--param")),
        start_time=start,
    )
    keep = PLAN_LIMIT if args.json or not args.limit else min(args.limit, PLAN_LIMIT)
    preview = Preview()
    try:
        for count, item in enumerate(planned, 1):
            if count > PLAN_LIMIT:
                preview.count = preview.span = None
                break
            offset = (item.at - start).total_seconds()
            if count <= keep:
                preview.rows.append((offset, item.step.type))
            preview.count, preview.span = count, offset
    except OverflowError:  # as a run of it would fail
        raise InvalidInput(TOO_LONG, errors=[FieldError("steps", "waits too long for the start time")]) from None
    return scenario, preview, start


def _check_speed(speed: float) -> None:
    """`--speed` checked by `run`'s own check (`option_types.speed`, the API's bounds): a speed a run refuses is
    no run to describe, and `inf` was written as `"speed": Infinity`, which no JSON reader takes. InvalidInput
    (exit 2) naming the option; the value is echoed as read (`1e400` is inf)."""
    try:
        option_types.speed(str(speed))
    except argparse.ArgumentTypeError as exc:
        raise InvalidInput(f"--speed: {exc}", errors=[FieldError("--speed", "not a speed")]) from None


def _start_time(text: str | None) -> datetime:
    """`--start-time` read as `run` reads it, by the run's own type (`Moment`: an RFC 3339 time with its offset,
    from 1970 to 2200), else now. Read with `parse_time`, a word was a traceback and a time without an offset
    was taken as UTC, where a run refuses both. InvalidInput (exit 2) naming the option, in `run`'s words."""
    from pydantic import TypeAdapter, ValidationError

    from simulator.models.inputs import Moment

    if text is None:
        return now_utc()
    try:
        return utc(TypeAdapter(Moment).validate_python(text))
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"--start-time: {message}", errors=[FieldError("--start-time", message)]) from None


def describe(args: argparse.Namespace) -> int:
    scenario, preview, start = timeline(args)
    if args.json:
        out = {**scenario.summary(), "seed": args.seed, "speed": args.speed, "start_time": start.isoformat()}
        out["timeline"] = [{"offset_s": round(t, 3), "type": etype} for t, etype in preview.rows]
        out["duration_s"] = None if preview.span is None else round(preview.span, 3)
        out["complete"] = preview.count is not None
        print(json.dumps(out, indent=2))
        return 0
    described = _one_line(scenario.description)
    print(f"{scenario.name} ({scenario.provider})" + (f": {described}" if described else ""))
    if scenario.observe:
        print(f"observe: {_one_line(scenario.observe)}")
    print("parameters:" if scenario.params else "parameters: none")
    for param in scenario.params.values():
        print(f"  {param.name} = {json.dumps(param.default)}  {_one_line(param.description)}".rstrip())
    print(f"timeline for seed {args.seed}: {_extent(preview)}")
    for offset, etype in preview.rows:
        print(f"  +{_offset(offset)}  {etype}")
    if preview.count is None:
        print("  … and more")
    elif len(preview.rows) < preview.count:
        print(f"  … and {preview.count - len(preview.rows)} more (--limit 0 lists all)")
    if preview.span is not None:
        print(_how_long(preview.span, args.speed))
    return 0


def _extent(preview: Preview) -> str:
    from simulator.core.validation import PLAN_LIMIT

    if preview.count is None or preview.span is None:
        return f"more than {PLAN_LIMIT} events, too many to count ahead (a run shows no ETA either)"
    events = "1 event" if preview.count == 1 else f"{preview.count} events"
    return f"{events} over {duration(preview.span)} of simulated time"


def _offset(seconds: float) -> str:
    """`0:00:02.134`, `1d 3:00:00.000`: hours, minutes, seconds and milliseconds of simulated time."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{int(hours)}:{int(minutes):02d}:{secs:06.3f}"
    return f"{int(days)}d {text}" if days else text


def _how_long(span: float, speed: float) -> str:
    if speed == 0:
        return "at speed 0 a run plays it without waiting (retries too)"
    return f"at speed {speed:g} a run takes about {duration(span / speed)} until its last event" + (
        "" if speed >= 1000 else "; --speed 0 plays it without waiting"
    )


def validate_command(args: argparse.Namespace) -> int:
    from simulator.scenarios import loader

    errors = loader.validate_files([Path(f) for f in args.files])
    _said(errors)
    if not errors:
        print(f"{len(args.files)} file(s) valid")
    return 2 if errors else 0
