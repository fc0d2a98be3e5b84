"""The Simulator: the core that the control API, the CLI and the pytest plugin drive.

It owns the store, the delivery engine and the runs; every rule about subscriptions, emitting and runs lives
here (or below), never in a route handler.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from simulator import catalog, signing
from simulator.core.runs import RunManager
from simulator.delivery.engine import DeliveryEngine
from simulator.delivery.faults import FaultInjector
from simulator.delivery.hooks import FaultHooks
from simulator.errors import FieldError, InvalidInput, NotFound
from simulator.ids import new_id
from simulator.models import BuildContext, Delivery, Event, RetryPolicy, Subscription
from simulator.models.inputs import EventSpec, SubscriptionPatch, SubscriptionSpec
from simulator.store import Store
from simulator.timeutil import now_utc


class Simulator:
    def __init__(self, store: Store, engine: DeliveryEngine, scenario_dirs: Sequence[Path] = ()) -> None:
        self.store = store
        self.engine = engine
        self.scenario_dirs = [Path(d) for d in scenario_dirs]
        self.runs = RunManager(self)
        self._adhoc: BuildContext | None = None
        self._targets: dict[str, str] = {}  # ad-hoc event target URL -> its ephemeral subscription's id
        self.accepting = True

    @classmethod
    async def open(
        cls,
        db: str | None = None,
        *,
        scenario_dirs: Sequence[Path] = (),
        key: signing.SigningKey | None = None,
        faults: FaultHooks | None = None,
    ) -> Simulator:
        """Open the store (an ephemeral one when `db` is None) and start delivering, resuming what was left."""
        store = await Store.open(db)
        if faults is None:
            faults = FaultInjector()
        engine = DeliveryEngine(store, key=key, faults=faults)
        sim = cls(store, engine, scenario_dirs)
        await engine.start()
        await sim.runs.mark_interrupted()
        return sim

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting runs, stop the running ones, let in-flight attempts finish, close the store."""
        self.accepting = False
        await self.runs.cancel_all()
        await self.engine.close(grace)
        await self.store.close()

    @property
    def public_key_pem(self) -> str:
        return self.engine.key.public_pem

    # -- subscriptions ----------------------------------------------------------------------------------

    async def create_subscription(self, spec: SubscriptionSpec, *, ephemeral: bool = False) -> Subscription:
        """Create a subscription. The returned record holds the secret: the only time it is shown."""
        for i, flt in enumerate(spec.events):
            _check_filter(flt, f"events.{i}")
        secret = spec.secret
        if secret is None:
            secret = signing.new_secret(spec.signing or "syncfy")
        else:
            signing.validate_secret(spec.signing or "syncfy", secret)
        sub = Subscription(
            id=new_id("sub"),
            url=spec.url,
            events=tuple(spec.events),
            signing=spec.signing,
            secret=secret,
            headers=dict(spec.headers),
            timeout=spec.timeout,
            retry=_policy(spec.retry),
            max_in_flight=spec.max_in_flight,
            strict_order=spec.strict_order,
            batch=spec.batch,
            faults=dict(spec.faults),
            status="enabled" if spec.enabled else "disabled",
            disable_after=spec.disable_after,
            created_at=time.time(),
            ephemeral=ephemeral,
        )
        self._check_faults(sub.faults, "faults")
        await self.store.put_subscription(sub)
        self.engine.subscription_changed(sub)
        return sub

    async def subscription(self, sub_id: str) -> Subscription:
        sub = await self.store.get_subscription(sub_id)
        if sub is None:
            raise NotFound(f"no subscription {sub_id!r}", errors=[FieldError("id", "not found")])
        return sub

    async def update_subscription(self, sub_id: str, patch: SubscriptionPatch) -> Subscription:
        """Change a subscription; `enabled: true` re-enables it and resets its failure count."""
        sub = await self.subscription(sub_id)
        changes: dict[str, Any] = patch.model_dump(exclude_unset=True)
        for i, flt in enumerate(changes.get("events") or []):
            _check_filter(flt, f"events.{i}")
        if "events" in changes:
            changes["events"] = tuple(changes["events"])
        if "retry" in changes:
            changes["retry"] = _policy(patch.retry)
        if "enabled" in changes:
            enabled = changes.pop("enabled")
            changes["status"] = "enabled" if enabled else "disabled"
            if enabled:
                changes["consecutive_dead"] = 0
        if changes.get("secret") is not None or "signing" in changes:
            signing.validate_secret(changes.get("signing", sub.signing) or "syncfy", changes.get("secret", sub.secret))
        if "faults" in changes:
            self._check_faults(changes["faults"], "faults")
        sub = replace(sub, **changes)
        await self.store.put_subscription(sub)
        self.engine.subscription_changed(sub)
        return sub

    async def delete_subscription(self, sub_id: str) -> None:
        await self.subscription(sub_id)
        await self.engine.subscription_removed(sub_id)
        await self.store.delete_subscription(sub_id)

    async def list_subscriptions(self, limit: int | None = None, cursor: str | None = None) -> list[Subscription]:
        return await self.store.list_subscriptions(limit, cursor)

    async def matching(self, etype: catalog.EventType, ids: Sequence[str] | None = None) -> list[Subscription]:
        """The enabled subscriptions that receive `etype` (among `ids` when given)."""
        if ids is not None:
            subs = [await self.subscription(i) for i in ids]
        else:
            subs = [s for s in await self.store.list_subscriptions() if not s.ephemeral]
        return [s for s in subs if s.enabled and catalog.matches(s.events, etype)]

    def _check_faults(self, faults: dict[str, Any], field: str) -> None:
        check = getattr(self.engine.faults, "validate", None)
        if check is not None:
            check(faults, field)

    # -- events ---------------------------------------------------------------------------------------

    async def emit(self, spec: EventSpec) -> tuple[Event, list[str]]:
        """Build one event now (coherent with earlier ad-hoc events) and deliver it. Returns the event and the
        ids of the deliveries that carry it."""
        if not self.accepting:
            raise InvalidInput("the simulator is shutting down")
        etype = catalog.resolve(spec.type)
        if spec.target is not None:
            subs = [await self._target(spec.target)]
        else:
            subs = await self.matching(etype, spec.subscriptions)
        ctx = self._context(spec.seed)
        event = catalog.build_event(etype, ctx, spec.overrides)
        deliveries = await self.engine.publish(event, subs, speed=1.0)
        await self.store.writer.barrier()  # the answer names deliveries: they must exist on disk first
        return event, deliveries

    async def _target(self, url: str) -> Subscription:
        """One ephemeral subscription per ad-hoc target URL, reused by every event sent there (a subscription and
        a lane per event would pile up in a long-running server). Never disabled, like a run's target."""
        sub_id = self._targets.get(url)
        sub = await self.store.get_subscription(sub_id) if sub_id else None
        if sub is None:
            sub = await self.create_subscription(SubscriptionSpec(url=url, disable_after=0), ephemeral=True)
            self._targets[url] = sub.id
        return sub

    def _context(self, seed: int | None) -> BuildContext:
        if seed is not None:
            return catalog.new_context(seed, now_utc())
        if self._adhoc is None:
            self._adhoc = catalog.new_context(random.SystemRandom().randrange(2**63), now_utc())
        self._adhoc = replace(self._adhoc, now=now_utc())
        return self._adhoc

    # -- deliveries -----------------------------------------------------------------------------------

    async def delivery(self, delivery_id: str) -> Delivery:
        found = await self.store.get_delivery(delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id!r}", errors=[FieldError("id", "not found")])
        return found

    async def redeliver(self, delivery_id: str) -> Delivery:
        await self.delivery(delivery_id)
        if not await self.engine.redeliver(delivery_id):
            raise InvalidInput(
                f"delivery {delivery_id} is still being delivered",
                errors=[FieldError("id", "delivery is still pending")],
            )
        await self.store.writer.barrier()  # answer with the state the store now holds
        return await self.delivery(delivery_id)

    async def redeliver_dead(self, sub_id: str) -> list[str]:
        """Redeliver every dead delivery of a subscription, in order."""
        await self.subscription(sub_id)
        dead = await self.store.list_deliveries(subscription_id=sub_id, status="dead")
        redone = [d.id for _, d in dead if await self.engine.redeliver(d.id)]
        await self.store.writer.barrier()
        return redone

    async def reset(self) -> None:
        """Forget everything: runs stop, subscriptions and history are deleted."""
        await self.runs.cancel_all()
        for sub in await self.store.list_subscriptions():
            await self.engine.subscription_removed(sub.id)
        await self.store.reset()
        self._adhoc = None
        self._targets.clear()


def _check_filter(flt: str, field: str) -> None:
    try:
        catalog.validate_filter(flt)
    except Exception as exc:
        raise InvalidInput(f"{field}: {exc}", errors=[FieldError(field, str(exc))]) from None


def _policy(spec: Any) -> RetryPolicy | None:
    return RetryPolicy(tuple(spec.delays), spec.jitter) if spec is not None else None
