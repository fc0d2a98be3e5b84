"""`webhook-sim events`, `sample`, `schema` and `asyncapi`: the event catalog, a body as delivered, its JSON Schema,
and the AsyncAPI document of them all."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from simulator import catalog
from simulator.cli import option_types, options


def register(sub: Any) -> None:
    p = sub.add_parser("events", help="the event catalog", description="List every event type.")
    options.add(p, "--provider", "only this provider's event types")
    options.add(p, "--json", "as JSON", default=False, flag_only=True)
    p.set_defaults(handler=events_command)
    p = sub.add_parser(
        "sample",
        help="the exact body a subscriber receives for TYPE",
        description="Print the body a subscriber receives for TYPE, envelope included: its exact bytes (a newline "
        "follows only on a terminal), or indented with --pretty.",
    )
    p.add_argument("type", help="an event type (`provider:type`, or bare when unambiguous)")
    options.add(p, "--seed", "the same seed gives the same bytes", default=0, type=option_types.seed)
    options.add(p, "--pretty", "indent the JSON for reading (no longer the exact bytes)", default=False, flag_only=True)
    p.set_defaults(handler=sample_command)
    p = sub.add_parser(
        "schema", help="the JSON Schema of TYPE's body", description="Print the JSON Schema of TYPE's delivered body."
    )
    p.add_argument("type", help="an event type")
    p.set_defaults(handler=schema_command)
    p = sub.add_parser(
        "asyncapi",
        help="the AsyncAPI 3.0 document of every event",
        description="Print the AsyncAPI 3.0 document of every event type (also served at GET /asyncapi.json): "
        "a channel and a message per type, with its payload schema, signature headers and a sample.",
    )
    options.add(
        p, "--output", "write it to this file instead of stdout (default: stdout)", type=option_types.output_file
    )
    p.set_defaults(handler=asyncapi_command)


def events_command(args: argparse.Namespace) -> int:
    types = catalog.event_types(args.provider)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "type": e.key,
                        "provider": e.provider,
                        "name": e.name,
                        "aliases": list(e.aliases),
                        "description": e.description,
                    }
                    for e in types
                ],
                indent=2,
            )
        )
        return 0
    width = max(len(e.key) for e in types)
    for e in types:
        alias = f"  (alias: {', '.join(e.aliases)})" if e.aliases else ""
        print(f"{e.key:<{width}}  {e.description}{alias}")
    return 0


def sample_command(args: argparse.Namespace) -> int:
    body = catalog.sample(args.type, args.seed)
    if args.pretty:
        print(json.dumps(json.loads(body), indent=2))
        return 0
    # The bytes a subscriber receives, to hash or sign as they are: a newline added would be one more byte.
    sys.stdout.buffer.write(body + (b"\n" if sys.stdout.isatty() else b""))
    sys.stdout.flush()
    return 0


def schema_command(args: argparse.Namespace) -> int:
    print(json.dumps(catalog.schema(args.type), indent=2))
    return 0


def asyncapi_command(args: argparse.Namespace) -> int:
    from simulator.api.routes_catalog import asyncapi_document

    text = json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:  # checked before, but a disk fills (or the folder goes) meanwhile
            print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0
