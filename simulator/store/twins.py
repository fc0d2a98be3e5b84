"""The provider API twins' state: the Basis Theory objects (folded in from the stored events, plus what its API
created) and its webhooks' own fields. Every write goes through the store's writer, in its transaction.

The fold reads `events` in insertion order by SQLite's rowid (the table's key is text, so the rowid is the
order rows were written in; on PostgreSQL the `ord` column a sequence fills), remembering that position and the
key of the last event read. A key no longer at its position means a VACUUM renumbered the rows (the key is found
elsewhere: the fold goes on from there) or a reset emptied the store (the key is gone: the twin forgets its
objects too).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, bindparam, func, literal_column, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select

from simulator.store import Store, postgres
from simulator.store import tables as t
from simulator.timeutil import parse_time

log = logging.getLogger("webhook_sim.twins")
FOLD = "basistheory"
cols = t.bt_objects.c


def insertion_order(dialect: str) -> ColumnElement[int]:
    """The events' insertion order on `dialect` (see the module docstring); named with its table, for joins."""
    return t.events.c.ord if postgres.is_postgresql(dialect) else literal_column("events.rowid", Integer)


def _head(order: ColumnElement[int]) -> Select[Any]:
    return select(order.label("rowid"), t.events.c.key).select_from(t.events).order_by(order.desc()).limit(1)


def run_of(key: str) -> str:
    """The run an event's store key names (`<run id>/<seq>`; "" for an event of no run)."""
    return key.rpartition("/")[0]


@dataclass(frozen=True)
class Cursor:
    rowid: int = 0
    key: str = ""


@dataclass(frozen=True)
class Obj:
    kind: str
    id: str
    n: int
    tenant_id: str | None
    state: str
    body: dict[str, Any]

    @property
    def created(self) -> int:
        return created_of(self.body)


def _obj(row: Any) -> Obj:
    return Obj(row.kind, row.id, row.n, row.tenant_id, row.state, json.loads(row.body))


def created_of(body: Mapping[str, Any]) -> int:
    """An object's `created_at` in Unix microseconds, the order lists are in (0 when it has none that reads)."""
    value = body.get("created_at")
    if not isinstance(value, str):
        return 0
    try:
        moment = parse_time(value)
    except ValueError:
        return 0
    return round(moment.timestamp() * 1_000_000)


# (event body) -> changes; (existing object body or None, change) -> new body
Changes = Callable[[dict[str, Any]], Sequence[Any]]
Apply = Callable[[dict[str, Any] | None, Any], dict[str, Any]]


