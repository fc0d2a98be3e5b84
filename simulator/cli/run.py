"""`webhook-sim run`: one scenario in-process against a URL, with progress, a summary that names what failed, and
an exit code: 0 when every delivery succeeded, 1 when one did not, 2 for bad input, 130 after Ctrl-C (which still
prints, and writes, the summary of what happened so far)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import Any

from simulator.api.twins.serving import serving as twins_serving
from simulator.cli import options, retries, summary
from simulator.core.report import deliveries_of, junit_xml, run_report, succeeded
from simulator.core.simulator import Simulator
from simulator.delivery.faults import parse_cli_fault
from simulator.errors import FieldError, InvalidInput
from simulator.models.enums import SIGNING_SCHEMES
from simulator.models.inputs import RunSpec, SubscriptionSpec, parse
from simulator.runtime import tune_gc
from simulator.scenarios import Scenario, loader

INTERRUPTED = 130
ANSWER_GRACE = 1.0  # seconds after Ctrl-C for the answers to attempts already sent


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a scenario in-process against a URL (for CI)",
        description="Play one scenario in this process against --target; exit 0 iff every "
        "delivery succeeded, 1 if any failed, 2 for bad input, 130 after Ctrl-C.",
    )
    p.add_argument("scenario", help="a scenario name or a YAML file")
    options.add(p, "--target", "the URL to deliver to")
    options.add(p, "--seed", "the run's seed (default: a random one, reported)", type=options.seed)
    options.add(p, "--speed", "1 real time, 10 ten times faster, 0 no waiting", default=1.0, type=options.speed)
    options.add(p, "--param", "a scenario parameter", many=",", metavar="K=V")
    options.add(p, "--fault", "a fault to inject, e.g. drop=0.1", many=";", metavar="SPEC")
    options.add(p, "--signing", "the signing scheme (default: the provider's own)", choices=SIGNING_SCHEMES)
    options.add(p, "--secret", "the signing secret (default: a generated one)", type=options.secret)
    options.add_max_in_flight(p, RunSpec, "concurrent requests to the target")
    retries.add(p, scaled=True)
    options.add(p, "--start-time", "ISO time of the first event (default: now)")
    options.add(p, "--db", "store URL or path (default: ephemeral)")
    options.add(p, "--report", "write a JSON report to this file (default: none)", type=options.output_file)
    options.add(
        p,
        "--junit",
        "write a JUnit XML report to this file, a test case per delivery (default: none)",
        type=options.output_file,
    )
    options.add(p, "--failures", "failed deliveries named in the summary", default=10, type=options.count)
    options.add_scenarios(p)
    options.add(
        p, "--api-port", "serve the provider API twins on this 127.0.0.1 port while the run lasts", type=options.port
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from simulator.runtime import run_loop

    return run_loop(run_command(args))


def parse_params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param {item!r}: expected K=V", errors=[FieldError("--param", "expected K=V")])
        params[key] = value
    return params


def parse_faults(items: list[str]) -> dict[str, Any]:
    faults: dict[str, Any] = {}
    for item in items:
        name, _, text = (part.strip() for part in item.partition("="))
        if text[:1] in ("{", "["):  # a JSON value, taken as is: first refused if no JSON body may carry it
            options.json_value(text, f"--fault {name}")
        faults.update(parse_cli_fault(item))
    return faults


def cli_scenario(args: argparse.Namespace) -> Scenario:
    """The scenario the command line names: a YAML file's path (a command-line convenience: over the control API
    a scenario is only ever a name in the scenario folders), or a name."""
    return loader.find_name_or_file(args.scenario, [Path(d) for d in args.scenarios])


def run_spec(args: argparse.Namespace) -> RunSpec:
    """The run the options describe; InvalidInput (exit 2) naming the option that is wrong."""
    if not args.target:
        raise InvalidInput("--target is required (or WEBHOOK_SIM_TARGET)", errors=[FieldError("--target", "required")])
    options.scenario_dirs(args.scenarios)
    if args.secret is not None:  # before the run's own check, so the message names the option
        options.check_secret(args.signing, args.secret)
    spec = parse(
        RunSpec,
        {
            "scenario": cli_scenario(args).name,
            "target": args.target,
            "seed": args.seed,
            "speed": args.speed,
            "params": parse_params(args.param),
            "faults": parse_faults(args.fault),
            "signing": args.signing,
            "secret": args.secret,
            "max_in_flight": args.max_in_flight,
            "start_time": args.start_time,
        },
    )
    return spec


async def _bounded(sim: Simulator, spec: RunSpec, args: argparse.Namespace) -> RunSpec:
    """With --max-attempts or --retry-delays, the target becomes a subscription with that retry schedule."""
    if args.max_attempts is None and not args.retry_delays:
        return spec
    retry = retries.retry_spec(args, cli_scenario(args).provider)
    fields = {"url": spec.target, "signing": spec.signing, "secret": spec.secret, "retry": retry}
    target = parse(SubscriptionSpec, {**fields, "max_in_flight": spec.max_in_flight, "disable_after": 0})
    sub = await sim.create_subscription(target, ephemeral=True)
    return spec.model_copy(update={"target": None, "signing": None, "secret": None, "subscriptions": [sub.id]})


async def run_command(args: argparse.Namespace) -> int:
    spec = run_spec(args)
    sim = await Simulator.open(args.db, scenario_dirs=[Path(d) for d in args.scenarios])
    tune_gc()
    stop = asyncio.Event()
    try:
        async with AsyncExitStack() as stack:
            if args.api_port is not None:
                url = await stack.enter_async_context(twins_serving(sim, args.api_port))
                print(f"provider API twins: {url}/basistheory, {url}/syncfy", file=sys.stderr, flush=True)
            run = await sim.runs.start(await _bounded(sim, spec, args), scenario=cli_scenario(args))
            stack.callback(_ctrl_c_sets(stop))
            await summary.progress(sim.runs, run.id, stop)
            if stop.is_set():
                await sim.runs.cancel(run.id)
                await _answers_under_way(sim, ANSWER_GRACE)
            final = await sim.runs.get(run.id)
            report = await run_report(sim.store, final)
            deliveries = await deliveries_of(sim.store, run.id) if args.junit else []
    finally:
        await sim.close(grace=1 if stop.is_set() else 2)
    summary.show(report, args.failures, interrupted=stop.is_set())
    reports: tuple[tuple[str | None, Callable[[], bytes]], ...] = (
        (args.report, lambda: (json.dumps(report, indent=2) + "\n").encode()),
        (args.junit, lambda: junit_xml(report, deliveries, final.started_at)),
    )
    for path, content in reports:
        if path:
            try:
                Path(path).write_bytes(content())
            except OSError as exc:  # checked before the run; the folder may have gone meanwhile
                print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
                return 1
    if stop.is_set():
        return INTERRUPTED
    return 0 if succeeded(report) else 1


async def _answers_under_way(sim: Simulator, grace: float) -> None:
    """After Ctrl-C: the attempts already sent get up to `grace` seconds for their answers, which are recorded,
    so that the summary counts what the receiver was handed (it had them, answered or not)."""
    await asyncio.gather(*(lane.answered(grace) for lane in list(sim.engine.lanes.values())))
    await sim.store.writer.barrier()


def _ctrl_c_sets(stop: asyncio.Event) -> Any:
    """Make the first Ctrl-C set `stop` (the run ends, its summary is printed); a second one interrupts at once.
    Returns what undoes it."""
    loop = asyncio.get_running_loop()

    def first() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    try:
        loop.add_signal_handler(signal.SIGINT, first)
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here: Ctrl-C interrupts
        return lambda: None

    def undo() -> None:
        with suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)

    return undo
