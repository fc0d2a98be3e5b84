"""Which published events the provider API twins do not show yet: those of a run whose deliveries have not started,
and the events of that run after them.

A run at speed 0 stores its events as fast as it builds them, well ahead of the receiver that takes them one by
one; a timed run stores each a fraction of a second before it falls due (`core.run_plan.LOOKAHEAD`), which at
speed 10 is two seconds of the run's clock, at speed 1000 minutes. The twins fold the stored events, so a consumer
calling back while it handles the run's first delivery saw the run's end (a token already expired, a 3DS session
already authenticated, a credential already refreshed), or at speed 1000 the next event's state. A provider's API
shows an object as of what has happened, and a run's event happens when it is sent. So such an event is held
from the twins until a delivery carrying it starts its first attempt (to any subscription: the fastest receiver
sets the pace, as on a real provider a slow one reads the present, not the past). An event whose deliveries a
fault dropped happens when its lane would have sent it: at speed 0 once the run's event before it was
answered, in a timed run when it falls due (as does one that no subscription takes).

Only the run's own later events wait behind a held one (a run's events are told by its key, `<run id>/<seq>`):
other runs, events made through `POST /events`, and what the twins' own API made show as they are stored. An
event that no delivery will start soon (its subscription disabled mid-run, a delivery held by a fault) is shown
after HOLD_AT_MOST seconds at the latest. The gate lives in the process that publishes and sends. On a shared
PostgreSQL store an event is held only where this process holds the lease of every subscription that takes it,
and a lease that goes lets every hold go: another process's delivery would not be heard of here.
"""

from __future__ import annotations

import time
from collections import deque

from simulator.store.twins import run_of

# The longest an event is kept from the twins: longer than a receiver's usual answer, short enough that a
# subscription disabled in the middle of a run does not leave the twins behind for more than a minute.
HOLD_AT_MOST = 60.0
# Deliveries remembered before those whose events are all shown are looked for and dropped.
CARRIED_AT_MOST = 100_000
# Events held before those shown by their time alone (a timed run's, which no read passed over) are dropped; then
# again at twice as many as were left.
PRUNE_AT = 10_000


