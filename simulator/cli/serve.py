"""`webhook-sim serve`: the control API, the scheduler and the delivery workers in one process, under uvicorn.

SIGTERM and SIGINT stop it gracefully: no new connections or runs, in-flight attempts finish (up to 10 s),
pending deliveries and schedules stay in the database for the next start.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from simulator import __version__, signing
from simulator.api import access_log as api_logging
from simulator.cli import option_types, options
from simulator.errors import FieldError, InvalidInput
from simulator.runtime import (
    HEADER_TIMEOUT,
    Server,
    bind_tcp,
    is_loopback,
    raise_file_limit,
    server_config,
    stop_signals_end_quietly,
    tune_gc,
)

SHUTDOWN_GRACE = 10.0
# Under a tenth of a second a slow but honest client on a far network loses its connection; past an hour an idle
# one holds a slot that long.
HEADER_TIMEOUT_RANGE = (0.1, 3600.0)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="the server: control API, scheduler, delivery workers",
        description="Serve the control API, fire schedules and deliver, until SIGTERM or Ctrl-C.",
    )
    options.add(
        p,
        "--host",
        "the address to listen on; anything but loopback needs --token or --token-file",
        default="127.0.0.1",
    )
    options.add(p, "--port", "the port to listen on (0: any free one)", default=8080, type=option_types.port)
    options.add(p, "--db", "the store: a SQLite path or URL", default="sqlite:///webhook-sim.db")
    options.add_scenarios(p)
    options.add_allowed_hosts(p, "the server")
    options.add(
        p,
        "--token",
        "require `Authorization: Bearer TOKEN` on the control API: every route but /health and /keys/webhooks.pem "
        "(the dashboard's page asks for it; the API twins check their own keys)",
    )
    options.add(p, "--token-file", "read the token from this file (a container secret, say): its first line")
    options.add(
        p,
        "--insecure-no-token",
        "serve a non-loopback address without a token: anyone who reaches the port controls the simulator",
        default=False,
        flag_only=True,
    )
    low, high = HEADER_TIMEOUT_RANGE
    options.add(
        p,
        "--header-timeout",
        f"seconds a client has to send a request head, and may pause within a body ({low:g} to {high:g})",
        default=HEADER_TIMEOUT,
        type=option_types.seconds_between(low, high),
    )
    options.add(
        p,
        "--max-connections",
        "open client connections kept, at least 1 (default: half the file descriptors, at most 1000)",
        type=option_types.positive,
    )
    options.add(p, "--signing-key", "PEM file of the RSA key that signs Basis Theory deliveries")
    options.add(
        p,
        "--provider-key",
        "the only key the provider API twins accept (default: the --token when there is one, else any non-empty key)",
    )
    options.add(
        p,
        "--send",
        "on a shared PostgreSQL store: send deliveries and play runs here too (--no-send leaves both to `worker`"
        " processes)",
        default=True,
        flag_only=True,
    )
    options.add(
        p,
        "--retention",
        "delete deliveries that ended longer ago than this (30m, 12h, 7d), with their attempts; events stay "
        "(default: keep everything)",
        type=option_types.retention,
    )
    options.add_lease_ttl(p)
    options.add(p, "--log-format", "how the log is written", default="text", choices=["text", "json"])
    p.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT. `args`: host, port, db, scenarios, token, signing_key, provider_key,
    log_format.
    Returns 0 after a graceful stop, 1 when it could not start."""
    options.check_host(args.host)  # before the logging is set up: a refused command line changes nothing
    api_logging.configure(args.log_format)
    token = _token(args)
    check_exposure(args.host, token, insecure=args.insecure_no_token)
    key = load_key(args.signing_key)
    options.check_lease_ttl(args.lease_ttl)
    folders = options.scenario_dirs(args.scenarios)
    # Imported once the options are checked: the application and its store are most of what a start imports, and
    # a command line refused for an option says so without them.
    from simulator.api.app import server_app, stopping
    from simulator.store import ensure_free

    ensure_free(args.db)  # a second server on one database is refused before it binds, naming the holder
    raise_file_limit()
    try:
        sock = bind_tcp(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    app = server_app(
        args.db,
        scenario_dirs=folders,
        key=key,
        token=token,
        grace=SHUTDOWN_GRACE,
        # A token guards the twins too: with any key taken, whoever reached the server (a host on its network, a
        # page that rebinds its name to it) made a twin's webhook, a subscription, and was sent every event.
        provider_key=args.provider_key or token,
        sends=args.send,
        lease_ttl=args.lease_ttl,
        loopback=is_loopback(args.host),
        allowed_hosts=options.allowed_hosts(args.allowed_host),
        retention=args.retention,
    )
    tune_gc()
    config = server_config(
        app,
        lifespan="on",
        timeout_graceful_shutdown=5,
        header_timeout=args.header_timeout,
        max_connections=args.max_connections,
    )
    server = Server(config, before_stopping=lambda: stopping(app))
    _announce(args.host, sock.getsockname()[1], token)
    with stop_signals_end_quietly():
        server.run(sockets=[sock])
    return 0 if server.started else 1


def _token(args: argparse.Namespace) -> str | None:
    """The bearer token: `--token`, or the first line of `--token-file`; None when neither is given."""
    if args.token and args.token_file:
        raise InvalidInput(
            "give --token or --token-file, not both", errors=[FieldError("token-file", "--token is given too")]
        )
    if not args.token_file:
        return args.token or None
    try:
        lines = option_types.small_file(args.token_file, "token-file").decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise InvalidInput(
            f"cannot read the token file {args.token_file}: not UTF-8 text",
            errors=[FieldError("token-file", "unreadable file")],
        ) from None
    token = lines[0].strip() if lines else ""
    if not token:
        raise InvalidInput(
            f"the token file {args.token_file} is empty", errors=[FieldError("token-file", "empty file")]
        )
    return token


def check_exposure(host: str, token: str | None, *, insecure: bool) -> None:
    """Refuse (exit 2) to serve the control API on a non-loopback address without a token, unless the caller
    said `--insecure-no-token`: whoever reaches an open API can point deliveries at any URL and read every
    secret-bearing record."""
    if token or insecure or is_loopback(host):
        return
    raise InvalidInput(
        f"refusing to serve the control API on {host} without a token: anyone who can reach it would control "
        "this simulator. Set --token (WEBHOOK_SIM_TOKEN) or --token-file (WEBHOOK_SIM_TOKEN_FILE), listen on "
        "127.0.0.1, or pass --insecure-no-token (WEBHOOK_SIM_INSECURE_NO_TOKEN=1) to serve it open anyway",
        errors=[FieldError("token", "required when --host is not a loopback address")],
    )


def load_key(path: str | None) -> signing.SigningKey | None:
    if not path:
        return None
    return signing.SigningKey.from_pem(option_types.small_file(path, "signing-key"))


def _announce(host: str, port: int, token: str | None) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"webhook-sim {__version__} serving on http://{shown}:{port}", flush=True)
    if token:
        print("every route but /health and /keys/webhooks.pem needs `Authorization: Bearer <token>`", flush=True)
    elif is_loopback(host):
        print(f"no --token: the API is open to every process on this machine, and only to it ({host})", flush=True)
    else:
        print(
            f"warning: no --token while listening on {host}: anyone who can reach port {port} controls "
            "this simulator; set --token or WEBHOOK_SIM_TOKEN",
            file=sys.stderr,
            flush=True,
        )
