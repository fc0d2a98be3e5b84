"""The part of `webhook-sim run` that plays the run once its options are checked (see `simulator.cli.run`): the
store, the engine and the twins, the summary and the reports, and what Ctrl-C and SIGTERM do meanwhile."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import Any

from simulator.api.twins.serving import serving as twins_serving
from simulator.cli import retries, summary
from simulator.cli.run import named_as_options
from simulator.core.report import deliveries_of, junit_xml, run_report, succeeded
from simulator.core.runs import scenario_refused
from simulator.core.simulator import Simulator
from simulator.errors import InvalidInput
from simulator.models.inputs import RunSpec, SubscriptionSpec, parse
from simulator.runtime import raise_file_limit, tune_gc
from simulator.scenarios import Scenario
from simulator.store.outbox import ACTIVE
from simulator.store.resume import own_work_only
from simulator.waiting import set_within

ANSWER_GRACE = 1.0  # seconds after Ctrl-C or SIGTERM for the answers to attempts already sent
STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


async def _bounded(sim: Simulator, spec: RunSpec, args: argparse.Namespace, provider: str) -> RunSpec:
    """With --max-attempts or --retry-delays, the target becomes a subscription with that retry schedule (the
    default one `provider`'s)."""
    if args.max_attempts is None and not args.retry_delays:
        return spec
    retry = retries.retry_spec(args, provider)
    fields = {"url": spec.target, "signing": spec.signing, "secret": spec.secret, "retry": retry}
    target = parse(SubscriptionSpec, {**fields, "max_in_flight": spec.max_in_flight, "disable_after": 0})
    sub = await sim.create_subscription(target, ephemeral=True)
    return spec.model_copy(update={"target": None, "signing": None, "secret": None, "subscriptions": [sub.id]})


async def run_command(args: argparse.Namespace, spec: RunSpec, scenario: Scenario) -> int:
    """Play `spec` of `scenario`, which `args` describe and which were checked before this began; the exit code."""
    raise_file_limit()
    stop = Stop()
    undo = stop.install()  # before the store exists: a temporary one is deleted whenever the signal comes
    try:
        with own_work_only():  # what an earlier run left in --db is not this run's to send (see the module)
            sim = await Simulator.open(args.db, scenario_dirs=[Path(d) for d in args.scenarios])
        tune_gc()
        try:
            played = await _play(sim, spec, scenario, args, stop)
        finally:
            await sim.close(grace=1 if stop.is_set() else 2)
        if played is None:
            print(f"interrupted by {stop.name} before the run started", file=sys.stderr)
            return stop.exit_code
        return _verdict(args, *played, stop)
    finally:
        undo()


Played = tuple[dict[str, Any], list[dict[str, Any]], float | None]


async def _play(
    sim: Simulator, spec: RunSpec, scenario: Scenario, args: argparse.Namespace, stop: Stop
) -> Played | None:
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
        try:
            run = await sim.runs.start(await _bounded(sim, spec, args, scenario.provider), scenario=scenario)
        except InvalidInput as exc:  # the run's own checks: a field the command line gave is named as its option
            raise named_as_options(exc) from None
        await summary.progress(sim.runs, run.id, stop.event)
        final = await sim.runs.get(run.id)
        if not stop.is_set() and final.status == "failed":
            await _sent(sim, run.id, stop)  # the events before what failed were made: they are delivered
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
    unwritten = False
    # Each report whatever became of the other (a JUnit file a CI step collects in any case went with the JSON's
    # folder), and an interrupt's exit code kept: the step still says it was stopped.
    for path, content in reports:
        if path:
            try:
                Path(path).write_bytes(content())
            except OSError as exc:  # checked before the run; the folder may have gone meanwhile
                print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
                unwritten = True
    if stop.is_set():
        return stop.exit_code
    if unwritten:
        return 1
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
        await set_within(stop.event, 0.1)


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
