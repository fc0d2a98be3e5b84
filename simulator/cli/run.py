"""`webhook-sim run`: one scenario in-process against a URL, with progress, a summary and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from simulator import signing
from simulator.api.twins.serving import serving as twins_serving
from simulator.cli import options
from simulator.core.report import run_report, succeeded
from simulator.core.simulator import Simulator
from simulator.delivery.faults import parse_cli_fault
from simulator.errors import FieldError, InvalidInput
from simulator.models.enums import SIGNING_SCHEMES
from simulator.models.inputs import RunSpec, parse
from simulator.runtime import tune_gc


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a scenario in-process against a URL (for CI)",
        description="Play one scenario in this process against --target; exit 0 iff every "
        "delivery succeeded, 1 if any failed, 2 for bad input.",
    )
    p.add_argument("scenario", help="a scenario name or a YAML file")
    options.add(p, "--target", "the URL to deliver to")
    options.add(p, "--seed", "the run's seed (default: a random one, reported)", type=int)
    options.add(p, "--speed", "1 real time, 10 ten times faster, 0 no waiting", default=1.0, type=float)
    options.add(p, "--param", "a scenario parameter", many=",", metavar="K=V")
    options.add(p, "--fault", "a fault to inject, e.g. drop=0.1", many=";", metavar="SPEC")
    options.add(p, "--signing", "the signing scheme (default: the provider's own)", choices=SIGNING_SCHEMES)
    options.add(p, "--secret", "the signing secret (default: a generated one)")
    options.add(p, "--max-in-flight", "concurrent requests to the target", default=1, type=int)
    options.add(p, "--start-time", "ISO time of the first event (default: now)")
    options.add(p, "--db", "store URL or path (default: ephemeral)")
    options.add(p, "--report", "write a JSON report to this file")
    options.add(p, "--scenarios", "a folder of scenario files", many=os.pathsep, metavar="DIR")
    options.add(p, "--api-port", "serve the provider API twins on this 127.0.0.1 port while the run lasts", type=int)
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
        faults.update(parse_cli_fault(item))
    return faults


async def run_command(args: argparse.Namespace) -> int:
    if not args.target:
        raise InvalidInput("--target is required (or WEBHOOK_SIM_TARGET)", errors=[FieldError("--target", "required")])
    spec = parse(
        RunSpec,
        {
            "scenario": args.scenario,
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
    if spec.secret is not None:
        signing.validate_secret(spec.signing or "syncfy", spec.secret)
    sim = await Simulator.open(args.db, scenario_dirs=[Path(d) for d in args.scenarios])
    tune_gc()
    try:
        async with AsyncExitStack() as stack:
            if args.api_port is not None:
                url = await stack.enter_async_context(twins_serving(sim, args.api_port))
                print(f"provider API twins: {url}/basistheory, {url}/syncfy", file=sys.stderr, flush=True)
            run = await sim.runs.start(spec)
            await _progress(sim, run.id)
            final = await sim.runs.get(run.id)
            report = await run_report(sim.store, final)
    finally:
        await sim.close(grace=2)
    _summary(report)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if succeeded(report) else 1


async def _progress(sim: Simulator, run_id: str) -> None:
    """Live counts while the run goes: a progress line on a terminal, plain lines otherwise."""
    console = Console(stderr=True)
    tty = console.is_terminal
    last = ""
    while True:
        run = await sim.runs.wait(run_id, timeout=0.25 if tty else 2.0)
        counts = " ".join(f"{k}={v}" for k, v in sorted(run.counts.items()))
        line = f"{run.scenario}: {run.status}, {run.events} events, deliveries: {counts or 'none yet'}"
        if tty:
            console.print(line, end="\r", highlight=False)
        elif line != last:
            print(line, file=sys.stderr, flush=True)
        last = line
        if run.status in ("completed", "failed", "cancelled"):
            if tty:
                console.print()
            return
        await asyncio.sleep(0)


def _summary(report: dict[str, Any]) -> None:
    table = Table(title=f"{report['scenario']} (seed {report['seed']}, speed {report['speed']:g})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("status", report["status"]),
        ("events", report["events"]),
        ("deliveries", report["deliveries"]),
        ("succeeded", report["succeeded"]),
        ("failed", report["failed"]),
        ("attempts", report["attempts"]),
    ]
    rows += [(f"latency {k} (ms)", v) for k, v in report["latency_ms"].items()]
    for status, n in report["by_status"].items():
        rows.append((f"  {status}", n))
    for name, value in rows:
        table.add_row(name, "-" if value is None else str(value))
    Console(file=sys.stdout, width=100).print(table)
    if report["error"]:
        print(f"error: {report['error']}", file=sys.stderr)
