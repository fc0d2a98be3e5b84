"""What `webhook-sim run` shows: its progress while the run plays (when the next event is due, when the last one
is) and the summary that ends it, naming each failed delivery.

On a terminal the progress is one line rewritten in place and the summary a table; otherwise (a CI log, a pipe)
both are plain lines, with no box drawing and nothing that wraps.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from simulator.api.access_log import escape_controls
from simulator.core.report import failure_line
from simulator.models import Run
from simulator.models.enums import FINISHED_RUN_STATUSES

if TYPE_CHECKING:  # `validate` and `scenarios` print a summary and open no store
    from simulator.core.runs import RunManager


def duration(seconds: float) -> str:
    """`1 h 4 min`, `19 min 12 s`, `42 s`, `0.3 s`."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def clock(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


def plan_line(run: Run) -> str | None:
    """How long the run will take, said before it has: None when not known (speed 0, or a timeline too long)."""
    if run.ends_at is None or run.planned_events is None:
        return None
    speed = run.spec.get("speed") or 1
    left = max(0.0, run.ends_at - time.time())
    return (
        f"{run.scenario}: {run.planned_events} events, the last one due at {clock(run.ends_at)}, "
        f"in {duration(left)} (speed {speed:g}; --speed 0 plays it without waiting)"
    )


def progress_line(run: Run, tty: bool) -> str:
    counts = " ".join(f"{k}={v}" for k, v in sorted(run.counts.items()))
    planned = f"/{run.planned_events}" if run.planned_events is not None else ""
    line = f"{run.scenario}: {run.status}, {run.events}{planned} events, deliveries: {counts or 'none yet'}"
    if run.next_event_at is not None:
        line += f", next event at {clock(run.next_event_at)}"
        if tty:  # a log line must not change every second, or every poll prints one
            line += f" (in {duration(max(0.0, run.next_event_at - time.time()))})"
    return line


async def progress(runs: RunManager, run_id: str, stop: asyncio.Event) -> None:
    """Show the run's progress until it ends or `stop` is set: a line rewritten in place on a terminal, a plain
    line at each change otherwise."""
    console = Console(stderr=True, highlight=False)
    tty = console.is_terminal
    last, announced = "", False
    while True:
        run = await _next_look(runs, run_id, stop, 0.25 if tty else 2.0)
        if not announced and (plan := plan_line(run)) is not None:
            announced = True
            _say(console, tty, plan, end="\n")
        line = progress_line(run, tty)
        if line != last or tty:
            _say(console, tty, line)
        last = line
        if run.status in FINISHED_RUN_STATUSES or stop.is_set():
            if tty:
                console.print()  # the line rewritten in place ends here, before anything else is printed
            return


def _say(console: Console, tty: bool, line: str, end: str = "\r") -> None:
    if tty:
        console.print(line.ljust(console.width - 1)[: console.width - 1], end=end, soft_wrap=True)
    else:
        print(line, file=sys.stderr, flush=True)


async def _next_look(runs: RunManager, run_id: str, stop: asyncio.Event, interval: float) -> Run:
    """The run after `interval` seconds, or sooner when it ends or `stop` is set."""
    ended = asyncio.ensure_future(runs.wait(run_id))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({ended, stopped}, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
    for task in (ended, stopped):
        task.cancel()
    await asyncio.gather(ended, stopped, return_exceptions=True)
    return await runs.get(run_id)


def rows(report: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [
        ("status", report["status"]),
        ("events", report["events"]),
        ("deliveries", report["deliveries"]),
        ("succeeded", report["succeeded"]),
        ("failed", report["failed"]),
        # Said only when there are some, as a stopped run has: a run that ended has none.
        *([("not sent", report["not_sent"])] if report["not_sent"] else []),
        ("attempts", report["attempts"]),
    ]
    out += [(f"latency {k} (ms)", v) for k, v in report["latency_ms"].items()]
    out += [(f"  {status}", n) for status, n in report["by_status"].items()]
    return out


def show(report: dict[str, Any], limit: int, *, interrupted: str | None = None) -> None:
    """Print the summary on stdout: the measures, then the failed deliveries (at most `limit`) and why.
    `interrupted`: what stopped the run (`Ctrl-C`, `SIGTERM`), if something did."""
    console = Console(file=sys.stdout, highlight=False)
    title = f"{report['scenario']} (seed {report['seed']}, speed {report['speed']:g})"
    if console.is_terminal:
        console.print(title, style="bold", soft_wrap=True)
        table = Table(show_header=False)
        table.add_column("measure")
        table.add_column("value", justify="right")
        for name, value in rows(report):
            table.add_row(name, "-" if value is None else str(value))
        console.print(table)
    else:
        print(title)
        for name, value in rows(report):
            print(f"{name}: {'-' if value is None else value}")
    _failures(report, limit)
    sys.stdout.flush()
    if interrupted:
        print(f"interrupted: this is what happened before {interrupted}", file=sys.stderr)
    if report["error"]:
        print(f"error: {escape_controls(report['error'])}", file=sys.stderr)


def _failures(report: dict[str, Any], limit: int) -> None:
    listed = report["failures"]
    total = len(listed) + report["failures_omitted"]
    if not total:
        return
    print(f"failed deliveries ({total}):")
    for item in listed[:limit]:
        # The answer excerpt is the receiver's text: a control character in it (ESC, BEL, CR) could clear the
        # terminal or rewrite the CI log's lines, so each is written as an escape, as `serve` logs them.
        print(f"  {escape_controls(failure_line(item))}")
    if total > limit:
        print(f"  … and {total - limit} more (all of them in --report and --junit)")
