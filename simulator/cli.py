"""The `webhook-sim` command: a thin layer over the library. Exit codes: 0 success, 1 failure, 2 bad input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simulator import __version__, catalog
from simulator.errors import SimError

ENV_PREFIX = "WEBHOOK_SIM_"


def env(name: str, default: Any = None, convert: Callable[[str], Any] = str) -> Any:
    """The default of option `name` from WEBHOOK_SIM_<NAME>, else `default`."""
    value = os.environ.get(ENV_PREFIX + name.upper().replace("-", "_"))
    return default if value is None or value == "" else convert(value)


def env_list(name: str, sep: str = ",") -> list[str]:
    value = env(name, "")
    return [v for v in value.split(sep) if v] if value else []


def _add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="run a scenario in-process against a URL (for CI)")
    p.add_argument("scenario", help="a scenario name or a YAML file")
    p.add_argument("--target", default=env("target"), help="the URL to deliver to")
    p.add_argument("--seed", type=int, default=env("seed", None, int))
    p.add_argument("--speed", type=float, default=env("speed", 1.0, float),
                   help="1 real time, 10 ten times faster, 0 no waiting")
    p.add_argument("--param", action="append", default=env_list("param"), metavar="K=V")
    p.add_argument("--fault", action="append", default=env_list("fault", ";"), metavar="SPEC")
    p.add_argument("--signing", choices=["standard", "basistheory", "syncfy", "none"], default=env("signing"))
    p.add_argument("--secret", default=env("secret"))
    p.add_argument("--max-in-flight", type=int, default=env("max_in_flight", 1, int))
    p.add_argument("--start-time", default=env("start_time"), help="ISO time of the first event")
    p.add_argument("--db", default=env("db"), help="store URL or path (default: ephemeral)")
    p.add_argument("--report", default=env("report"), help="write a JSON report here")
    p.add_argument("--scenarios", action="append", default=env_list("scenarios", os.pathsep), metavar="DIR")


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="the server: control API, scheduler, delivery workers")
    p.add_argument("--host", default=env("host", "127.0.0.1"))
    p.add_argument("--port", type=int, default=env("port", 8080, int))
    p.add_argument("--db", default=env("db", "sqlite:///webhook-sim.db"))
    p.add_argument("--scenarios", action="append", default=env_list("scenarios", os.pathsep), metavar="DIR")
    p.add_argument("--token", default=env("token"))
    p.add_argument("--signing-key", default=env("signing_key"), help="PEM file of the RSA key (Basis Theory)")
    p.add_argument("--log-format", choices=["text", "json"], default=env("log_format", "text"))


def _add_listen(sub: Any) -> None:
    p = sub.add_parser("listen", help="a receiver that prints and verifies what arrives")
    p.add_argument("--host", default=env("host", "127.0.0.1"))
    p.add_argument("--port", type=int, default=env("port", 9000, int))
    p.add_argument("--secret", default=env("secret"))
    p.add_argument("--public-key", default=env("public_key"), help="PEM file for Basis Theory signatures")
    p.add_argument("--status", type=int, default=env("status", 204, int))
    p.add_argument("--delay", type=float, default=env("delay", 0.0, float))
    p.add_argument("--fail-rate", type=float, default=env("fail_rate", 0.0, float))
    p.add_argument("--forward-to", default=env("forward_to"))
    p.add_argument("--print-body", action="store_true", default=env("print_body", False, _bool))
    p.add_argument("--seed", type=int, default=env("seed", None, int))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="webhook-sim", description=__doc__)
    root.add_argument("--version", action="version", version=f"webhook-sim {__version__}")
    sub = root.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_run(sub)
    p = sub.add_parser("events", help="the event catalog")
    p.add_argument("--provider", default=env("provider"))
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("sample", help="the exact body a subscriber receives for TYPE")
    p.add_argument("type")
    p.add_argument("--seed", type=int, default=env("seed", 0, int))
    p = sub.add_parser("schema", help="the JSON Schema of TYPE's body")
    p.add_argument("type")
    p = sub.add_parser("scenarios", help="list built-in and user scenarios")
    p.add_argument("--json", action="store_true")
    p.add_argument("--scenarios", action="append", default=env_list("scenarios", os.pathsep), metavar="DIR")
    p = sub.add_parser("validate", help="check scenario files")
    p.add_argument("files", nargs="+")
    _add_listen(sub)
    return root


def _bool(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def cmd_events(args: argparse.Namespace) -> int:
    types = catalog.event_types(args.provider)
    if args.json:
        print(json.dumps([{"type": e.key, "provider": e.provider, "name": e.name, "aliases": list(e.aliases),
                           "description": e.description} for e in types], indent=2))
        return 0
    width = max(len(e.key) for e in types)
    for e in types:
        alias = f"  (alias: {', '.join(e.aliases)})" if e.aliases else ""
        print(f"{e.key:<{width}}  {e.description}{alias}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    print(json.dumps(json.loads(catalog.sample(args.type, args.seed)), indent=2))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(catalog.schema(args.type), indent=2))
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from simulator.scenarios import loader

    found, errors = loader.discover([Path(d) for d in args.scenarios])
    if args.json:
        print(json.dumps([s.summary() for s in found.values()], indent=2))
    else:
        for s in found.values():
            print(f"{s.name:<36} {s.provider:<12} {s.description}")
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    return 2 if errors else 0


def cmd_validate(args: argparse.Namespace) -> int:
    from simulator.scenarios import loader

    errors = loader.validate_files([Path(f) for f in args.files])
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    if not errors:
        print(f"{len(args.files)} file(s) valid")
    return 2 if errors else 0


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.runcli import run_command
    from simulator.serving import run_loop

    return run_loop(run_command(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from simulator.api.server import serve_command

    return serve_command(args)


def cmd_listen(args: argparse.Namespace) -> int:
    from simulator.listen import listen_command

    return listen_command(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "events": cmd_events, "sample": cmd_sample, "schema": cmd_schema, "scenarios": cmd_scenarios,
    "validate": cmd_validate, "run": cmd_run, "serve": cmd_serve, "listen": cmd_listen,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except SimError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        for err in exc.errors:
            if str(err) not in exc.detail:
                print(f"  {err}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
