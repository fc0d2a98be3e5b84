"""`webhook-sim serve`: the control API, the scheduler and the delivery workers in one process, under uvicorn.

SIGTERM and SIGINT stop it gracefully: no new connections or runs, in-flight attempts finish (up to 10 s),
pending deliveries and schedules stay in the database for the next start.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from simulator import __version__, signing
from simulator.api import access_log as api_logging
from simulator.api.app import server_app
from simulator.cli import options
from simulator.errors import FieldError, InvalidInput
from simulator.runtime import bind_tcp, stop_signals_end_quietly, tune_gc

SHUTDOWN_GRACE = 10.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="the server: control API, scheduler, delivery workers",
        description="Serve the control API, fire schedules and deliver, until SIGTERM or Ctrl-C.",
    )
    options.add(p, "--host", "the address to listen on; anything but loopback wants --token", default="127.0.0.1")
    options.add(p, "--port", "the port to listen on (0: any free one)", default=8080, type=int)
    options.add(p, "--db", "the store: a SQLite path or URL", default="sqlite:///webhook-sim.db")
    options.add(p, "--scenarios", "a folder of scenario files", many=os.pathsep, metavar="DIR")
    options.add(p, "--token", "require `Authorization: Bearer TOKEN` on every route but /health")
    options.add(p, "--signing-key", "PEM file of the RSA key that signs Basis Theory deliveries")
    options.add(p, "--provider-key", "the only key the provider API twins accept (default: any non-empty key)")
    options.add(p, "--log-format", "how the log is written", default="text", choices=["text", "json"])
    p.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT. `args`: host, port, db, scenarios, token, signing_key, provider_key,
    log_format.
    Returns 0 after a graceful stop, 1 when it could not start."""
    api_logging.configure(args.log_format)
    key = _load_key(args.signing_key)
    try:
        sock = bind_tcp(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    token = args.token or None
    app = server_app(
        args.db,
        scenario_dirs=[Path(d) for d in args.scenarios],
        key=key,
        token=token,
        grace=SHUTDOWN_GRACE,
        provider_key=args.provider_key or None,
    )
    tune_gc()
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", server_header=False, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    _announce(args.host, sock.getsockname()[1], token)
    with stop_signals_end_quietly():
        server.run(sockets=[sock])
    return 0 if server.started else 1


def _load_key(path: str | None) -> signing.SigningKey | None:
    if not path:
        return None
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read the signing key {path}: {exc.strerror or exc}",
            errors=[FieldError("signing-key", "unreadable file")],
        ) from None
    return signing.SigningKey.from_pem(pem)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _announce(host: str, port: int, token: str | None) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"webhook-sim {__version__} serving on http://{shown}:{port}", flush=True)
    if token:
        print("every route but /health and /keys/webhooks.pem needs `Authorization: Bearer <token>`", flush=True)
    elif _is_loopback(host):
        print(f"no --token: the API is open to every process on this machine, and only to it ({host})", flush=True)
    else:
        print(
            f"warning: no --token while listening on {host}: anyone who can reach port {port} controls "
            "this simulator; set --token or WEBHOOK_SIM_TOKEN",
            file=sys.stderr,
            flush=True,
        )
