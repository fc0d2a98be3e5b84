"""The Store: subscriptions, runs, events, the delivery outbox and the attempts log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from simulator.errors import FieldError, InvalidInput, StoreUnavailable
from simulator.models import Attempt, Delivery, Run, Subscription
from simulator.store import codec, holds, postgres, reset_mark, run_queue, schema
from simulator.store import tables as t
from simulator.store.body_search import body_contains
from simulator.store.leases import LEASE_TTL
from simulator.store.lock import StoreLock
from simulator.store.opening import (
    folder_of,
    private,
    reason,
    regular_file,
    shown,
    sqlalchemy_url,
    sqlite_pragmas,
    uri_filename,
)
from simulator.store.outbox import ACTIVE, OutboxReads, keep_last_position
from simulator.store.resume import resumes
from simulator.store.rows_process import RowsProcess
from simulator.store.run_reads import RunReads
from simulator.store.secrets import Sealer, open_sealer
from simulator.store.writer import Committed, Listener, Op, Writer
from simulator.turns import in_turns


def ensure_free(url: str | None) -> None:
    """Open the store at `url` and close it again, now: a server refuses to start before it binds, in one line,
    when another process holds the SQLite file (`StoreInUse`, naming it), when the file cannot be written, when
    the store's secrets were sealed with another key, or when no database answers there. (Opened later inside
    the server's start-up, the same refusal came as a traceback.)"""
    asyncio.run(_open_and_close(url))


async def _open_and_close(url: str | None) -> None:
    await (await Store.open(url)).close()


_LET_GO = (
    update(t.deliveries)
    .where(t.deliveries.c.id == bindparam("_id"))
    .values(n=bindparam("n"), next_attempt_at=bindparam("next_attempt_at"), held_by=None)
)

_HALF_MICROSECOND = 5e-7  # see `list_deliveries`' `since` and `until`

# The provider API twins' state: made of the events and subscriptions, so a reset empties it with them.
TWIN_TABLES = (
    t.bt_objects,
    t.bt_webhooks,
    t.bt_projection,
    t.syncfy_index,
    t.syncfy_users,
    t.syncfy_sessions,
    t.syncfy_webhooks,
    t.syncfy_credentials,
)


DELETED = "its subscription was deleted"


