"""`webhook-sim run`: one scenario in-process against a URL, with progress, a summary that names what failed, and
an exit code: 0 when every delivery succeeded, 1 when one did not, 2 for bad input, 130 after Ctrl-C and 143 after
SIGTERM (each still prints, and writes, the summary of what happened so far)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from simulator.cli import option_types, options, retries
from simulator.delivery.faults_spec import parse_cli_fault
from simulator.errors import FieldError, InvalidInput, quoted
from simulator.models.enums import SIGNING_SCHEMES
from simulator.models.inputs import RunSpec, parse
from simulator.scenarios import Scenario, lookup


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a scenario in-process against a URL (for CI)",
        description="Play one scenario in this process against --target; exit 0 iff every "
        "delivery succeeded, 1 if any failed, 2 for bad input, 130 after Ctrl-C, 143 after SIGTERM.",
    )
    p.add_argument("scenario", help="a scenario name or a YAML file")
    options.add(p, "--target", "the URL to deliver to")
    options.add(p, "--seed", "the run's seed (default: a random one, reported)", type=option_types.seed)
    options.add(p, "--speed", "1 real time, 10 ten times faster, 0 no waiting", default=1.0, type=option_types.speed)
    options.add(p, "--param", "a scenario parameter", many=",", metavar="K=V", pairs=True)
    options.add(p, "--fault", "a fault to inject, e.g. drop=0.1", many=";", metavar="SPEC")
    options.add(p, "--signing", "the signing scheme (default: the provider's own)", choices=SIGNING_SCHEMES)
    options.add(p, "--secret", "the signing secret (default: a generated one)", type=option_types.secret)
    options.add_max_in_flight(p, RunSpec, "concurrent requests to the target")
    retries.add(p, scaled=True)
    options.add(p, "--start-time", "ISO time of the first event (default: now)")
    options.add(p, "--db", "store URL or path (default: ephemeral)")
    options.add(p, "--report", "write a JSON report to this file (default: none)", type=option_types.output_file)
    options.add(
        p,
        "--junit",
        "write a JUnit XML report to this file, a test case per delivery (default: none)",
        type=option_types.output_file,
    )
    options.add(p, "--failures", "failed deliveries named in the summary", default=10, type=option_types.count)
    options.add_scenarios(p)
    options.add(
        p,
        "--api-port",
        "serve the provider API twins on this 127.0.0.1 port while the run lasts",
        type=option_types.port,
    )
    options.add_allowed_hosts(p, "--api-port's twins")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    spec, scenario = run_spec(args)
    args.allowed_host = options.allowed_hosts(args.allowed_host)  # checked before the store opens
    # Imported once the options are checked: the store, the engine and the twins are most of what a start imports,
    # and a command line refused for an option says so without them.
    from simulator.cli import run_play
    from simulator.runtime import run_loop

    return run_loop(run_play.run_command(args, spec, scenario))


def parse_params(items: list[str], where: str = "") -> dict[str, Any]:
    """`--param` values as the run's `params`; a parameter given twice is refused (`options.repeated_key`).
    `where`: `options.from_environment`'s words."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param {quoted(item)}: expected K=V", errors=[FieldError("--param", "expected K=V")])
        if key in params:
            raise options.repeated_key("--param", key, "parameter", where)
        params[key] = value
    return params


def parse_faults(items: list[str], where: str = "") -> dict[str, Any]:
    """`--fault` values as the run's `faults`; a fault given twice is refused (`options.repeated_key`)."""
    faults: dict[str, Any] = {}
    for item in items:
        name, _, text = (part.strip() for part in item.partition("="))
        if text[:1] in ("{", "["):  # a JSON value, taken as is: first refused if no JSON body may carry it
            option_types.json_value(text, f"--fault {name}")
        fault = parse_cli_fault(item)  # checked first: a name given twice is then a fault's
        for key in fault:
            if key in faults:
                raise options.repeated_key("--fault", key, "fault", where)
        faults.update(fault)
    return faults


