"""Leases on a shared store: which process sends which subscription's deliveries.

Several processes (`serve`, `run`, `worker`) may open one PostgreSQL store. Each registers in `processes` and beats
there while it lives. A process that sends takes subscriptions, not single deliveries, with `FOR UPDATE SKIP
LOCKED`: one sender per subscription is what keeps `max_in_flight`, `strict_order` and the retry schedule true
across processes, and a delivery's state stays in its row, so whoever takes the subscription next goes on from it.
A lease lapses unless renewed; a process whose beat stops is reaped: its leases are free at once and what it held
back (open batches, reorder and burst windows) is let go, never lost.

Times come from the database's clock, so processes on machines whose clocks disagree still agree on a lease.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from simulator.errors import SimError
from simulator.ids import new_id
from simulator.store import holds
from simulator.store import tables as t
from simulator.store.outbox import ACTIVE

LEASE_TTL = 10.0  # seconds: how long a stopped process keeps its subscriptions before others take them
# A reap that cannot lock the rows it frees within this many milliseconds (a stopped process's session, still in
# its transaction, holds them until the store ends it) gives up until the next round: the round that renews this
# process's leases waited behind it, and they lapsed.
REAP_LOCK_TIMEOUT_MS = 500
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock not taken within `lock_timeout`
_NOW = func.extract("epoch", func.clock_timestamp())


class SigningKeyMismatch(SimError):
    """Another live process on the store signs with another key: consumers verify with the one a server publishes,
    and a worker started without the servers' `--signing-key` signed every Basis Theory delivery with the
    development key, which none of them accepted."""

    status = 503
    exit_code = 1
    title = "Another signing key"


class Leases:
    def __init__(self, engine: AsyncEngine, *, kind: str, sends: bool, ttl: float, signing: str | None = None) -> None:
        self.engine = engine
        self.kind = kind
        self.sends = sends
        self.ttl = ttl
        self.signing = signing  # the SHA-256 of its public key
        self.id = new_id("proc")
        # Since when this process's beats have gone through without a failure between (monotonic; None: the last
        # one failed, or none was made). See `reap`.
        self._beating_since: float | None = None

    def _insert(self) -> Any:
        """This process's row in `processes`, beating now."""
        return insert(t.processes).values(
            id=self.id,
            kind=self.kind,
            sends=self.sends,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=time.time(),
            heartbeat_at=_NOW,
            ttl=self.ttl,
            signing=self.signing,
        )

    async def register(self) -> None:
        """Join the store's processes; `SigningKeyMismatch` if a live one signs with another key."""
        async with self.engine.begin() as conn:
            p = t.processes.c
            other = select(p.kind, p.host, p.pid, p.signing).where(
                p.signing.is_not(None), p.signing != self.signing, p.heartbeat_at + p.ttl > _NOW
            )
            if self.signing is not None and (found := (await conn.execute(other.limit(1))).first()) is not None:
                raise SigningKeyMismatch(
                    f"the {found.kind} on {found.host} (pid {found.pid}) signs with another key (public key SHA-256 "
                    f"{found.signing[:16]}…, this process's {self.signing[:16]}…): every process on a store signs "
                    "Basis Theory webhooks with the key its servers publish; give each the same --signing-key"
                )
            await conn.execute(self._insert())
        self._beating_since = time.monotonic()

    async def beat(self) -> None:
        """Say this process lives (again: a reaper that thought it dead deleted its row)."""
        p = t.processes.c
        try:
            async with self.engine.begin() as conn:
                done = await conn.execute(update(t.processes).where(p.id == self.id).values(heartbeat_at=_NOW))
                if done.rowcount == 0:
                    await conn.execute(self._insert())
        except BaseException:
            self._beating_since = None
            raise
        if self._beating_since is None:
            self._beating_since = time.monotonic()

    async def renew(self) -> set[str]:
        """Extend this process's leases; the subscriptions it still holds (another may have taken a lapsed one)."""
        s = t.subscriptions.c
        stmt = (
            update(t.subscriptions).where(s.lease_owner == self.id).values(lease_until=_NOW + self.ttl).returning(s.id)
        )
        async with self.engine.begin() as conn:
            return {row.id for row in await conn.execute(stmt)}

    async def leaving(self) -> None:
        """This process is stopping: it takes no more work, so the others' shares no longer count it, though it
        beats, and keeps its leases, while its attempts under way finish. Counted until its beat stopped, it drew
        hand-overs to itself and back again, each cutting an attempt: three requests for one delivery."""
        self.sends = False  # a beat that registers it again (after a reaper's delete) says so too
        p = t.processes.c
        async with self.engine.begin() as conn:
            await conn.execute(update(t.processes).where(p.id == self.id).values(sends=False))

    async def share(self) -> int:
        """How many subscriptions with work this process should hold: an even share among the live senders."""
        s, p = t.subscriptions.c, t.processes.c
        busy = select(func.count()).where(s.status == "enabled").where(_has_work(s.id))
        live = select(func.count()).where(p.sends.is_(True)).where(p.heartbeat_at > _NOW - p.ttl)
        async with self.engine.connect() as conn:
            n_busy = int((await conn.execute(busy)).scalar() or 0)
            n_live = max(1, int((await conn.execute(live)).scalar() or 0))
        return math.ceil(n_busy / n_live)

    async def claim(self, limit: int) -> list[str]:
        """Take up to `limit` subscriptions that have work and no live lease; others claiming at the same time
        skip the rows this takes rather than wait for them."""
        if limit <= 0:
            return []
        s = t.subscriptions.c
        free = (
            select(s.id)
            .where(_takeable())
            .where(_has_work(s.id))
            .order_by(s.lease_until.nulls_first(), s.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = self._leasing().where(s.id.in_(free.scalar_subquery()))
        async with self.engine.begin() as conn:
            return sorted(row.id for row in await conn.execute(stmt))

    async def take(self, sub_id: str) -> bool:
        """Take the lease of one subscription that has no live lease (one just made); False where another holds
        it, or it is not enabled."""
        stmt = self._leasing().where(t.subscriptions.c.id == sub_id, _takeable())
        async with self.engine.begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    def _leasing(self) -> Any:
        """The update that leases the subscriptions it is narrowed to this process, answering their ids."""
        s = t.subscriptions.c
        return update(t.subscriptions).values(lease_owner=self.id, lease_until=_NOW + self.ttl).returning(s.id)

    async def give_up(self, sub_ids: Iterable[str]) -> None:
        """Free leases this process no longer sends for (its lanes are closed and their writes committed)."""
        ids = list(sub_ids)
        if not ids:
            return
        s = t.subscriptions.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.subscriptions)
                .where(and_(s.id.in_(ids), s.lease_owner == self.id))
                .values(lease_owner=None, lease_until=None)
            )

    async def reap(self) -> list[str]:
        """Forget processes whose beat stopped their own lease's length ago (processes may be given different
        lengths): free their leases and let go what they held back. Returns their ids.

        Not until this process has itself been beating for a lease's length: after the store was away, every
        beat looks that old, and the first process back reaped the others, alive, and let go the bursts and
        reorder windows they were holding (sent early, one by one). By then the live ones have beaten again."""
        if self._beating_since is None or time.monotonic() - self._beating_since < self.ttl:
            return []
        p, s, d = t.processes.c, t.subscriptions.c, t.deliveries.c
        try:
            async with self.engine.begin() as conn:
                await conn.execute(text(f"SET LOCAL lock_timeout = {REAP_LOCK_TIMEOUT_MS}"))
                dead = [
                    row.id
                    for row in await conn.execute(
                        select(p.id).where(p.heartbeat_at < _NOW - p.ttl).with_for_update(skip_locked=True)
                    )
                ]
                if dead:
                    await holds.let_go(conn, d.held_by.in_(dead))
                    await conn.execute(
                        update(t.subscriptions)
                        .where(s.lease_owner.in_(dead))
                        .values(lease_owner=None, lease_until=None)
                    )
                    await conn.execute(delete(t.processes).where(p.id.in_(dead)))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                return []  # nothing was changed: the next round reaps them
            raise
        return dead

    async def alive(self, process_ids: Iterable[str]) -> set[str]:
        """Of `process_ids`, those still beating."""
        ids = list(process_ids)
        if not ids:
            return set()
        p = t.processes.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(p.id).where(p.id.in_(ids)).where(p.heartbeat_at > _NOW - p.ttl))
            return {row.id for row in rows}

    async def leave(self) -> None:
        """A clean exit: free every lease, let go what this process still holds back, and unregister."""
        p, s, d = t.processes.c, t.subscriptions.c, t.deliveries.c
        async with self.engine.begin() as conn:
            await holds.let_go(conn, d.held_by == self.id)
            await conn.execute(
                update(t.subscriptions).where(s.lease_owner == self.id).values(lease_owner=None, lease_until=None)
            )
            await conn.execute(delete(t.processes).where(p.id == self.id))


def live_process_ids() -> Any:
    """SELECT the ids of the processes still beating (a subquery)."""
    p = t.processes.c
    return select(p.id).where(p.heartbeat_at > _NOW - p.ttl)


def _takeable() -> Any:
    """An enabled subscription with no live lease: no owner, or one whose lease lapsed."""
    s = t.subscriptions.c
    return and_(s.status == "enabled", or_(s.lease_owner.is_(None), s.lease_until < _NOW))


def _has_work(sub_id: Any) -> Any:
    """EXISTS: the subscription has a delivery to make that nobody holds back."""
    d = t.deliveries.c
    return exists().where(d.subscription_id == sub_id).where(d.status.in_(ACTIVE)).where(d.held_by.is_(None))
