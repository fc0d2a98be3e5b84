"""`webhook-sim resend`: send a finished delivery again (same id, same body, a fresh retry budget), one waiting for
its next retry now, or every dead delivery of a subscription, through a running server; then wait for the outcome
and print it."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from typing import Any

from simulator.api.access_log import escape_controls
from simulator.cli import option_types, options, remote, window
from simulator.cli.trigger_report import last_answer
from simulator.client import ApiError, Client
from simulator.errors import FieldError, InvalidInput

# Events carry their provider's ids, UUIDs for both; deliveries have the simulator's own (`msg_…`).
_EVENT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "resend",
        help="send a delivery again, or every dead one of a subscription",
        description="Send DELIVERY_ID again (same id and body, a fresh retry budget; one waiting for its next retry "
        "has that attempt now), or with --dead --subscription ID every dead delivery of that subscription (with "
        "--since and --until, those made in that window); then print each outcome. Exit 0 when each succeeded, "
        "1 when one did not or the server refused (409: an attempt is under way), 2 for bad input.",
    )
    p.add_argument(
        "delivery", nargs="?", metavar="DELIVERY_ID", help="the delivery to send again", type=remote.identifier
    )
    options.add(p, "--dead", "resend every dead delivery of --subscription", default=False, flag_only=True)
    options.add(p, "--subscription", "with --dead: the subscription", type=remote.nonempty_id)
    window.add(p, "dead deliveries (with --dead)")
    options.add(
        p, "--wait", "seconds to wait for the outcome (0: do not wait)", default=30.0, type=option_types.seconds
    )
    remote.add_server(p)
    p.set_defaults(handler=resend_command)


def _check(args: argparse.Namespace) -> None:
    if args.delivery and args.dead:
        raise _bad("DELIVERY_ID", "give a delivery id or --dead --subscription ID, not both")
    if args.dead and not args.subscription:
        raise _bad("--subscription", "--dead needs --subscription ID")
    if not args.delivery and not args.dead:
        raise _bad("DELIVERY_ID", "give a delivery id, or --dead --subscription ID")
    # Ignored, the one delivery went to its own subscription. (One WEBHOOK_SIM_SUBSCRIPTION gives is left alone:
    # a shell may export it for other commands.)
    if options.given_on_command_line(args, "--subscription") and not args.dead:
        raise _bad("--subscription", "--subscription picks whose dead deliveries go: it goes with --dead")
    for flag in ("since", "until"):
        if getattr(args, flag) is not None and not args.dead:
            raise _bad(f"--{flag}", f"--{flag} picks dead deliveries by when they were made: it goes with --dead")


def resend_command(args: argparse.Namespace) -> int:
    _check(args)
    between = window.given(args)
    with remote.identified(args) as api:
        before: dict[str, int] = {}
        if args.delivery:
            with contextlib.suppress(ApiError):  # an unknown id is said by the resend itself
                before[args.delivery] = api.get_delivery(args.delivery).attempts
            ids = [_redeliver(api, args.delivery)]
        else:
            ids = list(api.redeliver_dead(args.subscription, **between))
            print(f"resent {len(ids)} dead deliveries of {args.subscription}", flush=True)
        if not ids:
            return 0
        if args.wait == 0:
            for delivery_id in ids:
                print(f"delivery {delivery_id}: resent", flush=True)
            return 0
        started = time.monotonic()
        # The resent attempt's outcome is what was asked for: a delivery that fails again is retried on its
        # schedule, and waiting for it to end could take hours.
        found = remote.wait_final(api, ids, args.wait, answered=before)
        waited = time.monotonic() - started
    for d in found:
        if d.status in remote.FINAL:
            state = remote.outcome(d)
        elif before and d.attempts > before.get(d.id, d.attempts):
            state = f"{d.status} again (last: {last_answer(d)})"
        else:
            state = f"still {d.status} after {waited:.0f} s (last: {last_answer(d)})"
        print(escape_controls(f"delivery {d.id} ({d.type}): {state}"), flush=True)  # the answer's controls escaped
    failed = [d for d in found if d.status not in ("succeeded", "dropped")]
    if failed:
        print(f"{len(failed)} of {len(found)} did not succeed", file=sys.stderr)
    return 1 if failed else 0


def _redeliver(api: Client, delivery_id: str) -> str:
    """Send `delivery_id` again; its id. An event's id (a UUID: the first line `trigger` prints) is no delivery's,
    and the 404 alone left the caller guessing which id was wanted."""
    try:
        return api.redeliver(delivery_id).id
    except ApiError as exc:
        if exc.status != 404 or not _EVENT_ID.fullmatch(delivery_id.strip()):
            raise
    raise _bad(
        "DELIVERY_ID",
        f"no delivery {delivery_id}: it looks like an event's id (the first line `trigger` prints). Resend takes "
        "a delivery's id (msg_…): `trigger` prints one on each `delivery` line after the event's, and "
        "`webhook-sim deliveries --type TYPE` lists them",
    )


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[FieldError(field, message)])
