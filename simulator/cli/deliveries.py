"""`webhook-sim deliveries`: the deliveries of a running server, one line each, and with `--follow` the new ones
and every change of state as they happen (Ctrl-C ends it)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections import deque
from typing import Any

from simulator.cli import option_types, options, remote, window
from simulator.client import ApiError, Client, DeliveryInfo
from simulator.models.enums import DELIVERY_STATUSES

PAGE = 200
# Active deliveries older than the page being watched are read one by one; past this many, only the newest.
WATCHED = 500


def register(sub: Any) -> None:
    p = sub.add_parser(
        "deliveries",
        help="list a server's deliveries; --follow tails new ones",
        description="List the deliveries of a running server (oldest first): status, attempts, last HTTP status "
        "and error. --follow then prints each new delivery and each change of state until Ctrl-C.",
    )
    # Each filter once: the API takes one value of each (a second one was dropped without a word).
    options.add(p, "--run", "only this run's deliveries", type=remote.nonempty_id, once=True)
    options.add(p, "--subscription", "only this subscription's deliveries", type=remote.nonempty_id, once=True)
    options.add(p, "--status", "only deliveries in this state", choices=DELIVERY_STATUSES, once=True)
    options.add(p, "--type", "only this event type", type=remote.nonempty_id, once=True)
    window.add(p, "deliveries")
    options.add(p, "--limit", "print at most the latest N (0: all)", default=50, type=option_types.count)
    options.add(p, "--follow", "keep printing new deliveries and changes", default=False, flag_only=True)
    options.add(
        p,
        "--interval",
        "seconds between two looks with --follow (0.05 to 3600)",
        default=0.5,
        type=option_types.seconds_between(0.05, 3600),
    )
    options.add(p, "--json", "one JSON object per line", default=False, flag_only=True)
    remote.add_server(p)
    p.set_defaults(handler=deliveries_command)


def deliveries_command(args: argparse.Namespace) -> int:
    window.given(args)  # an empty window is refused before anything is asked
    # Identified first, as every command that talks to a server: another service whose answer parsed as a page
    # of deliveries ({"data": []}) was listed as "no deliveries", and --follow went on asking it for ever.
    with remote.identified(args) as api:
        shown = Shown(args)
        cursor = _list(api, args, shown)
        if not args.follow:
            return 0
        try:
            _follow(api, args, shown, cursor)
        except KeyboardInterrupt:
            return 0  # the way to end --follow (a second Ctrl-C, during a look the first let finish)
    return 0


class Shown:
    """What was printed of each delivery, so a change prints once and nothing twice."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state: dict[str, tuple[str, int]] = {}
        self.header = False

    def show(self, d: DeliveryInfo) -> None:
        state = (d.status, d.attempts)
        seen = self.state.get(d.id)
        if seen == state:
            return
        self.state[d.id] = state
        if self.args.status and d.status != self.args.status:
            return
        if self.args.json:
            print(json.dumps(d.raw), flush=True)
            return
        if not self.header:
            print(remote.header(), flush=True)
            self.header = True
        print(remote.line(d), flush=True)

    def forget(self, delivery_id: str) -> None:
        self.state.pop(delivery_id, None)

    def active(self) -> list[str]:
        return [i for i, (status, _) in self.state.items() if status not in remote.FINAL][-WATCHED:]


def _filters(args: argparse.Namespace, with_status: bool) -> dict[str, Any]:
    status = args.status if with_status else None
    return {
        "run": args.run,
        "subscription": args.subscription,
        "type": args.type,
        "status": status,
        **window.given(args),
    }


def _list(api: Client, args: argparse.Namespace, shown: Shown) -> str | None:
    """Print the latest `--limit` deliveries; returns the cursor of the last page (where --follow goes on)."""
    # Following needs every state (a pending delivery may turn dead): the --status filter is applied here then.
    filters = _filters(args, with_status=not args.follow)
    latest: deque[DeliveryInfo] = deque(maxlen=args.limit or None)
    cursor = page_cursor = None
    total = 0
    while True:
        page = api.list_deliveries(limit=PAGE, cursor=cursor, **filters)
        page_cursor = cursor
        latest.extend(page.data)
        for d in page.data:  # as listed, shown or not: --follow prints what is new or changed after this
            shown.state[d.id] = (d.status, d.attempts)
        total += len(page.data)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    shown_now = [d for d in latest if not args.status or d.status == args.status]
    if total > len(latest) and not args.json:
        print(f"({total - len(latest)} earlier deliveries not shown; --limit 0 shows all)", file=sys.stderr)
    for d in latest:
        shown.state[d.id] = ("", -1)  # printed below (or filtered out), then tracked like every other
    for d in latest:
        shown.show(d)
    if not shown_now and not args.follow and not args.json:
        print("no deliveries", file=sys.stderr)
    return page_cursor


def _follow(api: Client, args: argparse.Namespace, shown: Shown, cursor: str | None) -> None:
    filters = _filters(args, with_status=False)
    stop = threading.Event()

    def ctrl_c(signum: int, frame: object) -> None:
        # A flag, not a KeyboardInterrupt raised wherever the HTTP client happens to be: one raised there once left
        # the command hanging instead of ending. A look under way finishes first; a second Ctrl-C ends it at once.
        signal.signal(signal.SIGINT, previous)
        stop.set()

    previous = signal.signal(signal.SIGINT, ctrl_c)
    try:
        while not stop.wait(args.interval):
            cursor = _look(api, shown, filters, cursor)
    finally:
        signal.signal(signal.SIGINT, previous)


def _look(api: Client, shown: Shown, filters: dict[str, Any], cursor: str | None) -> str | None:
    """Print what is new or changed since the last look; the cursor the next look goes on from."""
    seen_now: set[str] = set()
    while True:
        page = api.list_deliveries(limit=PAGE, cursor=cursor, **filters)
        for d in page.data:
            seen_now.add(d.id)
            shown.show(d)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    for delivery_id in shown.active():
        if delivery_id not in seen_now:  # older than the watched page: read it by itself
            try:
                shown.show(api.get_delivery(delivery_id))
            except ApiError as exc:
                if exc.status != 404:
                    raise
                # Ended and deleted since the last look (a retention pass, a reset): it ended the follow.
                shown.forget(delivery_id)
                print(f"{delivery_id}: no longer in the store (deleted since it was shown)", file=sys.stderr)
    return cursor
