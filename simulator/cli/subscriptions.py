"""`webhook-sim subscriptions`: a running server's subscriptions, listed, made, changed and removed from the
command line, as `stripe webhook_endpoints` does for Stripe's endpoints. `create` prints the signing secret, which
no later answer shows in full."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from simulator.cli import option_types, options, remote
from simulator.client import Client, SubscriptionInfo
from simulator.models.enums import SIGNING_SCHEMES
from simulator.models.inputs import SubscriptionSpec

COLUMNS = (("id", 30), ("status", 9), ("signing", 11), ("created", 19), ("url", 40))


def register(sub: Any) -> None:
    p = sub.add_parser(
        "subscriptions",
        help="list, create, change and delete a server's subscriptions",
        description="The subscriptions of a running server: list, show, create (prints the signing secret), "
        "enable, disable, delete, and send their dead deliveries again.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _action(actions, "list", "one line per subscription, oldest first", _list)
    made = _action(actions, "create", "subscribe URL; prints the subscription and its signing secret", _create)
    made.add_argument("url", help="where the deliveries go")
    _create_options(made)
    for name, what, handler in (
        ("show", "one subscription, whole (its secret masked)", _show),
        ("enable", "send to it again; its dead count starts over", _enable),
        ("disable", "pause it: no new deliveries go to it, those owed wait until it is enabled", _disable),
        ("delete", "remove it; its unfinished deliveries are dropped", _delete),
        ("redeliver", "send each of its dead deliveries again", _redeliver),
    ):
        _action(actions, name, what, handler).add_argument("id", help="the subscription's id", type=remote.identifier)


def _action(actions: Any, name: str, what: str, handler: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = actions.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".")
    options.add(p, "--json", "print the control API's JSON, one object per line", default=False, flag_only=True)
    remote.add_server(p)
    p.set_defaults(handler=lambda args: _run(args, handler))
    return p


def _create_options(p: argparse.ArgumentParser) -> None:
    options.add(
        p,
        "--events",
        "only these event types, e.g. token.created,token.updated (none: every type)",
        many=",",
        metavar="TYPES",
        type=option_types.some_types,
    )
    options.add(p, "--signing", "the signing scheme (default: each provider's own)", choices=SIGNING_SCHEMES)
    options.add(p, "--secret", "the signing secret (default: a generated one)")
    options.add_max_in_flight(p, SubscriptionSpec, "attempts under way at once")
    options.add(p, "--strict-order", "one delivery at a time, in order, retries included", flag_only=True)
    options.add(p, "--disabled", "create it disabled", flag_only=True)


def _run(args: argparse.Namespace, handler: Any) -> int:
    with remote.identified(args) as api:
        code: int = handler(api, args)
        return code


def _list(api: Client, args: argparse.Namespace) -> int:
    subs = list(api.list_subscriptions())
    if args.json:
        for sub in subs:
            _json(sub)
        return 0
    if not subs:
        print("no subscriptions", file=sys.stderr)
        return 0
    print(remote.row([name for name, _ in COLUMNS] + ["events"], COLUMNS))
    for sub in subs:
        print(_line(sub))
    return 0


def _create(api: Client, args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {"max_in_flight": args.max_in_flight, "strict_order": args.strict_order}
    events = [t.strip() for given in args.events for t in given.split(",") if t.strip()]  # `a,b` as Stripe takes it
    fields.update(enabled=not args.disabled, events=events or None, signing=args.signing, secret=args.secret)
    sub = api.create_subscription(args.url, **{k: v for k, v in fields.items() if v is not None})
    if args.json:
        _json(sub)
        return 0
    print(remote.row([name for name, _ in COLUMNS] + ["events"], COLUMNS))
    print(_line(sub))
    # Shown once, as the server shows it once: the receiver needs it to verify what it gets.
    print(f"signing secret: {sub.secret}")
    return 0


def _show(api: Client, args: argparse.Namespace) -> int:
    sub = api.get_subscription(args.id)
    if args.json:
        _json(sub)
    else:
        print(json.dumps(sub.raw, indent=2))
    return 0


def _enable(api: Client, args: argparse.Namespace) -> int:
    return _changed(args, api.enable_subscription(args.id))


def _disable(api: Client, args: argparse.Namespace) -> int:
    return _changed(args, api.update_subscription(args.id, enabled=False))


def _changed(args: argparse.Namespace, sub: SubscriptionInfo) -> int:
    if args.json:
        _json(sub)
    else:
        print(_line(sub))
    return 0


def _delete(api: Client, args: argparse.Namespace) -> int:
    api.delete_subscription(args.id)
    if args.json:
        print(json.dumps({"id": args.id, "deleted": True}))
    else:
        print(f"deleted {args.id}")
    return 0


def _redeliver(api: Client, args: argparse.Namespace) -> int:
    ids = api.redeliver_dead(args.id)
    if args.json:
        print(json.dumps({"id": args.id, "redelivered": ids}))
        return 0
    print(f"{len(ids)} dead deliver{'y' if len(ids) == 1 else 'ies'} of {args.id} sent again")
    for delivery in ids:
        print(f"  {delivery}")
    return 0


def _json(sub: SubscriptionInfo) -> None:
    print(json.dumps(sub.raw), flush=True)


def _line(sub: SubscriptionInfo) -> str:
    created = datetime.fromtimestamp(sub.created_at.timestamp()).strftime("%Y-%m-%d %H:%M:%S")
    cells = [sub.id, sub.status, sub.signing or "-", created, sub.url, ",".join(sub.events) or "*"]
    return remote.row(cells, COLUMNS)
