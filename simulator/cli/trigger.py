"""`webhook-sim trigger TYPE`: one event now, as `stripe trigger` sends one, and the outcome of its delivery.

Through a running server (`--server`) it goes to the matching subscriptions, the `--subscription`s named, or
`--target`; without a server it is built and delivered in this process, to `--target`. `--override path=value`
sets a field of the event; each is checked against the event's JSON Schema before anything is sent. It prints the
event's id, then each delivery's outcome once it is final (or its state when `--wait` runs out); exit 0 when every
delivery succeeded, 1 when one did not, 2 for bad input. `--format json` prints the same as JSON Lines: an `event`
object, then a `delivery` object for each delivery (notes go to stderr, as in text).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from simulator import catalog
from simulator.cli import options, remote, retries
from simulator.client import ApiError, DeliveryInfo
from simulator.core.report import plain_error
from simulator.errors import FieldError, InvalidInput
from simulator.models.enums import SIGNING_SCHEMES

FORMATS = ("text", "json")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "trigger",
        help="send one event now and print how its delivery went",
        description=__doc__.split("\n\n", 1)[1].replace("\n", " ") if __doc__ else None,
    )
    p.add_argument("type", help="an event type (`provider:type`, or bare when unambiguous)")
    options.add(
        p, "--override", "set a field of the event: a dotted path and a JSON value", many=";", metavar="PATH=VALUE"
    )
    options.add(p, "--target", "deliver to this URL")
    options.add(p, "--subscription", "deliver to this subscription (with --server)", many=",", metavar="ID")
    options.add(p, "--seed", "the seed of the event's values (default: a random one)", type=options.seed)
    options.add(
        p, "--signing", "with --target: the signing scheme (default: the provider's own)", choices=SIGNING_SCHEMES
    )
    options.add(
        p, "--secret", "with --target: the signing secret (default: a generated one, printed)", type=options.secret
    )
    retries.add(p)
    options.add(p, "--wait", "seconds to wait for the outcome (0: do not wait)", default=30.0, type=options.seconds)
    remote.add_server(p, None, " (default: none, deliver from this process)")
    options.add(p, "--format", "text, or JSON Lines on stdout", default="text", choices=FORMATS, type=str.lower)
    p.set_defaults(handler=trigger_command)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`path=value` pairs; a value is read as JSON (`0`, `true`, `{"a": 1}`, `"007"`), else as a string
    (`options.json_value`: the same refusals with or without `--server`)."""
    out: dict[str, Any] = {}
    for item in items:
        path, sep, text = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise InvalidInput(
                f"--override {item!r}: expected PATH=VALUE, e.g. payload.is_executing=0",
                errors=[FieldError("--override", "expected PATH=VALUE")],
            )
        out[path] = options.json_value(text, f"--override {path}")
    return out


def check(args: argparse.Namespace) -> tuple[catalog.EventType, dict[str, Any]]:
    """The event type and the overrides as given; the catalog checks them against the event's schema when it
    builds the event, here or in the server, before anything is sent."""
    etype = catalog.resolve(args.type)
    overrides = parse_overrides(args.override)
    if args.subscription and args.target:
        raise InvalidInput(
            "give --target or --subscription, not both", errors=[FieldError("--target", "with --subscription")]
        )
    if args.secret is not None:
        options.check_secret(args.signing, args.secret)
    return etype, overrides


def trigger_command(args: argparse.Namespace) -> int:
    etype, overrides = check(args)
    retry = retries.retry_spec(args, etype.provider)
    if args.server:
        return _through_server(args, etype, overrides, retry)
    if args.subscription:
        raise InvalidInput(
            "--subscription needs --server: subscriptions live in a running server",
            errors=[FieldError("--subscription", "needs --server")],
        )
    if not args.target:
        raise InvalidInput(
            "--target is required without --server (or set WEBHOOK_SIM_TARGET)",
            errors=[FieldError("--target", "required")],
        )
    from simulator.runtime import run_loop

    return run_loop(_in_process(args, etype, overrides, retry))


def _report(
    event_id: str, etype: str, deliveries: list[DeliveryInfo], waited: float, url: str | None, fmt: str = "text"
) -> int:
    """Print the event and each delivery's outcome (as text, or as JSON Lines); the exit code."""
    if fmt == "json":
        _emit({"object": "event", "id": event_id, "type": etype})
    else:
        print(f"event {event_id} ({etype})", flush=True)
    if not deliveries:
        print(f"not sent: no enabled subscription receives {etype}", file=sys.stderr)
        return 1
    where = f" → {url}" if url else ""
    for d in deliveries:
        state = remote.outcome(d) if d.status in remote.FINAL else f"still {d.status} after {waited:g} s"
        if d.status not in remote.FINAL and d.attempts:
            state += f" (last: {remote.outcome(d).partition(': ')[2] or f'HTTP {d.last_status}'})"
        if fmt == "json":
            _emit(delivery_record(d, event_id, url, state))
        else:
            print(f"delivery {d.id}{where}: {state}", flush=True)
    return 0 if all(d.status in ("succeeded", "dropped") for d in deliveries) else 1