def cli_scenario(args: argparse.Namespace) -> Scenario:
    """The scenario the command line names: a YAML file's path (a command-line convenience: over the control API
    a scenario is only ever a name in the scenario folders), or a name."""
    return lookup.find_name_or_file(args.scenario, [Path(d) for d in args.scenarios])


def _distinct_files(args: argparse.Namespace) -> None:
    """Refuse a report written over another: `--junit` and `--report` naming one file kept one of the two, and
    `--junit` naming the scenario file (or the store) wrote XML over it, each without a word."""
    read = {"the scenario file": args.scenario if _is_file(args.scenario) else None, "--db": _store_file(args.db)}
    written: dict[str, str] = {}
    for option in ("--report", "--junit"):
        given = getattr(args, option.lstrip("-"))
        if not given:
            continue
        for other, path in {**read, **written}.items():
            if path and _same_file(given, path):
                message = f"{option} {given!r} is {other}'s file too: give each report a file of its own"
                raise InvalidInput(message, errors=[FieldError(option, f"the same file as {other}")])
        written[option] = given


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except OSError:  # a name longer than a path may be: no file (it was a traceback); the lookup says it is unknown
        return False


def _store_file(db: str | None) -> str | None:
    """The file a `--db` names: a path as given, a `sqlite:` URL's database; none for another store. Compared as
    the URL's text, `--junit x.db --db sqlite:///x.db` wrote the report over the store."""
    if not db or "://" not in db:
        return db
    # Here, not at the top: a command line refused for an option exits before SQLAlchemy is imported.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(db)
    except ArgumentError:
        return None  # the store's opening says what is wrong with it
    return url.database if url.get_backend_name() == "sqlite" else None


def _same_file(a: str, b: str) -> bool:
    first, second = Path(a), Path(b)
    if first.exists() and second.exists():
        return first.samefile(second)
    return first.resolve() == second.resolve()


def _as_options(model: type[RunSpec], fields: dict[str, Any]) -> RunSpec:
    """`parse`, whose refusal names the options the fields came from (`--start-time`, not `start_time`)."""
    try:
        return parse(model, fields)
    except InvalidInput as exc:
        named = [FieldError(_option(e.field), e.message) for e in exc.errors]
        raise InvalidInput("; ".join(str(e) for e in named), errors=named) from None


def named_as_options(exc: InvalidInput) -> InvalidInput:
    """A refusal of the run's own checks (made once the store is open) of `start_time`, a Syncfy start its ids
    cannot hold, naming `--start-time` instead; any other refusal as it is."""
    if not exc.errors or any(e.field != "start_time" for e in exc.errors):
        return exc
    errors = [FieldError(_option(e.field), e.message) for e in exc.errors]
    return InvalidInput(f"{errors[0].field}: {exc.detail}", errors=errors)


def _option(field: str) -> str:
    head, dot, rest = field.partition(".")
    option = {"params": "--param", "faults": "--fault"}.get(head, "--" + head.replace("_", "-"))
    return option + dot + rest


def run_spec(args: argparse.Namespace) -> tuple[RunSpec, Scenario]:
    """The run the options describe, and its scenario (read once: the run plays what was checked, even should its
    file change meanwhile); InvalidInput (exit 2) naming the option that is wrong."""
    if not args.target:
        raise InvalidInput("--target is required (or WEBHOOK_SIM_TARGET)", errors=[FieldError("--target", "required")])
    options.scenario_dirs(args.scenarios)
    _distinct_files(args)
    if args.secret is not None:  # before the run's own check, so the message names the option
        option_types.check_secret(args.signing, args.secret)
    scenario = cli_scenario(args)
    spec = _as_options(
        RunSpec,
        {
            "scenario": scenario.name,
            "target": args.target,
            "seed": args.seed,
            "speed": args.speed,
            "params": parse_params(args.param, options.from_environment(args, "--param")),
            "faults": parse_faults(args.fault, options.from_environment(args, "--fault")),
            "signing": args.signing,
            "secret": args.secret,
            "max_in_flight": args.max_in_flight,
            "start_time": args.start_time,
        },
    )
    return spec, scenario
