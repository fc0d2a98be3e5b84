"""The argparse tree of `webhook-sim`, one module per command, and the run of one command line.

Exit codes: 0 success, 1 failure, 2 bad input, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from simulator import __version__
from simulator.cli import (
    catalog,
    deliveries,
    docs,
    listen,
    resend,
    run,
    scenarios,
    serve,
    subscriptions,
    trigger,
    worker,
)
from simulator.errors import SimError

# Each module adds its command(s) to the tree, with `handler` set to the function that runs it.
COMMANDS = (serve, worker, run, trigger, deliveries, resend, subscriptions, catalog, scenarios, listen, docs)
DESCRIPTION = "The `webhook-sim` command: a thin layer over the library, one module per command, one argparse tree."


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="webhook-sim", description=DESCRIPTION)
    root.add_argument("--version", action="version", version=f"webhook-sim {__version__}")
    sub = root.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except SimError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        for err in exc.errors:
            if str(err) not in exc.detail and err.message not in exc.detail:  # each problem said once
                print(f"  {err}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`webhook-sim events | head`): end quietly, as a filter does. Python would report
        # the pipe again when it flushes stdout at exit, so stdout now goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command a closed pipe stopped