class Store(OutboxReads, RunReads):
    def __init__(
        self,
        engine: AsyncEngine,
        temp_file: Path | None = None,
        lock: StoreLock | None = None,
        sealer: Sealer | None = None,
        lease_ttl: float = LEASE_TTL,
    ) -> None:
        self.engine = engine
        self.sealer = sealer or Sealer.ephemeral()  # seals secrets at rest (see simulator.store.secrets)
        self.writer = Writer(engine)
        # What a lane's sending changes: attempt records, redeliveries, deliveries let go. On a shared store a
        # writer on a connection of its own (see `open`); else the one writer.
        self.records = self.writer
        self._temp_file = temp_file
        self._lock = lock
        if lock is not None:  # a SQLite file: each commit checks that it is still the file opened
            self.writer.check_file = lock.replaced
        # The lease length of the process that opened it: its sessions' limit idle in a transaction follows it
        # (see postgres.connect_args), the schedules' own included.
        self.lease_ttl = lease_ttl

    @classmethod
    async def open(
        cls, url: str | None = None, *, secret_key: str | None = None, lease_ttl: float = LEASE_TTL
    ) -> Store:
        """Open (and create) the store. A SQLite file is this process's alone: a second process is refused with
        `StoreInUse` naming the holder. The file and its WAL are readable by their owner only. Secrets are sealed
        with a key from `secret_key`, `WEBHOOK_SIM_SECRET_KEY` or `<database>.key` (see simulator.store.secrets)."""
        sa_url, temp = sqlalchemy_url(url)
        try:
            # On PostgreSQL a pooled connection may have died with a server restart: test it before use.
            engine = create_async_engine(
                sa_url,
                pool_pre_ping=not sa_url.startswith("sqlite"),
                connect_args=postgres.connect_args(sa_url, lease_ttl),
            )
        except (ArgumentError, ValueError, ImportError) as exc:  # an unknown scheme, a driver not installed, …
            raise InvalidInput(
                f"not a store this program opens: {shown(url)!r} ({exc}); give a SQLite path or a postgresql:// URL",
                errors=[FieldError("db", "not a SQLite path or a postgresql:// URL")],
            ) from None
        lock: StoreLock | None = None
        database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
        if database is not None and "uri" in engine.url.query:
            await engine.dispose()
            raise uri_filename(url)
        try:
            if database and database != ":memory:":
                folder_of(database)
                regular_file(database)
                lock = StoreLock.acquire(Path(database))
                private(Path(database))
            if sa_url.startswith("sqlite"):
                sa_event.listen(engine.sync_engine, "connect", sqlite_pragmas)
            async with engine.begin() as conn:
                await conn.run_sync(schema.prepare)
                kept = Path(database) if database and temp is None else None
                sealer = await open_sealer(conn, database=kept, ephemeral=temp is not None, secret_key=secret_key)
        except BaseException as exc:
            await engine.dispose()
            if lock is not None:
                lock.release()
            # A file or folder this process may not write, no server there, or one that refused us: said plainly.
            if isinstance(exc, OSError | DBAPIError):  # DBAPIError: also a database that does not exist
                raise StoreUnavailable(f"cannot open the store at {shown(url)}: {reason(exc)}") from None
            raise
        store = cls(engine, temp, lock, sealer, lease_ttl)
        if database and database != ":memory:":
            store.writer.rows_process = RowsProcess(database)
        store.writer.start()
        if store.shared:
            store._record_beside()
        return store

    def _record_beside(self) -> None:
        """Write sending's records on a connection of their own. There a lane's slot is freed once its attempt's
        record commits (what bounds a killed process's duplicates), and behind the one writer that commit waited
        for the transaction under way, a run's events made ahead: 8-10 ms at p50, 14-19 at p90, and 16 slots
        carried no more than about 1,400 deliveries/s. PostgreSQL takes both writers' transactions at once. A
        delivery's row is made by the writer and changed here only once committed (a lane takes it then); every
        later change of it while this process sends it comes here too, in order."""
        self.records = Writer(self.engine)
        self.records.fenced = True
        self.records.listeners = self.writer.listeners  # the same list: a watcher hears of both
        self.writer.beside = self.records
        self.records.start()

    @property
    def temporary(self) -> bool:
        """An ephemeral store (`--db memory`, `run` without `--db`): deleted when its process ends."""
        return self._temp_file is not None

    @property
    def shared(self) -> bool:
        """Whether other processes may open this store at the same time (PostgreSQL; SQLite is one process's)."""
        return postgres.is_postgresql(self.engine.dialect.name)

    async def close(self) -> None:
        await self.writer.close()
        if self.records is not self.writer:  # after: what the writer commits may let deliveries go (see let_go)
            await self.records.close()
        await self.engine.dispose()
        if self._lock is not None:
            self._lock.release()
        if self._temp_file is not None:
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(f"{self._temp_file}{suffix}").unlink(missing_ok=True)

    # -- writes (all through the writer) -------------------------------------------------------------

    async def write(self, op: Op) -> None:
        await self.writer.put(op)

    async def put_subscription(self, sub: Subscription) -> None:
        row = codec.subscription_row(sub, self.sealer)

        async def call(conn: AsyncConnection) -> None:
            exists = await conn.execute(select(t.subscriptions.c.id).where(t.subscriptions.c.id == sub.id))
            if exists.first():
                await conn.execute(update(t.subscriptions).where(t.subscriptions.c.id == sub.id).values(**row))
            else:
                await conn.execute(t.subscriptions.insert().values(**row))

        await self.writer.submit(call)

    def save_subscription_state(self, sub_id: str, status: str, consecutive_dead: int) -> None:
        """Queue the delivery-driven part of a subscription's state (from engine callbacks: no waiting)."""
        self.writer.put_nowait(Op(states=({"_id": sub_id, "status": status, "consecutive_dead": consecutive_dead},)))

    def let_go(self, moves: Sequence[tuple[str, int, float, str | None]]) -> None:
        """Queue (delivery id, position, due time, new fault record or None) for deliveries a process held back
        and lets go: on a shared store at a new position (the lane that sends them has read past their old one),
        on a store of its own at the same one."""
        rows = [{"_id": i, "n": n, "next_attempt_at": due} for i, n, due, _ in moves]
        records = [{"_id": i, "faults": faults} for i, _, _, faults in moves if faults is not None]

        async def call(conn: AsyncConnection) -> None:
            await conn.execute(_LET_GO, rows)
            if records:
                await conn.execute(holds.MARK, records)
            await postgres.notify_outbox(conn, self.records.sender)

        self.records.put_nowait(Op(call=call))  # after the records of their attempts: they keep what those set

    async def claim_again(self, read: Sequence[tuple[str, str]]) -> set[str]:
        """Make the deliveries read as (id, status) pending now, those that still are as read, in one transaction;
        their ids. Before they are sent again: a retention pass (this process's, or another's on a shared store)
        may have deleted one since it was read, and it went out with no record of it."""

        by_status: dict[str, list[str]] = {}
        for delivery_id, status in read:
            by_status.setdefault(status, []).append(delivery_id)

        async def call(conn: AsyncConnection) -> set[str]:
            d, claimed = t.deliveries.c, set[str]()
            for status, ids in by_status.items():  # one statement per status read (a page of at most 500 ids)
                stmt = update(t.deliveries).where(d.id.in_(ids), d.status == status).values(status="pending")
                claimed.update(row.id for row in await conn.execute(stmt.returning(d.id)))
            return claimed

        if not read:
            return set()
        claimed: set[str] = await self.records.submit(call)
        return claimed

    async def delete_subscription(self, sub_id: str) -> None:
        """Delete a subscription; what it had yet to deliver ends `dead`, saying why (left as it was, a retry
        nobody would ever make showed as due for good, and could not be sent again)."""

        async def call(conn: AsyncConnection) -> frozenset[str]:
            ended = await _end_unfinished(conn, sub_id)
            await conn.execute(t.subscriptions.delete().where(t.subscriptions.c.id == sub_id))
            # Processes sending for it on a shared store stop at once, not at their next read of it (about a second
            # later, during which they sent to a subscription whose DELETE had answered).
            await postgres.notify_outbox(conn, postgres.DELETED + sub_id)
            return ended

        if ended := await self.writer.submit(call):
            self.writer.announce(Committed(ended, other=False))  # the dashboard shows them end

    async def end_deliveries_of_deleted(self, sub_id: str) -> None:
        """End, as its delete did, what another process made for a deleted subscription while it was deleted: a
        publish begun before the delete and committed after it left deliveries no lease would ever take."""

        async def call(conn: AsyncConnection) -> frozenset[str]:
            if (await conn.execute(select(t.subscriptions.c.id).where(t.subscriptions.c.id == sub_id))).first():
                return frozenset()  # not deleted after all (an id is never reused, but a delete can fail)
            return await _end_unfinished(conn, sub_id)

        if ended := await self.writer.submit(call):
            self.writer.announce(Committed(ended, other=False))

    async def put_run(self, run_id: str, **values: Any) -> None:
        """Insert or update a run's row (`spec` is given as a dict)."""
        if "spec" in values:
            values["spec"] = codec.dumps(values["spec"])

        async def call(conn: AsyncConnection) -> None:
            done = await conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))
            # Only a whole row is inserted: an update of a run a reset deleted meanwhile has nothing to update
            # (inserting the part it has failed the row's constraints, a traceback in the log).
            if done.rowcount == 0 and "scenario" in values:
                await conn.execute(t.runs.insert().values(id=run_id, **values))

        await self.writer.submit(call)

    async def set_setting(self, key: str, value: str) -> None:
        async def call(conn: AsyncConnection) -> None:
            await conn.execute(t.settings.delete().where(t.settings.c.key == key))
            await conn.execute(t.settings.insert().values(key=key, value=value))

        await self.writer.submit(call)

    async def mark_reset(self) -> None:
        """Keep that a reset is under way until `reset` ends it (see `reset_mark`)."""

        async def call(conn: AsyncConnection) -> None:
            for stmt in reset_mark.mark():
                await conn.execute(stmt)

        await self.writer.submit(call)

    async def finish_reset(self) -> bool:
        """Finish a reset a stopped process left under way, schedules included; whether there was one."""
        if await self.get_setting(reset_mark.SETTING) is None:
            return False
        await self.writer.submit(reset_mark.clear_schedules)
        await self.reset()
        return True

    async def reset(self) -> None:
        async def call(conn: AsyncConnection) -> None:
            await keep_last_position(conn, (await conn.execute(select(func.max(t.deliveries.c.n)))).scalar())
            for table in (*TWIN_TABLES, t.attempts, t.deliveries, t.events, t.runs, t.subscriptions):
                await conn.execute(table.delete())
            await conn.execute(reset_mark.forget())  # the reset is done: with what it deleted, or not at all
            if postgres.is_postgresql(conn.dialect.name):  # the processes playing its runs stop at once
                await run_queue.notify(conn)

        if self.records is not self.writer:
            await self.records.barrier()  # the records queued so far, before what they record is deleted
        await self.writer.submit(call)
        self.writer.announce(Committed(frozenset(), other=True, reset=True))

    # -- reads ------------------------------------------------------------------------------------------

    async def _all(self, stmt: Any) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).all()

    async def get_setting(self, key: str) -> str | None:
        rows = await self._all(select(t.settings.c.value).where(t.settings.c.key == key))
        return rows[0].value if rows else None

    async def get_subscription(self, sub_id: str) -> Subscription | None:
        rows = await self._all(select(t.subscriptions).where(t.subscriptions.c.id == sub_id))
        return codec.subscription(rows[0], self.sealer) if rows else None

    async def list_subscriptions(
        self, limit: int | None = None, cursor: str | None = None, *, listed: bool = False
    ) -> list[Subscription]:
        """Subscriptions in id order; `listed`: those a list shows, not a run's or an event's ad-hoc target's."""
        stmt = select(t.subscriptions).order_by(t.subscriptions.c.id)
        if listed:  # in the query: left out of a page cut to its limit, they left it short, even empty
            stmt = stmt.where(t.subscriptions.c.ephemeral.is_(False))
        if cursor:
            stmt = stmt.where(t.subscriptions.c.id > cursor)
        if limit:
            stmt = stmt.limit(limit)
        return [codec.subscription(r, self.sealer) for r in await self._all(stmt)]

    async def get_run(self, run_id: str) -> Run | None:
        rows = await self._all(select(t.runs).where(t.runs.c.id == run_id))
        return codec.run(rows[0], await self.delivery_counts(run_id)) if rows else None

    async def list_runs(self, limit: int | None = None, cursor: str | None = None) -> list[Run]:
        stmt = select(t.runs).order_by(t.runs.c.id)
        if cursor:
            stmt = stmt.where(t.runs.c.id > cursor)
        if limit:
            stmt = stmt.limit(limit)
        rows = await self._all(stmt)
        counts = await self._counts_by_run([r.id for r in rows])
        return [codec.run(r, counts.get(r.id, {})) for r in rows]

    async def run_owners(self, run_ids: list[str]) -> dict[str, str | None]:
        """The process playing each of `run_ids` (None for a run an earlier release started)."""
        c = t.runs.c
        out: dict[str, str | None] = {}
        for i in range(0, len(run_ids), 500):  # stay under SQLite's bound-parameter limit
            for row in await self._all(select(c.id, c.owner).where(c.id.in_(run_ids[i : i + 500]))):
                out[row.id] = row.owner
        return out

    async def _counts_by_run(self, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """Deliveries by status for each of `run_ids`, in one query (not one per run)."""
        c = t.deliveries.c
        out: dict[str, dict[str, int]] = {}
        for i in range(0, len(run_ids), 500):  # stay under SQLite's bound-parameter limit
            stmt = (
                select(c.run_id, c.status, func.count())
                .where(c.run_id.in_(run_ids[i : i + 500]))
                .group_by(c.run_id, c.status)
            )
            for run_id, status, n in await self._all(stmt):
                out.setdefault(run_id, {})[status] = n
        return out

    async def delivery_counts(self, run_id: str | None = None, subscription_id: str | None = None) -> dict[str, int]:
        stmt = select(t.deliveries.c.status, func.count()).group_by(t.deliveries.c.status)
        if run_id is not None:
            stmt = stmt.where(t.deliveries.c.run_id == run_id)
        if subscription_id is not None:
            stmt = stmt.where(t.deliveries.c.subscription_id == subscription_id)
        return {row[0]: row[1] for row in await self._all(stmt)}

    async def list_deliveries(
        self,
        *,
        run_id: str | None = None,
        subscription_id: str | None = None,
        status: str | None = None,
        type: str | None = None,
        text: str | None = None,
        ids: Sequence[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        cursor: int | None = None,
    ) -> list[tuple[int, Delivery]]:
        """Deliveries in creation order (or newest first) with their position (the cursor for the next page).
        `text`: only those whose events' bodies contain it (ASCII letters in any case); `ids`: only these;
        `since`, `until` (Unix seconds): only those made at or after `since` and before `until`."""
        c = t.deliveries.c
        stmt = select(t.deliveries).order_by(c.listed.desc() if newest_first else c.listed)
        # A stored time is read as a datetime to the microsecond (rounded) and answered to the millisecond (cut):
        # half a microsecond below each bound keeps a delivery on the side its answered `created_at` is on,
        # whichever way its float rounds (a delivery's own `created_at` as `since` selects it, as `until` not).
        if since is not None:
            stmt = stmt.where(c.created_at >= since - _HALF_MICROSECOND)
        if until is not None:
            stmt = stmt.where(c.created_at < until - _HALF_MICROSECOND)
        for column, value in ((c.run_id, run_id), (c.subscription_id, subscription_id), (c.status, status)):
            if value is not None:
                stmt = stmt.where(column == value)
        if type is not None:  # a batch's first event's type, or any of its others'
            stmt = stmt.where(or_(c.type == type, c.types.contains(f" {type} ", autoescape=True)))
        if text:
            stmt = stmt.where(body_contains(text, self.engine.dialect.name))
        if ids is not None:
            stmt = stmt.where(c.id.in_(list(ids)))
        if cursor is not None:
            stmt = stmt.where(c.listed < cursor if newest_first else c.listed > cursor)
        if limit:
            stmt = stmt.limit(limit)
        rows = await self._all(stmt)
        latencies, firsts = await self._attempt_facts([r.id for r in rows if r.attempts])
        held = await self.disabled_among({r.subscription_id for r in rows if r.status in ("pending", "failed")})

        def listed(r: Any) -> tuple[int, Delivery]:
            waiting = r.subscription_id in held
            return r.listed, codec.delivery(r, (), latencies.get(r.id), firsts.get(r.id), waiting)

        return await in_turns(rows, listed)

    async def _attempt_facts(self, delivery_ids: list[str]) -> tuple[dict[str, float], dict[str, float]]:
        """The latency of each delivery's latest attempt, and when its first started, in one query per 500 (not
        one per delivery). The first by its time, not its number: a lease lost on a shared store may number two
        attempts alike."""
        a = t.attempts
        latencies: dict[str, float] = {}
        firsts: dict[str, float] = {}
        for i in range(0, len(delivery_ids), 500):  # stay under SQLite's bound-parameter limit
            each = (
                select(a.c.delivery_id, func.max(a.c.id).label("latest"), func.min(a.c.started_at).label("first"))
                .where(a.c.delivery_id.in_(delivery_ids[i : i + 500]))
                .group_by(a.c.delivery_id)
                .subquery()
            )
            stmt = select(each.c.delivery_id, each.c.first, a.c.latency_ms).join(a, a.c.id == each.c.latest)
            for row in await self._all(stmt):
                latencies[row.delivery_id], firsts[row.delivery_id] = row.latency_ms, row.first
        return latencies, firsts

    async def run_ids_of(self, delivery_ids: Sequence[str]) -> set[str]:
        """The runs these deliveries belong to."""
        c = t.deliveries.c
        out: set[str] = set()
        ordered = list(delivery_ids)
        for i in range(0, len(ordered), 500):  # stay under SQLite's bound-parameter limit
            stmt = select(c.run_id).where(c.id.in_(ordered[i : i + 500])).where(c.run_id.is_not(None)).distinct()
            out.update(r.run_id for r in await self._all(stmt))
        return out

    def watch(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after each commit (on the writer's task); returns the function that stops it."""
        self.writer.listeners.append(listener)

        def stop() -> None:
            if listener in self.writer.listeners:
                self.writer.listeners.remove(listener)

        return stop

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        rows = await self._all(select(t.deliveries).where(t.deliveries.c.id == delivery_id))
        if not rows:
            return None
        logs = await self._all(
            select(t.attempts)
            .where(t.attempts.c.delivery_id == delivery_id)
            .order_by(t.attempts.c.number, t.attempts.c.id)
        )
        held = await self.disabled_among(
            {rows[0].subscription_id} if rows[0].status in ("pending", "failed") else set()
        )
        return codec.delivery(rows[0], tuple(codec.attempt(a) for a in logs), waiting=bool(held))

    async def attempts(self, delivery_id: str) -> list[Attempt]:
        rows = await self._all(
            select(t.attempts)
            .where(t.attempts.c.delivery_id == delivery_id)
            .order_by(t.attempts.c.number, t.attempts.c.id)
        )
        return [codec.attempt(r) for r in rows]

    async def active_subscription_ids(self) -> list[str]:
        """Subscriptions with deliveries still to make (what a restart must resume; none within `own_work_only`)."""
        if not resumes():
            return []
        c = t.deliveries.c
        rows = await self._all(select(c.subscription_id).where(c.status.in_(ACTIVE)).distinct())
        return [r.subscription_id for r in rows]

    async def release_holds(self) -> None:
        """Let go what a previous process held back (a store only this process uses: nothing else holds)."""

        async def call(conn: AsyncConnection) -> None:
            await holds.let_go(conn, t.deliveries.c.held_by.is_not(None))

        await self.writer.submit(call)


async def _end_unfinished(conn: AsyncConnection, sub_id: str) -> frozenset[str]:
    """End, `dead` as its deletion says, what a subscription had yet to deliver; their ids."""
    d = t.deliveries.c
    unfinished = (d.subscription_id == sub_id) & d.status.in_(ACTIVE)
    ended = (await conn.execute(select(d.id).where(unfinished))).all()
    values = {"status": "dead", "finished_at": time.time(), "held_by": None, "last_error": DELETED}
    await conn.execute(update(t.deliveries).where(unfinished).values(**values))
    return frozenset(row.id for row in ended)
