"""Which published events the provider API twins do not show yet: those of a run at speed 0 whose deliveries have
not started.

A run at speed 0 stores its events as fast as it builds them, well ahead of the receiver that takes them one by
one. The twins fold the stored events, so a consumer calling back while it handles the run's first delivery saw
the run's end: a token already expired, a 3DS session already authenticated, a credential already refreshed. A
provider's API shows an object as of what has happened, and at speed 0 an event happens when it is sent. So such
an event is held from the twins until a delivery carrying it starts its first attempt (to any subscription: the
fastest receiver sets the pace, as on a real provider a slow one reads the present, not the past).

An event that no delivery will start soon (its subscription disabled mid-run, a delivery held by a fault) is shown
after HOLD_AT_MOST seconds at the latest, so nothing can keep the twins behind for good. The gate lives in the
process that publishes and sends; where other processes send (a shared PostgreSQL store), nothing is held.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

# The longest an event is kept from the twins: longer than a receiver's usual answer, short enough that a
# subscription disabled in the middle of a run does not leave the twins behind for more than a minute.
HOLD_AT_MOST = 60.0
# Deliveries remembered before those whose events are all shown are looked for and dropped.
CARRIED_AT_MOST = 100_000


class Gate:
    """Events held from the twins, by provider, in publish order, each until the first attempt of one of the
    deliveries that carry it."""

    def __init__(self) -> None:
        self._held: dict[str, dict[str, float]] = {}  # provider -> {event key: when it shows at the latest}
        self._carried: dict[str, tuple[str, list[str]]] = {}  # delivery id -> (provider, event keys)

    def hold(self, provider: str, key: str, deliveries: Iterable[str]) -> None:
        """Keep `key` from the twins until one of `deliveries` starts (none: it is not held)."""
        ids = list(deliveries)
        if not ids:
            return
        self._held.setdefault(provider, {})[key] = time.monotonic() + HOLD_AT_MOST
        for delivery_id in ids:
            self._carried.setdefault(delivery_id, (provider, []))[1].append(key)
        if len(self._carried) > CARRIED_AT_MOST:  # deliveries ended unstarted, whose events others showed
            self._forget_finished()

    def started(self, delivery_id: str) -> None:
        """A delivery's first attempt starts: the events it carries are shown."""
        carried = self._carried.pop(delivery_id, None)
        if carried is None:
            return
        held = self._held.get(carried[0], {})
        for key in carried[1]:
            held.pop(key, None)

    def held(self, provider: str, key: str) -> bool:
        deadline = self._held.get(provider, {}).get(key)
        return deadline is not None and deadline > time.monotonic()

    def first(self, provider: str) -> str | None:
        """The earliest event of `provider` still held, if any: the twins show what was published before it."""
        held = self._held.get(provider)
        if not held:
            return None
        now = time.monotonic()
        while held:  # publish order: the overdue ones come first, and go
            key, deadline = next(iter(held.items()))
            if deadline > now:
                return key
            del held[key]
        self._forget_finished()
        return None

    def forget(self) -> None:
        """Everything is shown (the store was emptied, or the engine stops)."""
        self._held.clear()
        self._carried.clear()

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
