"""The subscriptions a run's events go to, chosen again as they change (see `Receivers`)."""

from __future__ import annotations

import asyncio
import logging
import time

from simulator import catalog
from simulator.core.subscriptions import Subscriptions, receives
from simulator.models import Subscription
from simulator.store import postgres

log = logging.getLogger("webhook_sim.runs")
# Seconds a run keeps its choice of subscriptions for a type when nothing changed in this process (a change made
# by another process on a shared store is seen within this).
RECHOOSE = 1.0
# Seconds between reads of the subscriptions while the store cannot answer: see `postgres.READ_RETRIES`.
STORE_RETRIES = postgres.READ_RETRIES


class Receivers:
    """The subscriptions each event type of a run goes to: chosen again whenever a subscription changes in this
    process, and at least every RECHOOSE seconds. Chosen once for the whole run, a deleted or disabled
    subscription went on receiving the run's events, and one made during it got none."""

    def __init__(self, manager: Subscriptions, named: list[Subscription] | None) -> None:
        self._manager = manager
        self._named = named  # the run's own (a target's, or those it names), else every matching one
        self._chosen: dict[str, tuple[int, float, list[Subscription]]] = {}

    async def of(self, etype: catalog.EventType) -> list[Subscription]:
        version, now = self._manager.engine.subscriptions_version, time.monotonic()
        chosen = self._chosen.get(etype.key)
        if chosen is None or chosen[0] != version or now - chosen[1] > RECHOOSE:
            for wait in (*STORE_RETRIES, None):
                try:
                    receiving = await self._choose(etype)
                    break
                except Exception as exc:
                    if not postgres.unreachable(exc):  # only a store restarting is waited out: a fault is a fault
                        raise
                    if chosen is not None:  # the last choice stands until the store answers (asked again later)
                        log.warning("cannot read the subscriptions (%s): the run keeps its receivers", exc)
                        self._chosen[etype.key] = (version, now, chosen[2])
                        return chosen[2]
                    if wait is None:
                        raise
                    await asyncio.sleep(wait)
            chosen = self._chosen[etype.key] = (version, now, receiving)
        return chosen[2]

    async def _choose(self, etype: catalog.EventType) -> list[Subscription]:
        if self._named is None:
            pool = await self._manager.matching(etype)
        else:  # as they stand now: those deleted since are left out
            found = [await self._manager.store.get_subscription(s.id) for s in self._named]
            pool = [s for s in found if s is not None]
        return [s for s in pool if receives(s, etype)]