def delivery_record(d: DeliveryInfo, event_id: str, url: str | None, outcome: str) -> dict[str, Any]:
    """A delivery's line in `--format json`: the facts of the text line as fields, and the line's phrase."""
    error = plain_error(d.last_error) if d.last_error != f"HTTP {d.last_status}" else None
    return {
        "object": "delivery",
        "id": d.id,
        "event": event_id,
        "subscription": d.subscription_id,
        "target": url,
        "status": d.status,
        "final": d.status in remote.FINAL,
        "attempts": d.attempts,
        "http_status": d.last_status,
        "error": error,
        "outcome": outcome,
    }


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)


# -- through a server -----------------------------------------------------------------------------------------


def _through_server(
    args: argparse.Namespace, etype: catalog.EventType, overrides: dict[str, Any], retry: dict[str, Any] | None
) -> int:
    with remote.client(args) as api, remote.speaking_to(args.server):
        made = None
        fields: dict[str, Any] = {"seed": args.seed}
        if args.subscription:
            fields["subscriptions"] = list(args.subscription)
        elif args.target and (args.signing or args.secret or retry):
            # The API's ad-hoc target signs with a secret of its own: a subscription says how to sign and retry.
            made = api.create_subscription(
                args.target,
                events=[etype.key],
                signing=args.signing,
                secret=args.secret,
                retry=retry,
                disable_after=0,
            )
            fields["subscriptions"] = [made.id]
        elif args.target:
            fields["target"] = args.target
        try:
            event = api.emit(etype.key, overrides, **fields)
        except ApiError:
            if made is not None:  # nothing was sent: the subscription made for it goes too
                api.delete_subscription(made.id)
            raise
        if made is not None:
            _say_secret(args, made.secret)
        for skipped in event.skipped:
            print(f"not sent to {skipped.subscription}: {skipped.reason}", file=sys.stderr)
        started = time.monotonic()
        deliveries = remote.wait_final(api, event.deliveries, args.wait)
        waited = round(time.monotonic() - started, 1)
        code = _report(event.id, event.type, deliveries, waited, args.target, args.format)
        if made is not None and all(d.status in remote.FINAL for d in deliveries):
            api.delete_subscription(made.id)  # made for this event alone; its deliveries stay listed
        elif made is not None:
            print(f"subscription {made.id} stays until its delivery ends", file=sys.stderr)
        return code


# -- in this process ------------------------------------------------------------------------------------------


async def _in_process(
    args: argparse.Namespace, etype: catalog.EventType, overrides: dict[str, Any], retry: dict[str, Any] | None
) -> int:
    from simulator.api.views import delivery as delivery_view
    from simulator.core.simulator import Simulator
    from simulator.models.inputs import EventSpec, SubscriptionSpec, parse

    spec = parse(
        SubscriptionSpec,
        {"url": args.target, "signing": args.signing, "secret": args.secret, "disable_after": 0, "retry": retry},
    )
    sim = await Simulator.open(None)
    try:
        sub = await sim.create_subscription(spec, ephemeral=True)
        fields = {"type": etype.key, "overrides": overrides, "subscriptions": [sub.id], "seed": args.seed}
        event, ids = await sim.emit(parse(EventSpec, fields))  # a bad override is exit 2 naming it
        _say_secret(args, sub.secret)
        started = time.monotonic()
        deadline = started + args.wait
        while True:
            found = [await sim.delivery(i) for i in ids]
            if all(d.status in remote.FINAL for d in found) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)
        infos = [DeliveryInfo.of(delivery_view(d, attempts=True)) for d in found]
        waited = round(time.monotonic() - started, 1)
        code = _report(event.id, event.key, infos, waited, args.target, args.format)
        if any(d.status not in remote.FINAL for d in found):
            print("its retries end with this process; give --max-attempts or a longer --wait", file=sys.stderr)
        return code
    finally:
        await sim.close(grace=1)


def _say_secret(args: argparse.Namespace, secret: str | None) -> None:
    if args.secret is None and secret:
        print(f"signed with a generated secret: {secret}", file=sys.stderr)
