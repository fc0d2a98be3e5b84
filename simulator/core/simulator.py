"""The Simulator: the core that the control API, the CLI and the pytest plugin drive.

It owns the store, the delivery engine, the subscriptions and the runs; every rule about subscriptions, emitting
and runs lives here (or in `subscriptions`, `runs`, `schedules`, `validation`), never in a route handler.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from simulator import catalog, signing
from simulator.core import basistheory_api, sent
from simulator.core.exclusive import Exclusive
from simulator.core.runs import RunManager
from simulator.core.subscriptions import Subscriptions
from simulator.core.validation import ValidRun, find_scenario, validate_run
from simulator.delivery.engine import DeliveryEngine
from simulator.delivery.faults import FaultInjector
from simulator.delivery.hooks import FaultHooks
from simulator.errors import Conflict, FieldError, InvalidInput, NotFound
from simulator.models import BuildContext, Delivery, Event, Run, Subscription
from simulator.models.inputs import EventSpec, RunSpec, SubscriptionSpec
from simulator.models.target_rules import check_native_secret
from simulator.scenarios import loader
from simulator.scenarios.model import Scenario
from simulator.store import Store
from simulator.store.leases import LEASE_TTL, Leases, SigningKeyMismatch
from simulator.store.remote import RemoteChanges
from simulator.timeutil import iso_ms, now_utc

log = logging.getLogger("webhook_sim.store")


class Simulator:
    """The store, the delivery engine, the subscriptions and the runs of one simulator, and the rules that bind
    them. The pieces get what they use (the store, the engine, a subscription lookup), never this object."""

    def __init__(self, store: Store, engine: DeliveryEngine, scenario_dirs: Sequence[Path] = ()) -> None:
        self.store = store
        self.engine = engine
        self.scenario_dirs = [Path(d) for d in scenario_dirs]
        self.subscriptions = Subscriptions(store, engine, self.check_faults)
        self.runs = RunManager(store, engine, self.scenario_dirs, self.subscriptions, self.check_faults)
        self._adhoc: BuildContext | None = None
        self.remote: RemoteChanges | None = None  # other processes' changes, for the watchers (a shared store)
        self._redelivering: set[str] = set()  # deliveries being sent again, until their new state is committed
        self._writes = Exclusive()  # what writes history for a subscription, shared; a reset, exclusive
        # The key the provider API twins require in their own auth header; None accepts any non-empty key.
        self.provider_key: str | None = None
        # What the provider API twins forget on a reset, before the store empties (their flows stop) and after.
        self.before_reset: list[Callable[[], Awaitable[None]]] = []
        self.after_reset: list[Callable[[], None]] = []
        # What they finish before the store closes: work of theirs under way (a credential's step, an index
        # write) that still holds a connection when the store closes is cut off, and its connection leaked.
        self.before_close: list[Callable[[], Awaitable[None]]] = []

    @classmethod
    async def open(
        cls,
        db: str | None = None,
        *,
        scenario_dirs: Sequence[Path] = (),
        key: signing.SigningKey | None = None,
        faults: FaultHooks | None = None,
        role: str = "serve",
        sends: bool = True,
        lease_ttl: float = LEASE_TTL,
        claims: bool | None = None,
    ) -> Simulator:
        """Open the store (an ephemeral one when `db` is None) and start delivering, resuming what was left.
        On a store other processes share, this one is a `role` among them that sends for the subscriptions it
        holds leases on (none when not `sends`); a lease lapses `lease_ttl` seconds after its holder stops. With
        `claims` (by default a worker's) it plays the runs waiting on the shared store for a player."""
        store = await Store.open(db, lease_ttl=lease_ttl)
        if await store.finish_reset():  # before anything it deleted could be resumed, sent or fired
            log.warning("a reset was under way when the store was last used: it is finished now")
        if faults is None:
            faults = FaultInjector()
        key = key or signing.default_key()
        leases = None
        if store.shared:
            fingerprint = hashlib.sha256(key.public_pem.encode()).hexdigest()
            leases = Leases(store.engine, kind=role, sends=sends, ttl=lease_ttl, signing=fingerprint)
        if role == "worker":
            store.writer.refused = ""  # it takes no runs, events or subscriptions to refuse
        engine = DeliveryEngine(store, key=key, faults=faults, leases=leases)
        sim = cls(store, engine, scenario_dirs)
        engine.reaped.append(sim.runs.mark_interrupted)  # a process that died on a shared store left its runs
        try:
            await engine.start()
        except SigningKeyMismatch:  # refused before it sent anything: the store is let go as it was
            await engine.sender.close()
            await store.close()
            raise
        await sim.runs.mark_interrupted()
        if leases is not None and sends:
            # It writes its runs' progress and heeds cancels asked elsewhere; a worker (and a `serve` that sends,
            # `claims`) also plays the runs that servers which do not send leave, and those a stopped process left
            # half played (not a `run` or a test's simulator by default: they end with their own run).
            sim.runs.start_queue(claims=role == "worker" if claims is None else claims)
        if leases is not None:
            # Other processes make and send deliveries too (all of them, when this one does not send): its watchers
            # hear of them here. It reads the store only while someone watches.
            sim.remote = RemoteChanges(store)
            sim.remote.start()
        return sim

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting runs, stop the running ones, let in-flight attempts finish, close the store."""
        self.accepting = False
        self.store.writer.closing(grace)  # a store that cannot write is given up on after `grace`, not waited on
        await self.runs.cancel_all(interrupted=True)
        for finish in self.before_close:
            await finish()
        if self.remote is not None:
            await self.remote.stop()
        await self.engine.close(grace)
        await self.store.close()

    @property
    def accepting(self) -> bool:
        """False once the simulator is shutting down: no new runs or events."""
        return self.runs.accepting

    @accepting.setter
    def accepting(self, value: bool) -> None:
        self.runs.accepting = value

    @property
    def public_key_pem(self) -> str:
        return self.engine.key.public_pem

    def check_faults(self, faults: Mapping[str, Any], field: str) -> None:
        """Refuse a `faults` mapping the engine's fault hooks cannot apply (422 naming `field.fault`)."""
        check = getattr(self.engine.faults, "validate", None)
        if check is not None:
            check(faults, field)

    async def scenarios(self) -> tuple[dict[str, Scenario], list[FieldError]]:
        """The scenarios of the simulator's folders (`loader.discover`), read off the event loop: the first
        discovery parses and checks every file (0.2 s for the built-in ones on a quick day), and a file that
        changes is read again; meanwhile the server goes on sending and answering."""
        return await asyncio.to_thread(loader.discover, self.scenario_dirs)

    async def scenario(self, name: str) -> Scenario:
        """The scenario called `name`, looked up off the event loop (`find_scenario`)."""
        return await find_scenario(name, self.scenario_dirs)

    async def validate_run(self, spec: RunSpec) -> ValidRun:
        """The checks of a run a schedule will start (schedules come from JSON: parameters are typed)."""
        return await validate_run(
            spec,
            scenario_dirs=self.scenario_dirs,
            check_faults=self.check_faults,
            subscription=self.subscriptions.get,
            typed_params=True,
        )

    # -- subscriptions (the API's and the client's vocabulary) -------------------------------------------

    async def start_run(
        self,
        spec: RunSpec,
        *,
        scenario: Scenario | None = None,
        typed_params: bool = False,
        run_id: str | None = None,
        check: Callable[[], Awaitable[None]] | None = None,
    ) -> Run:
        """Start a run (`RunManager.start`); a reset waits until it has started, and then cancels it. `check`
        runs first, under the same guard: what it raises stops the start (a schedule a reset deleted meanwhile)."""
        async with self._writes.shared():
            if check is not None:
                await check()
            return await self.runs.start(spec, scenario=scenario, typed_params=typed_params, run_id=run_id)

    async def create_subscription(self, spec: SubscriptionSpec, *, ephemeral: bool = False) -> Subscription:
        async with self._writes.shared():
            return await self.subscriptions.create(spec, ephemeral=ephemeral)

    async def subscription(self, sub_id: str) -> Subscription:
        return await self.subscriptions.get(sub_id)

    async def update_subscription(self, sub_id: str, patch: BaseModel) -> Subscription:
        return await self.subscriptions.update(sub_id, patch)

    async def delete_subscription(self, sub_id: str) -> None:
        await self.subscriptions.delete(sub_id)

    async def list_subscriptions(
        self, limit: int | None = None, cursor: str | None = None, *, listed: bool = False
    ) -> list[Subscription]:
        """`listed`: only what the API lists (a run's or an event's ad-hoc target's own subscription is not)."""
        return await self.subscriptions.list(limit, cursor, listed=listed)

    # -- events ---------------------------------------------------------------------------------------

    async def emit(self, spec: EventSpec) -> tuple[Event, list[str]]:
        """Build one event now (coherent with earlier ad-hoc events) and deliver it. Returns the event and the
        ids of the deliveries that carry it."""
        async with self._writes.shared():
            return await self._emit(spec)

    async def _emit(self, spec: EventSpec) -> tuple[Event, list[str]]:
        if not self.accepting:
            raise InvalidInput("the simulator is shutting down")
        self.store.writer.check()  # 503 while the store cannot write: nothing is accepted that it cannot keep
        etype = catalog.resolve(spec.type)
        check_native_secret(etype.provider, spec.target, spec.signing, spec.secret)
        if spec.target is not None:
            subs = [await self.subscriptions.target(spec.target, spec.signing, spec.secret, spec.retry)]
        else:
            subs = await self.subscriptions.matching(etype, spec.subscriptions)
        ctx = self._context(spec.seed)
        event = catalog.build_event(etype, ctx, spec.overrides)
        if spec.overrides and event.provider == "basistheory":  # it may name an object the API twin holds
            event = await basistheory_api.backend(self).as_known(event, spec.overrides)
        deliveries = await self.engine.publish(event, subs, speed=1.0)
        await self.store.writer.barrier()  # the answer names deliveries: they must exist on disk first
        return event, deliveries

    def _context(self, seed: int | None) -> BuildContext:
        if seed is not None:
            return catalog.new_context(seed, now_utc())
        if self._adhoc is None:
            self._adhoc = catalog.new_context(random.SystemRandom().randrange(2**63), now_utc())
        self._adhoc = replace(self._adhoc, now=now_utc())
        return self._adhoc

    # -- deliveries -----------------------------------------------------------------------------------

    async def delivery(self, delivery_id: str) -> Delivery:
        """A delivery with its attempts, each with the request exactly as sent."""
        found = await self.store.get_delivery(delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id!r}", errors=[FieldError("id", "not found")])
        return await sent.with_bodies(self.store, found)

    async def redeliver(self, delivery_id: str) -> Delivery:
        found = await self.delivery(delivery_id)
        sub = await self.store.get_subscription(found.subscription_id)
        if sub is None:
            # A target's own subscription (`trigger --target`, a run's target) is retired once its work settled.
            raise Conflict(
                f"delivery {delivery_id} cannot be sent again: its subscription {found.subscription_id} no longer "
                "exists (a target's own subscription ends once its deliveries are final)",
                errors=[FieldError("id", "its subscription no longer exists")],
            )
        _check_enabled(sub, f"delivery {delivery_id}")
        if delivery_id in self._redelivering:  # another request's, its new state not committed yet
            raise Conflict(
                f"delivery {delivery_id} is being sent again by another request now; send it again once that "
                "attempt has an outcome",
                errors=[FieldError("id", "delivery is being sent again")],
            )
        if not await self._redeliver([delivery_id]):  # the request is fine; the delivery's state is not
            now = await self.delivery(delivery_id)
            raise Conflict(self._busy(now), errors=[FieldError("id", f"delivery is {now.status}")])
        return await self.delivery(delivery_id)  # the state the store now holds

    def _busy(self, d: Delivery) -> str:
        """Why a delivery cannot be sent again at this moment, and when it can (a 409's words)."""
        if d.status == "pending":  # sent again (a resend racing another), or its first attempt still under way
            under_way = (
                f"is being sent again: attempt {d.attempts + 1}"
                if d.attempts
                else "is still being delivered: its first attempt"
            )
            return f"delivery {d.id} {under_way} has no outcome yet; send it again once it has one"
        if d.status == "failed" and self.engine.sending(d.subscription_id, d.id):
            return (
                f"delivery {d.id} is being sent now (attempt {d.attempts + 1} is under way); send it again once "
                "that attempt has an outcome"
            )
        if d.status == "failed" and self.store.shared:
            at = iso_ms(datetime.fromtimestamp(d.next_attempt_at or 0, UTC))
            return (
                f"delivery {d.id} is waiting for its next retry at {at}: on a shared store only the process that "
                "sends its subscription's deliveries can bring that attempt forward, and this one cannot tell it to; "
                "it is sent then"
            )
        if d.status == "failed":
            at = iso_ms(datetime.fromtimestamp(d.next_attempt_at or 0, UTC))
            return (
                f"delivery {d.id} is waiting for its next retry at {at}, which this process cannot bring forward now "
                "(its subscription's queue waits in the store until there is room); send it again in a moment, or "
                "wait for that retry"
            )
        return f"delivery {d.id} ended ({d.status}) while it was asked: send it again now"

    async def redeliver_dead(
        self, sub_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[str]:
        """Redeliver the dead deliveries of a subscription made at or after `since` and before `until` (each
        optional: every one), in order."""
        _check_enabled(await self.subscriptions.get(sub_id), f"the dead deliveries of {sub_id}")
        dead = await self.store.list_deliveries(
            subscription_id=sub_id,
            status="dead",
            since=since.timestamp() if since else None,
            until=until.timestamp() if until else None,
        )
        return await self._redeliver([d.id for _, d in dead])

    def redelivering(self) -> set[str]:
        """The deliveries being sent again now, until their new state is committed (retention leaves them)."""
        return self._redelivering

    async def _redeliver(self, ids: list[str]) -> list[str]:
        """Send `ids` again, those not already being sent again; the ones that are. A delivery is claimed until its
        new state is committed: two redelivers at once both read it dead and started two series of attempts."""
        claimed = [i for i in dict.fromkeys(ids) if i not in self._redelivering]
        self._redelivering.update(claimed)
        try:
            async with self._writes.shared():
                redone = await self.engine.redeliver(claimed)
                await self.store.writer.barrier()
        finally:
            self._redelivering.difference_update(claimed)
        return redone

    async def reset(self, first: Callable[[], Awaitable[None]] | None = None) -> None:
        """Forget everything: runs stop, subscriptions and history are deleted. Emits, new subscriptions and
        resends under way end first; those asked meanwhile wait for the reset, and land after it. `first` (the
        schedules' clearing) is the reset's first step. A process stopped half-way leaves the reset marked in
        the store, and the next one to open it finishes it (see `store.reset_mark`)."""
        async with self._writes.exclusive():
            await self.store.mark_reset()
            if first is not None:
                await first()
            await self._reset()

    async def _reset(self) -> None:
        await self.runs.cancel_all()
        for forget in self.before_reset:
            await forget()
        await self.subscriptions.remove_all()
        await self.store.reset()
        self.engine.gate.forget()
        for forget_more in self.after_reset:
            forget_more()
        self._adhoc = None


def _check_enabled(sub: Subscription, what: str) -> None:
    """Refuse to send `what` again to a disabled subscription (409: its state, not the request, is the matter).
    Accepted, it was answered "pending, due now" and then nothing went out until the subscription was enabled."""
    if not sub.enabled:
        raise Conflict(
            f"{what} cannot be sent again: subscription {sub.id} is disabled; enable it first "
            f"(POST /subscriptions/{sub.id}/enable, or `webhook-sim subscriptions enable {sub.id}`)",
            errors=[FieldError("id", "its subscription is disabled")],
        )
