"""`webhook-sim scenarios` and `validate`: list the built-in and user scenarios, check scenario files."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from simulator.cli import options


def register(sub: Any) -> None:
    p = sub.add_parser(
        "scenarios",
        help="list built-in and user scenarios",
        description="List the built-in scenarios and those in --scenarios folders.",
    )
    p.add_argument("--json", action="store_true", help="as JSON")
    options.add(p, "--scenarios", "a folder of scenario files", many=os.pathsep, metavar="DIR")
    p.set_defaults(handler=scenarios_command)
    p = sub.add_parser(
        "validate",
        help="check scenario files",
        description="Check scenario files; every error names file, line and field.",
    )
    p.add_argument("files", nargs="+", help="YAML files")
    p.set_defaults(handler=validate_command)


def scenarios_command(args: argparse.Namespace) -> int:
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


def validate_command(args: argparse.Namespace) -> int:
    from simulator.scenarios import loader

    errors = loader.validate_files([Path(f) for f in args.files])
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    if not errors:
        print(f"{len(args.files)} file(s) valid")
    return 2 if errors else 0
