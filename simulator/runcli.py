"""`webhook-sim run`: one scenario in-process against a URL, with progress, a summary and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from simulator import signing
from simulator.delivery.faults import parse_cli_fault
from simulator.errors import FieldError, InvalidInput
from simulator.report import run_report, succeeded
from simulator.service import Simulator
from simulator.serving import tune_gc
from simulator.specs import RunSpec, parse


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
        raise InvalidInput("--target is required (or WEBHOOK_SIM_TARGET)",
                           errors=[FieldError("--target", "required")])
    spec = parse(RunSpec, {
        "scenario": args.scenario, "target": args.target, "seed": args.seed, "speed": args.speed,
        "params": parse_params(args.param), "faults": parse_faults(args.fault), "signing": args.signing,
        "secret": args.secret, "max_in_flight": args.max_in_flight, "start_time": args.start_time,
    })
    if spec.secret is not None:
        signing.validate_secret(spec.signing or "syncfy", spec.secret)
    sim = await Simulator.open(args.db, scenario_dirs=[Path(d) for d in args.scenarios])
    tune_gc()
    try:
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
    rows = [("status", report["status"]), ("events", report["events"]), ("deliveries", report["deliveries"]),
            ("succeeded", report["succeeded"]), ("failed", report["failed"]), ("attempts", report["attempts"])]
    rows += [(f"latency {k} (ms)", v) for k, v in report["latency_ms"].items()]
    for status, n in report["by_status"].items():
        rows.append((f"  {status}", n))
    for name, value in rows:
        table.add_row(name, "-" if value is None else str(value))
    Console(file=sys.stdout, width=100).print(table)
    if report["error"]:
        print(f"error: {report['error']}", file=sys.stderr)
