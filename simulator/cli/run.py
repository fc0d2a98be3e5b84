"""`webhook-sim run`: one scenario in-process against a URL, with progress, a summary that names what failed, and
an exit code: 0 when every delivery succeeded, 1 when one did not, 2 for bad input, 130 after Ctrl-C and 143 after
SIGTERM (each still prints, and writes, the summary of what happened so far)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import Any

from simulator.api.twins.serving import serving as twins_serving
from simulator.cli import options, retries, summary
from simulator.core.report import deliveries_of, junit_xml, run_report, succeeded
from simulator.core.runs import scenario_refused
from simulator.core.simulator import Simulator
from simulator.delivery.faults import parse_cli_fault
from simulator.errors import FieldError, InvalidInput
from simulator.models.enums import SIGNING_SCHEMES
from simulator.models.inputs import RunSpec, SubscriptionSpec, parse
from simulator.runtime import raise_file_limit, tune_gc
from simulator.scenarios import Scenario, loader
from simulator.store.outbox import ACTIVE
from simulator.store.resume import own_work_only

ANSWER_GRACE = 1.0  # seconds after Ctrl-C or SIGTERM for the answers to attempts already sent
STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a scenario in-process against a URL (for CI)",
        description="Play one scenario in this process against --target; exit 0 iff every "
        "delivery succeeded, 1 if any failed, 2 for bad input, 130 after Ctrl-C, 143 after SIGTERM.",
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
    options.add_allowed_hosts(p, "--api-port's twins")
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
    args.allowed_host = options.allowed_hosts(args.allowed_host)  # checked before the store opens
    raise_file_limit()
    stop = Stop()
    undo = stop.install()  # before the store exists: a temporary one is deleted whenever the signal comes
    try:
        with own_work_only():  # what an earlier run left in --db is not this run's to send (see the module)
            sim = await Simulator.open(args.db, scenario_dirs=[Path(d) for d in args.scenarios])
        tune_gc()
        try:
            played = await _play(sim, spec, args, stop)
        finally:
            await sim.close(grace=1 if stop.is_set() else 2)
        if played is None:
            print(f"interrupted by {stop.name} before the run started", file=sys.stderr)
            return stop.exit_code
        return _verdict(args, *played, stop)
    finally:
        undo()


Played = tuple[dict[str, Any], list[dict[str, Any]], float | None]


async def _play(sim: Simulator, spec: RunSpec, args: argparse.Namespace, stop: Stop) -> Played | None:
    """Play the run until it ends or `stop` is set; its report and deliveries, read from the records once no
    attempt is under way any more, and when it started. None when `stop` came before the run started."""
    async with AsyncExitStack() as stack:
        if args.api_port is not None:
            twins = twins_serving(sim, args.api_port, allowed_hosts=args.allowed_host)
            url = await stack.enter_async_context(twins)
            print(f"provider API twins: {url}/basistheory, {url}/syncfy", file=sys.stderr, flush=True)
        await _say_earlier_work(sim)
        if stop.is_set():
            return None
        run = await sim.runs.start(await _bounded(sim, spec, args), scenario=cli_scenario(args))
        await summary.progress(sim.runs, run.id, stop.event)
        final = await sim.runs.get(run.id)
        if not stop.is_set() and scenario_refused(final.status, final.error):
            await _sent(sim, run.id, stop)  # the events before the invalid part were made: they are delivered
        if stop.is_set():
            # The process is stopping: a store's rows process that answers nothing is given seconds, not a minute.
            sim.store.writer.closing()
            await sim.runs.cancel(run.id)
            await _settle(sim, run.id, ANSWER_GRACE)
        final = await sim.runs.get(run.id)
        report = await run_report(sim.store, final)
        deliveries = await deliveries_of(sim.store, run.id) if args.junit else []
    return report, deliveries, final.started_at


def _verdict(
    args: argparse.Namespace,
    report: dict[str, Any],
    deliveries: list[dict[str, Any]],
    started_at: float | None,
    stop: Stop,
) -> int:
    """Print the summary, write the reports; the exit code."""
    summary.show(report, args.failures, interrupted=stop.name if stop.is_set() else None)
    reports: tuple[tuple[str | None, Callable[[], bytes]], ...] = (
        (args.report, lambda: (json.dumps(report, indent=2) + "\n").encode()),
        (args.junit, lambda: junit_xml(report, deliveries, started_at)),
    )
    for path, content in reports:
        if path:
            try:
                Path(path).write_bytes(content())
            except OSError as exc:  # checked before the run; the folder may have gone meanwhile
                print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
                return 1
    if stop.is_set():
        return stop.exit_code
    if scenario_refused(report["status"], report["error"]):
        return 2  # as for a file refused before the run
    return 0 if succeeded(report) else 1


async def _say_earlier_work(sim: Simulator) -> None:
    """`run` sends its own run's deliveries only (see `simulator.store.resume`): say what it leaves in the store.
    On a shared store the processes that send on it send them, as always, so there is nothing to say."""
    if sim.store.shared:
        return
    left = sum(n for status, n in (await sim.store.delivery_counts()).items() if status in ACTIVE)
    if left:
        what = "1 delivery made before this run is" if left == 1 else f"{left} deliveries made before this run are"
        print(
            f"{what} still to send in this store: left for `webhook-sim serve` on it (a run sends only its own)",
            file=sys.stderr,
            flush=True,
        )


async def _sent(sim: Simulator, run_id: str, stop: Stop) -> None:
    """Wait until the run's deliveries are final (or `stop`): a run that failed half-way made its first events,
    and its summary says how their deliveries ended, not that they were never tried."""
    await sim.engine.flush(run_id)  # a Syncfy batch the run was collecting is a delivery too
    while not stop.is_set():
        counts = await sim.store.delivery_counts(run_id=run_id)
        if not any(counts.get(status) for status in ACTIVE):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.event.wait(), 0.1)


async def _settle(sim: Simulator, run_id: str, grace: float) -> None:
    """After Ctrl-C or SIGTERM, before the summary is read from the records: no attempt starts any more; those
    under way get up to `grace` seconds for their answers; those still waiting are then cut short and recorded
    as interrupted (the receiver may have the request). Read before this, an attempt the receiver had was
    counted as not made, and an answer that came in the grace could be missed."""
    await sim.engine.flush(run_id)  # a Syncfy batch the run was collecting is a delivery too
    sim.engine.stopping = True  # what is cut short from here on is recorded as interrupted (see `Outcomes`)
    await asyncio.gather(*(lane.close(grace) for lane in list(sim.engine.lanes.values())))
    await sim.store.writer.barrier()


class Stop:
    """The first Ctrl-C (SIGINT) or SIGTERM, which is how CI systems cancel a step: the run ends, its summary is
    printed, its reports written and a temporary store deleted; the exit code is 128 + the signal's number (130,
    143), as a shell reports a process the signal ended. A second one of the same signal ends it at once."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.signum: signal.Signals | None = None

    def is_set(self) -> bool:
        return self.event.is_set()

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum or signal.SIGINT)

    @property
    def name(self) -> str:
        return STOP_SIGNALS.get(self.signum or signal.SIGINT, "Ctrl-C")

    def install(self) -> Callable[[], None]:
        """Catch the stop signals; returns what undoes it. Where they cannot be caught (not the main thread, no
        signals here) they keep their default action."""
        loop = asyncio.get_running_loop()

        def first(signum: signal.Signals) -> None:
            self.signum = self.signum or signum
            self.event.set()
            loop.add_signal_handler(signum, second, signum)

        def second(signum: signal.Signals) -> None:
            # The signal's own action: the process ends at once, as if nothing caught it. (Python's own handler
            # for SIGINT raised KeyboardInterrupt inside whichever task ran, and the loop's end then waited for
            # tasks that never finished: a second Ctrl-C hung the run.)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

        caught = []
        for signum in STOP_SIGNALS:
            try:
                loop.add_signal_handler(signum, first, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            caught.append(signum)

        def undo() -> None:
            for signum in caught:
                with suppress(Exception):
                    loop.remove_signal_handler(signum)

        return undo
