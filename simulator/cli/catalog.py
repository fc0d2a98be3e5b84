"""`webhook-sim events`, `sample` and `schema`: the event catalog, a body as delivered, and its JSON Schema."""

from __future__ import annotations

import argparse
import json
from typing import Any

from simulator import catalog
from simulator.cli import options


def register(sub: Any) -> None:
    p = sub.add_parser("events", help="the event catalog", description="List every event type.")
    options.add(p, "--provider", "only this provider's event types")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(handler=events_command)
    p = sub.add_parser(
        "sample",
        help="the exact body a subscriber receives for TYPE",
        description="Print the body a subscriber receives for TYPE, envelope included.",
    )
    p.add_argument("type", help="an event type (`provider:type`, or bare when unambiguous)")
    options.add(p, "--seed", "the same seed gives the same bytes", default=0, type=int)
    p.set_defaults(handler=sample_command)
    p = sub.add_parser(
        "schema", help="the JSON Schema of TYPE's body", description="Print the JSON Schema of TYPE's delivered body."
    )
    p.add_argument("type", help="an event type")
    p.set_defaults(handler=schema_command)


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
    print(json.dumps(json.loads(catalog.sample(args.type, args.seed)), indent=2))
    return 0


def schema_command(args: argparse.Namespace) -> int:
    print(json.dumps(catalog.schema(args.type), indent=2))
    return 0
