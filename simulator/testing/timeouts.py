"""What a wait that timed out says of the deliveries it waited for: the ones not final first, at most SHOWN, each
with why it is not final (its last answer, what holds it back, when it is next due)."""

from __future__ import annotations

import time
from itertools import islice

from simulator.client import Client, DeliveryInfo
from simulator.models.enums import DELIVERY_STATUSES, FINAL_DELIVERY_STATUSES
from simulator.models.records import CUT_SHORT

# The deliveries a timed-out wait describes: a wait for 300 listed every one, 11,600 characters.
SHOWN = 10


def state(d: DeliveryInfo, disabled: bool = False) -> str:
    """A delivery as a timeout names it: its status, and for one not final why it is not: its last answer, what
    holds it back (a reorder window or burst not yet full), when it is next due."""
    if final(d):
        return f"{d.id}: {d.status}"
    said = f"{d.id}: {d.status}"
    if d.attempts:
        last = f"HTTP {d.last_status}" if d.last_status is not None else (d.last_error or "no answer")
        if d.last_status is not None and (d.last_error or "").startswith(CUT_SHORT):  # a status, but not whole
            last += f", {d.last_error}"
        said += f" after {d.attempts} attempt{'s' if d.attempts != 1 else ''} (last: {last})"
    faults = d.faults or {}
    for kind, what in (("reorder", "window"), ("burst", "size")):
        hold = faults.get(kind)
        if not d.attempts and isinstance(hold, dict) and "cut" not in hold:
            said += f", held back by its {kind} of {hold.get(what)} until it is full or the run ends"
    if disabled:
        said += f", waits: its subscription {d.subscription_id} is disabled (enable it to send)"
    elif d.next_attempt_at is not None:
        due = d.next_attempt_at.timestamp() - time.time()
        # Due already: the store cannot tell an attempt not yet started from one whose receiver has not answered
        # (the subscription's `timeout` bounds that). "Due now" alone described a receiver that hangs as a queue.
        said += f", next attempt due in {due:,.1f}s" if due > 0 else ", due now or under way (no answer yet)"
    return said


def final(delivery: DeliveryInfo) -> bool:
    return delivery.status in FINAL_DELIVERY_STATUSES


def states(client: Client, found: list[DeliveryInfo]) -> str:
    """The deliveries a timed-out wait found: how many, the ones not final first (what it waited for), at most
    SHOWN of them; a delivery of a disabled subscription said to wait for it (it is not due)."""
    disabled = {s.id for s in client.iter_subscriptions() if s.status == "disabled"}
    ordered = sorted(found, key=final)  # stable: the ones not final first, each group oldest first
    shown = [state(d, d.subscription_id in disabled) for d in ordered[:SHOWN]]
    more = f", and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return f"{len(found)}: " + ", ".join(shown) + more if found else "none"


def unfinished(client: Client, run_id: str, said: str) -> str:
    """A run's timed-out wait (`said`) with the run's deliveries not final, at most SHOWN: the counts alone named
    no delivery, nor the attempts' errors (`timeout after 1s`) the log had."""
    waiting = [
        delivery
        for status in DELIVERY_STATUSES
        if status not in FINAL_DELIVERY_STATUSES
        for delivery in islice(client.iter_deliveries(run=run_id, status=status), SHOWN)
    ]
    if not waiting:
        return said
    disabled = {s.id for s in client.iter_subscriptions() if s.status == "disabled"}
    shown = ", ".join(state(d, d.subscription_id in disabled) for d in waiting[:SHOWN])
    return f"{said}; waiting for {shown}" + (", and more" if len(waiting) > SHOWN else "")
