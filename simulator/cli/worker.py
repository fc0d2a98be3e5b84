"""`webhook-sim worker`: a process that sends and plays runs, beside `serve` processes on one PostgreSQL store.

It takes subscriptions' leases (an even share among the live senders), sends their deliveries with their retry
schedules, and gives its leases back when it stops. It plays the runs that `serve --no-send` servers record
(their scenarios are looked up in its own `--scenarios` folders, which should be the servers'). SIGTERM and
SIGINT stop it gracefully: attempts under way finish (up to 10 s) and their records are written. Killed outright,
its leases lapse after `--lease-ttl` seconds and other processes go on from the store; the deliveries it had sent
but not yet recorded go once more, and the runs it played end as interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from simulator.api import access_log as api_logging
from simulator.cli import options
from simulator.cli.serve import load_key
from simulator.credentials import mask_url
from simulator.errors import FieldError, InvalidInput
from simulator.runtime import raise_file_limit, run_loop, tune_gc
from simulator.store import sqlalchemy_url

log = logging.getLogger("webhook_sim.worker")
SHUTDOWN_GRACE = 10.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="a sending process beside `serve`, on a shared PostgreSQL store",
        description="Send deliveries from a PostgreSQL store that `serve` processes fill, until SIGTERM or Ctrl-C.",
    )
    options.add(p, "--db", "the store: a PostgreSQL URL (postgresql://user:password@host/database)")
    options.add_lease_ttl(p)
    options.add(p, "--signing-key", "PEM file of the RSA key that signs Basis Theory deliveries (as `serve`'s)")
    options.add_scenarios(p, "a folder of scenario files (as `serve`'s: the worker plays runs)")
    options.add(p, "--log-format", "how the log is written", default="text", choices=["text", "json"])
    p.set_defaults(handler=worker_command)


def worker_command(args: argparse.Namespace) -> int:
    api_logging.configure(args.log_format)
    check_shared(args.db, "db")
    options.check_lease_ttl(args.lease_ttl)
    folders = options.scenario_dirs(args.scenarios)
    key = load_key(args.signing_key)
    raise_file_limit()
    tune_gc()
    return run_loop(_work(args.db, key, args.lease_ttl, folders))


def check_shared(db: str | None, field: str) -> None:
    """Refuse a store other processes cannot share: a worker beside a SQLite file would find it locked."""
    url, temporary = sqlalchemy_url(db) if db else ("", None)
    if temporary is not None:  # `memory` is made as a temporary file, which nothing else would remove
        temporary.unlink(missing_ok=True)
    if not url.startswith("postgresql"):
        raise InvalidInput(
            "a worker needs a store that processes share: --db postgresql://… (the one `serve` uses)",
            errors=[FieldError(field, "not a PostgreSQL URL")],
        )


async def _work(db: str, key: Any, ttl: float, scenario_dirs: list[Path]) -> int:
    # Imported once the options are checked (as `serve` does): the engine and its store are most of what a start
    # imports, and a command line refused for an option says so without them.
    from sqlalchemy.exc import DBAPIError

    from simulator.core.simulator import Simulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        sim = await Simulator.open(db, key=key, role="worker", lease_ttl=ttl, scenario_dirs=scenario_dirs)
    except (OSError, DBAPIError) as exc:  # unreachable, refused, unknown database: said plainly, not a traceback
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        print(f"error: cannot open the store at {mask_url(db)}: {reason}", file=sys.stderr)
        return 1
    print(f"webhook-sim worker {sim.engine.me} sending", flush=True)
    try:
        await stop.wait()
    finally:
        log.info("stopping: attempts under way finish (up to %.0f s)", SHUTDOWN_GRACE)
        await sim.close(grace=SHUTDOWN_GRACE)
    return 0