class TwinStore:
    """The Basis Theory twin's tables (see `tables.bt_*`)."""

    def __init__(self, store: Store, provider: str = "basistheory") -> None:
        self.store = store
        self.provider = provider
        self.order = insertion_order(store.engine.dialect.name)

    async def _all(self, stmt: Any) -> Sequence[Any]:
        async with self.store.engine.connect() as conn:
            return (await conn.execute(stmt)).all()

    # -- the fold ---------------------------------------------------------------------------------------

    async def head(self) -> Cursor:
        """The newest stored event (rowid and key), or Cursor() when there is none: a cheap "anything new?"."""
        rows = await self._all(_head(self.order))
        return Cursor(rows[0][0], rows[0][1]) if rows else Cursor()

    async def fold(
        self,
        changes: Changes,
        apply: Apply,
        limit: int = 500,
        held: Callable[[str], bool] | None = None,
        ahead: AbstractSet[str] = frozenset(),
        after: int = 0,
    ) -> Folded:
        """Fold the next `limit` events (after the cursor, or after rowid `after` where an earlier fold of the
        same pass stopped) into the objects, in one transaction.

        An event `held` names is passed over, and so are the later events of its run (a run's key is `<run id>/
        <seq>`): the twins do not show them yet. The others are folded now; the cursor stays before the first event
        passed over, and what was folded beyond it is returned (`ahead`), so that a later fold, reading on from the
        cursor once the held events show, passes those by instead of folding them twice."""
        rowid = self.order

        async def call(conn: AsyncConnection) -> Folded:
            if postgres.is_postgresql(conn.dialect.name):
                await postgres.lock_fold(conn)
            cursor = await _resume(conn, rowid)
            e = t.events.c
            mine = e.provider == self.provider
            stmt = (
                select(rowid, e.key, mine)
                .select_from(t.events)
                .where(rowid > max(cursor.rowid, after))
                .order_by(rowid)
                .limit(limit)
            )
            rows = (await conn.execute(stmt)).all()
            folded = _Pass(cursor, blocked=after > cursor.rowid)
            for row in rows:
                folded.see(row[0], row[1], bool(row[2]), held, ahead)
            bodies = await _bodies(conn, rowid, folded.to_fold)
            found: list[Any] = []
            for key, body in bodies:
                found.extend(_changes_of(changes, key, body))
            await _apply(conn, found, apply)
            if folded.cursor != cursor:
                await _save_cursor(conn, folded.cursor)
            last = rows[-1][0] if rows else max(cursor.rowid, after)
            return Folded(folded.cursor, last, len(rows) == limit, folded.ahead, folded.passed)

        result: Folded = await self.store.writer.submit(call)
        return result

    # -- objects ----------------------------------------------------------------------------------------

    async def get(self, kind: str, obj_id: str) -> Obj | None:
        rows = await self._all(select(t.bt_objects).where(cols.kind == kind, cols.id == obj_id))
        return _obj(rows[0]) if rows else None

    async def head_and_get(self, kind: str, obj_id: str) -> tuple[Cursor, Obj | None]:
        """`head()` and `get()` in one statement (the read path of every `GET /…/{id}`). With no event stored it
        answers `(Cursor(), None)`: the fold then has a reset to notice, and the caller reads again."""
        head = _head(self.order).subquery()
        stmt = select(head.c.rowid, head.c.key, t.bt_objects).select_from(
            head.outerjoin(t.bt_objects, (cols.kind == kind) & (cols.id == obj_id))
        )
        rows = await self._all(stmt)
        if not rows:
            return Cursor(), None
        row = rows[0]
        return Cursor(row[0], row[1]), (_obj(row) if row.kind is not None else None)

    async def newest_naming(self, kind: str, field: str, value: str) -> dict[str, Any] | None:
        """The body of the newest object of `kind` whose `field` is `value` (the 3DS session opened on an intent).
        Bodies are matched as text, as `_values` writes them, then read to confirm: a scan of one kind, for a
        call as rare as converting an intent only events announced."""
        needle = json.dumps({field: value}, separators=(",", ":"))[1:-1]
        stmt = select(t.bt_objects).where(cols.kind == kind, cols.body.contains(needle, autoescape=True))
        for row in await self._all(stmt.order_by(cols.n.desc()).limit(20)):
            body = _obj(row).body
            if body.get(field) == value:
                return body
        return None

    async def unshown_changes(self, changes: Changes, obj_id: str) -> list[Any]:
        """What this provider's events stored past the fold's cursor that name `obj_id` announce, read as the fold
        reads them: those a run holds back from the twin until they are sent (`delivery.gate`), which the twin's
        state does not show yet."""
        e, p = t.events.c, t.bt_projection.c
        after = select(p.event_rowid).where(p.name == FOLD).scalar_subquery()
        stmt = select(e.key, e.body).where(
            self.order > func.coalesce(after, 0), e.provider == self.provider, e.body.contains(obj_id, autoescape=True)
        )
        return [change for row in await self._all(stmt.order_by(self.order)) for change in _changes_of(changes, *row)]

    async def put(self, kind: str, obj_id: str, tenant_id: str | None, state: str, body: dict[str, Any]) -> None:
        """Create or replace an object (what the twin's own API made)."""

        async def call(conn: AsyncConnection) -> None:
            await _upsert(conn, Obj(kind, obj_id, 0, tenant_id, state, body))

        await self.store.writer.submit(call)

    async def page(self, kind: str, before: tuple[int, int] | None, size: int) -> list[Obj]:
        """Live objects of `kind`, newest `created_at` first (then the last made first), those after the place
        `before` (a `created`, `n` pair) when given. By position alone, a run's tokens, made ahead of the clock
        or from an earlier start, were listed out of their `created_at` order."""
        order = (cols.created.desc(), cols.n.desc())
        stmt = select(t.bt_objects).where(cols.kind == kind, cols.state == "live").order_by(*order).limit(size)
        if before is not None:
            created, n = before
            # A row value: SQLite and PostgreSQL bound the index range by it, where the equivalent OR of two
            # comparisons made SQLite scan every live object of the kind (9.6 ms against 21 µs a page at 200,000).
            stmt = stmt.where(tuple_(cols.created, cols.n) < tuple_(created, n))
        return [_obj(r) for r in await self._all(stmt)]

    # -- webhooks ---------------------------------------------------------------------------------------

    async def webhooks(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """The twin's webhooks whose subscription still exists, oldest first."""
        w, s = t.bt_webhooks.c, t.subscriptions.c
        stmt = select(t.bt_webhooks).join(t.subscriptions, s.id == w.subscription_id).order_by(w.created_at, w.id)
        if tenant_id is not None:
            stmt = stmt.where(w.tenant_id == tenant_id)
        return [dict(r._mapping) for r in await self._all(stmt)]

    async def webhook(self, webhook_id: str) -> dict[str, Any] | None:
        found = [w for w in await self.webhooks() if w["id"] == webhook_id]
        return found[0] if found else None

    async def put_webhook(self, row: dict[str, Any]) -> None:
        async def call(conn: AsyncConnection) -> None:
            w = t.bt_webhooks.c
            done = await conn.execute(update(t.bt_webhooks).where(w.id == row["id"]).values(**row))
            if done.rowcount == 0:
                await conn.execute(t.bt_webhooks.insert().values(**row))

        await self.store.writer.submit(call)

    async def delete_webhook(self, webhook_id: str) -> None:
        async def call(conn: AsyncConnection) -> None:
            await conn.execute(t.bt_webhooks.delete().where(t.bt_webhooks.c.id == webhook_id))

        await self.store.writer.submit(call)


@dataclass(frozen=True)
class Folded:
    """What a fold did: the cursor, the last rowid read, whether more may follow, the keys folded beyond the
    cursor (`ahead`) and those the cursor passed that had been folded ahead (`passed`)."""

    cursor: Cursor
    last: int
    more: bool
    ahead: list[str]
    passed: list[str]


@dataclass
class _Pass:
    """One fold's walk over the events, in order (see `TwinStore.fold`)."""

    cursor: Cursor
    blocked: bool
    to_fold: list[int] = field(default_factory=list)
    ahead: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    runs_held: set[str] = field(default_factory=set)

    def see(
        self, rowid: int, key: str, mine: bool, held: Callable[[str], bool] | None, ahead: AbstractSet[str]
    ) -> None:
        if key in ahead:  # folded by an earlier pass, while an event before it was held
            if not self.blocked:
                self.passed.append(key)
                self.cursor = Cursor(rowid, key)
            return
        run = run_of(key)
        if held is not None and run and (run in self.runs_held or held(key)):
            self.runs_held.add(run)
            self.blocked = True
            return
        if mine:
            self.to_fold.append(rowid)
        if self.blocked:
            self.ahead.append(key)
        else:
            self.cursor = Cursor(rowid, key)


async def _bodies(conn: AsyncConnection, rowid: ColumnElement[int], rowids: list[int]) -> list[tuple[str, str]]:
    """The keys and bodies of the events at `rowids`, in that order."""
    out: list[tuple[int, str, str]] = []
    for i in range(0, len(rowids), 400):  # under SQLite's bound-parameter limit
        stmt = select(rowid, t.events.c.key, t.events.c.body).where(rowid.in_(rowids[i : i + 400]))
        out.extend((r[0], r[1], r[2]) for r in (await conn.execute(stmt)).all())
    out.sort()
    return [(key, body) for _, key, body in out]


def _changes_of(changes: Changes, key: str, body: str) -> Sequence[Any]:
    """One event's changes; an event the rules cannot read is skipped (logged), never a failed transaction: the
    writer's transaction carries other writers' rows too."""
    try:
        return changes(json.loads(body))
    except Exception:
        log.exception("cannot fold event %s into the API twin", key)
        return ()


async def _resume(conn: AsyncConnection, rowid: ColumnElement[int]) -> Cursor:
    """Where the fold stopped, checked against `events` (see the module docstring)."""
    p = t.bt_projection.c
    rows = (await conn.execute(select(p.event_rowid, p.event_key).where(p.name == FOLD))).all()
    if not rows:
        return Cursor()
    cursor = Cursor(rows[0][0], rows[0][1])
    at = (await conn.execute(select(t.events.c.key).where(rowid == cursor.rowid))).scalar()
    if at == cursor.key:
        return cursor
    moved = (await conn.execute(select(rowid).select_from(t.events).where(t.events.c.key == cursor.key))).scalar()
    if moved is not None:
        return Cursor(moved, cursor.key)
    # The store was reset: what the twin knew went with it.
    for table in (t.bt_objects, t.bt_webhooks, t.bt_projection):
        await conn.execute(table.delete())
    return Cursor()


async def _save_cursor(conn: AsyncConnection, cursor: Cursor) -> None:
    p = t.bt_projection.c
    values = {"event_rowid": cursor.rowid, "event_key": cursor.key}
    done = await conn.execute(update(t.bt_projection).where(p.name == FOLD).values(**values))
    if done.rowcount == 0:
        await conn.execute(t.bt_projection.insert().values(name=FOLD, **values))


async def _apply(conn: AsyncConnection, found: list[Any], apply: Apply) -> None:
    """Apply changes in order; the objects they touch are read in one query and written in two."""
    if not found:
        return
    order = list(dict.fromkeys((c.kind, c.id) for c in found))  # first mention first: new ones are numbered so
    objects: dict[tuple[str, str], Obj | None] = dict.fromkeys(order)
    for i in range(0, len(order), 400):  # under SQLite's bound-parameter limit
        stmt = select(t.bt_objects).where(tuple_(cols.kind, cols.id).in_(order[i : i + 400]))
        for row in (await conn.execute(stmt)).all():
            objects[(row.kind, row.id)] = _obj(row)
    existing = {key for key, obj in objects.items() if obj is not None}
    for change in found:
        key = (change.kind, change.id)
        old = objects[key]
        try:
            body = apply(dict(old.body) if old else None, change)
        except Exception:
            log.exception("cannot apply %s %s to the API twin", change.kind, change.id)
            continue
        state = change.state or (old.state if old else "live")
        tenant = old.tenant_id if old and old.tenant_id else change.tenant_id
        objects[key] = Obj(change.kind, change.id, old.n if old else 0, tenant, state, body)
    changed = [obj for obj in objects.values() if obj is not None]
    await _write(
        conn, [o for o in changed if (o.kind, o.id) in existing], [o for o in changed if (o.kind, o.id) not in existing]
    )


def _values(obj: Obj) -> dict[str, Any]:
    body = json.dumps(obj.body, separators=(",", ":"))
    return {"tenant_id": obj.tenant_id, "state": obj.state, "body": body, "created": obj.created}


async def _write(conn: AsyncConnection, old: list[Obj], new: list[Obj]) -> None:
    """Update `old` objects in place; insert `new` ones at the next positions (n), in order."""
    if old:
        stmt = (
            update(t.bt_objects)
            .where(cols.kind == bindparam("_kind"), cols.id == bindparam("_id"))
            .values(
                tenant_id=bindparam("tenant_id"),
                state=bindparam("state"),
                body=bindparam("body"),
                created=bindparam("created"),
            )
        )
        await conn.execute(stmt, [{"_kind": o.kind, "_id": o.id, **_values(o)} for o in old])
    if new:
        n = (await conn.execute(select(func.coalesce(func.max(cols.n), 0)))).scalar() or 0
        rows = [{"kind": o.kind, "id": o.id, "n": n + i, **_values(o)} for i, o in enumerate(new, 1)]
        await conn.execute(t.bt_objects.insert(), rows)


async def _upsert(conn: AsyncConnection, obj: Obj) -> None:
    """Write `obj`; a new object takes the next position (n), an existing one keeps its own."""
    exists = (await conn.execute(select(cols.n).where(cols.kind == obj.kind, cols.id == obj.id))).first()
    await _write(conn, [obj] if exists else [], [] if exists else [obj])