class Gate:
    """Events held from the twins, by provider, in publish order, each until the first attempt of one of the
    deliveries that carry it."""

    def __init__(self) -> None:
        self._held: dict[str, dict[str, float]] = {}  # provider -> {event key: when it shows at the latest}
        self._carried: dict[str, tuple[str, list[str]]] = {}  # delivery id -> (provider, event keys)
        # An event no delivery will start (its deliveries dropped by a fault) happens when the lane would have sent
        # it: once the held event before it has been sent and answered. event key -> the events chained to it;
        # delivery id -> (provider, the events shown once its first attempt has an outcome).
        self._after: dict[str, list[str]] = {}
        self._answering: dict[str, tuple[str, list[str]]] = {}
        self._last: dict[str, str] = {}  # run -> its event held last
        # (provider, run) -> its events held, in publish order, and some no longer held (left for `_shown_until`
        # to pass over). Looked for at the front of `_held`, an event cost a walk past every key deleted there
        # since the dict last grew: a run's events go in at one end and out at the other.
        self._order: dict[tuple[str, str], deque[str]] = {}
        self._prune_at = PRUNE_AT

    def hold(self, provider: str, key: str, deliveries: list[str], due: float | None = None) -> None:
        """Keep `key` from the twins until one of `deliveries` starts; with none, until `due` (a Unix time: a timed
        run's event), else until the event held before it has been sent and answered (not held when there is
        none)."""
        held = self._held.get(provider)
        if held is None:
            held = self._held[provider] = {}
        run = run_of(key)
        if len(held) >= self._prune_at:
            self._forget_finished()
            self._prune_at = max(PRUNE_AT, 2 * len(held))
        if not deliveries and due is not None:
            self._held_now(provider, run, held, key, time.monotonic() + max(0.0, due - time.time()))
            return
        if not deliveries:
            before = self._last.get(run)
            if before is not None and before in held:
                self._after.setdefault(before, []).append(key)
                self._held_now(provider, run, held, key)
            return
        self._held_now(provider, run, held, key)
        carried = self._carried
        for delivery_id in deliveries:
            if delivery_id in carried:
                carried[delivery_id][1].append(key)
            else:
                carried[delivery_id] = (provider, [key])
        if len(carried) > CARRIED_AT_MOST:  # deliveries ended unstarted, whose events others showed
            self._forget_finished()

    def _held_now(self, provider: str, run: str, held: dict[str, float], key: str, until: float | None = None) -> None:
        held[key] = time.monotonic() + HOLD_AT_MOST if until is None else until
        self._last[run] = key
        order = self._order.get((provider, run))
        if order is None:
            order = self._order[provider, run] = deque()
        order.append(key)

    def started(self, delivery_id: str) -> None:
        """A delivery's first attempt starts: the events it carries are shown (and those chained to them once
        the attempt has its outcome: `answered`)."""
        carried = self._carried.pop(delivery_id, None)
        if carried is None:
            return
        provider, keys = carried
        held = self._held.get(provider, {})
        for key in keys:
            if key not in held:
                continue
            # Its run's events before it have happened too (one a fault dropped, whose turn had not come while
            # several were in flight): what is sent shows, with all that came before it.
            self._shown_until(provider, held, key)
            chained = self._after.pop(key, None)
            if chained:
                self._answering.setdefault(delivery_id, (provider, []))[1].extend(chained)

    def answered(self, delivery_id: str) -> None:
        """A delivery's first attempt has its outcome: the events chained behind the ones it carries are shown."""
        provider, keys = self._answering.pop(delivery_id, ("", []))
        held = self._held.get(provider, {})
        while keys:
            key = keys.pop()
            held.pop(key, None)
            keys.extend(self._after.pop(key, ()))  # dropped one after another: each happens with the one before

    def _shown_until(self, provider: str, held: dict[str, float], key: str) -> None:
        """Show `key` (held) and its run's events held before it."""
        run = run_of(key)
        order = self._order.get((provider, run))
        if order is None:  # (every held event is in its run's order: not expected)
            held.pop(key, None)
            return
        while order:
            earlier = order.popleft()
            held.pop(earlier, None)
            if earlier == key:
                break
        if not order:
            del self._order[provider, run]

    def held(self, provider: str, key: str) -> bool:
        deadline = self._held.get(provider, {}).get(key)
        return deadline is not None and deadline > time.monotonic()

    def firsts(self, provider: str) -> list[str]:
        """The earliest event still held of each run of `provider`: the twins show none of the run's from it on."""
        held = self._held.get(provider)
        if not held:
            return []
        now = time.monotonic()
        while held:  # publish order: the overdue ones come first, and go
            key, deadline = next(iter(held.items()))
            if deadline > now:
                break
            del held[key]
        if not held:
            self._forget_finished()
            return []
        firsts = []
        for (of, run), order in list(self._order.items()):
            if of != provider:
                continue
            while order and held.get(order[0], now) <= now:  # shown already (answered, or overdue)
                held.pop(order.popleft(), None)
            if order:
                firsts.append(order[0])
            else:
                del self._order[of, run]
        return firsts

    def forget(self) -> None:
        """Everything is shown (the store was emptied, or the engine stops)."""
        self._held.clear()
        self._carried.clear()
        self._after.clear()
        self._answering.clear()
        self._last.clear()
        self._order.clear()

    def _forget_finished(self) -> None:
        """Drop the deliveries whose events are all shown (they ended without an attempt, or were shown late)."""
        now = time.monotonic()
        for held in self._held.values():
            for key in [key for key, deadline in held.items() if deadline <= now]:
                del held[key]
        for delivery_id, (provider, keys) in list(self._carried.items()):
            held = self._held.get(provider, {})
            if not any(key in held for key in keys):
                del self._carried[delivery_id]
        for delivery_id, (provider, keys) in list(self._answering.items()):
            if not any(key in self._held.get(provider, {}) for key in keys):
                del self._answering[delivery_id]
        shown = [key for key in self._after if not any(key in held for held in self._held.values())]
        for key in shown:  # expired before its delivery started: what was chained to it has its own deadline
            del self._after[key]
        for (provider, run), order in list(self._order.items()):
            held = self._held.get(provider, {})
            kept = deque(key for key in order if key in held)
            if kept:
                self._order[provider, run] = kept
            else:
                del self._order[provider, run]
