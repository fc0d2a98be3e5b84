"""The Syncfy API twin's persistence: the index of stored Syncfy events, and the users, sessions, webhooks and
credentials its API created. Reads go straight to the database; writes go through the store's single writer,
so they are ordered after the events they index."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store import Store
from simulator.store import tables as t
from simulator.store.leases import live_process_ids
from simulator.store.twins import insertion_order, run_of

IndexRow = dict[str, Any]
_I = t.syncfy_index.c
_E = t.events.c


@dataclass(frozen=True)
class Indexed:
    """One indexed event with its stored body (the per-event object: `header` and `payload`)."""

    key: str
    type: str
    at: float
    body: dict[str, Any]
    ends_with: str | None = None  # the type of the later event of its run that ends what it began (`Event`)

    @property
    def payload(self) -> dict[str, Any]:
        return self.body.get("payload") or {}

    @property
    def user(self) -> dict[str, Any]:
        return (self.body.get("header") or {}).get("user") or {}

    @property
    def eid(self) -> str:
        return str(((self.body.get("header") or {}).get("event") or {}).get("eid", self.key))


# What the twin reads of a stored event's body, given its type: the body itself unless told otherwise.
Reader = Callable[[str, Any], dict[str, Any]]


def _as_stored(etype: str, body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


class SyncfyTwinStore:
    def __init__(self, store: Store, read: Reader = _as_stored) -> None:
        self.store = store
        self.read = read

    async def _all(self, stmt: Any) -> Sequence[Any]:
        async with self.store.engine.connect() as conn:
            return (await conn.execute(stmt)).all()

    async def _write(self, call: Any) -> Any:
        return await self.store.writer.submit(call)

    # -- the event index -------------------------------------------------------------------------------

    async def add_index(self, rows: Sequence[IndexRow]) -> None:
        """Index events (those already indexed are skipped: a backfill may meet the live path)."""
        if not rows:
            return

        async def call(conn: AsyncConnection) -> None:
            keys = [r["event_key"] for r in rows]
            seen: set[str] = set()
            for i in range(0, len(keys), 500):
                found = await conn.execute(select(_I.event_key).where(_I.event_key.in_(keys[i : i + 500])))
                seen.update(r.event_key for r in found)
            fresh = [r for r in rows if r["event_key"] not in seen]
            if fresh:
                await conn.execute(t.syncfy_index.insert(), fresh)

        await self._write(call)

    async def unindexed_events(self, limit: int = 2000, after: int = 0) -> list[Any]:
        """Stored Syncfy events the index lacks (written by an earlier process, another process sharing the
        store, or before indexing began), past insertion position `after`; each with its position (`pos`)."""
        order = insertion_order(self.store.engine.dialect.name)
        stmt = (
            select(_E.key, _E.type, _E.occurred_at, _E.body, order.label("pos"))
            .select_from(t.events.outerjoin(t.syncfy_index, _I.event_key == _E.key))
            .where(_E.provider == "syncfy", _I.event_key.is_(None), order > after)
            .order_by(order)
            .limit(limit)
        )
        return list(await self._all(stmt))

    async def events_head(self) -> int:
        """The insertion position of the latest stored event (0 for none)."""
        order = insertion_order(self.store.engine.dialect.name)
        head = await self._all(select(func.max(order)).select_from(t.events))
        return int(head[0][0] or 0) if head else 0

    async def _indexed(self, *where: Any, hidden_from: Sequence[str] = ()) -> list[Indexed]:
        stmt = (
            select(_I.event_key, _I.type, _I.at, _E.body, _E.ends_with)
            .select_from(t.syncfy_index.join(t.events, _E.key == _I.event_key))
            .where(*where, *_shown(hidden_from))
            .order_by(_I.n)  # the order they happened in: a run at speed 0 stamps its events hours ahead
        )
        rows = await self._all(stmt)
        return [Indexed(r.event_key, r.type, r.at, self.read(r.type, json.loads(r.body)), r.ends_with) for r in rows]

    # `hidden_from`, on the reads the API answers from: the earliest event of each run the twin does not show yet
    # (`delivery.gate`); it and its run's events indexed after it are left out.

    async def credential_events(self, id_credential: str, hidden_from: Sequence[str] = ()) -> list[Indexed]:
        return await self._indexed(_I.id_credential == id_credential, hidden_from=hidden_from)

    async def job_events(self, id_job: str, hidden_from: Sequence[str] = ()) -> list[Indexed]:
        return await self._indexed(_I.id_job == id_job, hidden_from=hidden_from)

    async def webhook_events(self, id_job_webhook: str, hidden_from: Sequence[str] = ()) -> list[Indexed]:
        return await self._indexed(_I.id_job_webhook == id_job_webhook, hidden_from=hidden_from)

    async def user_documents(self, id_user: str, hidden_from: Sequence[str] = ()) -> list[Indexed]:
        return await self._indexed(_I.id_user == id_user, _I.id_job_webhook.is_not(None), hidden_from=hidden_from)

    async def documents_credential(self, event_key: str) -> str | None:
        """The credential a documents event reports for. The event does not name it; it is the latest credential
        its user had at its site, as the events indexed before it name them (a documents job downloads for one
        credential, at that credential's site: `providers.syncfy.events`)."""
        doc = t.syncfy_index.alias("doc")
        same = and_(_I.id_user == doc.c.id_user, _I.id_site == doc.c.id_site, _I.n < doc.c.n)
        stmt = (
            select(_I.id_credential)
            .select_from(t.syncfy_index.join(doc, same))
            .where(doc.c.event_key == event_key, _I.id_credential.is_not(None))
            .order_by(_I.n.desc())
            .limit(1)
        )
        rows = await self._all(stmt)
        return rows[0].id_credential if rows else None

    async def refreshes_tagged(self, tags: Sequence[str], hidden_from: Sequence[str] = ()) -> list[Indexed]:
        return await self._indexed(_I.tag.in_(list(tags)), hidden_from=hidden_from)

    async def credentials(self, id_user: str | None = None, hidden_from: Sequence[str] = ()) -> list[str]:
        """Every credential the events named (of one user), in the order they first appeared."""
        stmt = select(_I.id_credential, func.min(_I.n).label("first")).where(
            _I.id_credential.is_not(None), *_shown(hidden_from)
        )
        if id_user is not None:
            stmt = stmt.where(_I.id_user == id_user)
        stmt = stmt.group_by(_I.id_credential).order_by("first")
        return [r.id_credential for r in await self._all(stmt)]

    async def users(self, hidden_from: Sequence[str] = ()) -> list[Indexed]:
        """The latest event of every user the events named."""
        latest = select(func.max(_I.n)).where(_I.id_user.is_not(None), *_shown(hidden_from)).group_by(_I.id_user)
        return await self._indexed(_I.n.in_(latest))

    async def sites(self) -> list[tuple[str, str, str]]:
        """Every site the events named, in the order first seen."""
        stmt = (
            select(_I.id_site, _I.id_site_organization, _I.id_site_organization_type, func.min(_I.n).label("first"))
            .where(_I.id_site.is_not(None))
            .group_by(_I.id_site, _I.id_site_organization, _I.id_site_organization_type)
            .order_by("first")
        )
        return [(r.id_site, r.id_site_organization, r.id_site_organization_type) for r in await self._all(stmt)]

    # -- users and sessions -----------------------------------------------------------------------------

    async def put_user(self, row: dict[str, Any]) -> None:
        async def call(conn: AsyncConnection) -> None:
            done = await conn.execute(
                update(t.syncfy_users).where(t.syncfy_users.c.id_user == row["id_user"]).values(**row)
            )
            if done.rowcount == 0:
                await conn.execute(t.syncfy_users.insert().values(**row))

        await self._write(call)

    async def api_users(self) -> list[dict[str, Any]]:
        rows = await self._all(select(t.syncfy_users).order_by(t.syncfy_users.c.dt_create))
        return [dict(r._mapping) for r in rows]

    async def put_session(self, token: str, id_user: str, now: float) -> None:
        async def call(conn: AsyncConnection) -> None:
            await conn.execute(t.syncfy_sessions.insert().values(token=token, id_user=id_user, last_used=now))

        await self._write(call)

    async def session(self, token: str) -> tuple[str, float] | None:
        rows = await self._all(select(t.syncfy_sessions).where(t.syncfy_sessions.c.token == token))
        return (rows[0].id_user, rows[0].last_used) if rows else None

    async def touch_session(self, token: str, now: float) -> None:
        async def call(conn: AsyncConnection) -> None:
            await conn.execute(
                update(t.syncfy_sessions).where(t.syncfy_sessions.c.token == token).values(last_used=now)
            )

        await self._write(call)

    async def delete_session(self, token: str) -> None:
        async def call(conn: AsyncConnection) -> None:
            await conn.execute(delete(t.syncfy_sessions).where(t.syncfy_sessions.c.token == token))

        await self._write(call)

    async def delete_sessions_of(self, id_user: str) -> None:
        async def call(conn: AsyncConnection) -> None:
            await conn.execute(delete(t.syncfy_sessions).where(t.syncfy_sessions.c.id_user == id_user))

        await self._write(call)

    # -- webhooks -----------------------------------------------------------------------------------------

    async def put_webhook(self, row: dict[str, Any]) -> None:
        async def call(conn: AsyncConnection) -> None:
            await conn.execute(t.syncfy_webhooks.insert().values(**row))

        await self._write(call)

    async def webhooks(self, id_webhook: str | None = None) -> list[dict[str, Any]]:
        stmt = select(t.syncfy_webhooks).order_by(t.syncfy_webhooks.c.dt_created, t.syncfy_webhooks.c.id_webhook)
        if id_webhook is not None:
            stmt = stmt.where(t.syncfy_webhooks.c.id_webhook == id_webhook)
        return [dict(r._mapping) for r in await self._all(stmt)]

    async def update_webhook(self, id_webhook: str, values: dict[str, Any]) -> bool:
        """Change some of a webhook's fields in place; False when it no longer exists."""
        stmt = update(t.syncfy_webhooks).where(t.syncfy_webhooks.c.id_webhook == id_webhook).values(**values)

        async def call(conn: AsyncConnection) -> bool:
            return bool((await conn.execute(stmt)).rowcount)

        return bool(await self._write(call))

    async def delete_webhook(self, id_webhook: str) -> None:
        async def call(conn: AsyncConnection) -> None:
            await conn.execute(delete(t.syncfy_webhooks).where(t.syncfy_webhooks.c.id_webhook == id_webhook))

        await self._write(call)

    # -- credentials the API registered or deleted --------------------------------------------------------

    async def put_credential(self, id_credential: str, **values: Any) -> None:
        if "flow" in values and values["flow"] is not None:
            values["flow"] = json.dumps(values["flow"])
        table = t.syncfy_credentials

        async def call(conn: AsyncConnection) -> None:
            done = await conn.execute(update(table).where(table.c.id_credential == id_credential).values(**values))
            if done.rowcount == 0:
                await conn.execute(table.insert().values(id_credential=id_credential, **values))

        await self._write(call)

    async def claim_credential(self, id_credential: str, player: str) -> bool:
        """Take the playing of a credential's lifecycle for `player` (a process id), unless a live process other
        than it plays it: one player at a time across the processes of a shared store."""
        c = t.syncfy_credentials.c
        stmt = (
            update(t.syncfy_credentials)
            .where(c.id_credential == id_credential)
            .where(or_(c.player.is_(None), c.player == player, c.player.not_in(live_process_ids())))
            .values(player=player)
        )

        async def call(conn: AsyncConnection) -> bool:
            return bool((await conn.execute(stmt)).rowcount)

        return bool(await self._write(call))

    async def let_go_credential(self, id_credential: str, player: str) -> None:
        """`player` no longer plays the lifecycle (it ended, or waits for a caller any server may answer)."""
        c = t.syncfy_credentials.c
        stmt = update(t.syncfy_credentials).where(c.id_credential == id_credential).where(c.player == player)

        async def call(conn: AsyncConnection) -> None:
            await conn.execute(stmt.values(player=None))

        await self._write(call)

    async def api_credential(self, id_credential: str) -> dict[str, Any] | None:
        rows = await self._all(
            select(t.syncfy_credentials).where(t.syncfy_credentials.c.id_credential == id_credential)
        )
        return _credential(rows[0]) if rows else None

    async def api_credentials_of(self, id_user: str) -> list[str]:
        """The credentials the API twin registered for a user: one just made may not be indexed from its events
        yet."""
        c = t.syncfy_credentials.c
        stmt = select(c.id_credential).where(c.id_user == id_user).order_by(c.id_credential)
        return [row.id_credential for row in await self._all(stmt)]

    async def adoptable_credentials(self, waiting_step: str, *, shared: bool) -> list[str]:
        """Credentials whose lifecycle is under way (not waiting for a caller) and that nobody plays: on a shared
        store, unclaimed or claimed by a process whose beat stopped; alone on a store, every one."""
        c = t.syncfy_credentials.c
        stmt = (
            select(c.id_credential)
            .where(c.step.is_not(None), c.step != waiting_step, c.dt_disable.is_(None))
            .order_by(c.id_credential)
        )
        if shared:
            stmt = stmt.where(or_(c.player.is_(None), c.player.not_in(live_process_ids())))
        return [row.id_credential for row in await self._all(stmt)]


def _shown(hidden_from: Sequence[str]) -> tuple[Any, ...]:
    """The conditions that leave out each event of `hidden_from` and its run's events indexed after it (a run's
    key is `<run id>/<seq>`; one not indexed yet has nothing of its run indexed after it either)."""
    out = []
    for key in hidden_from:
        first = select(_I.n).where(_I.event_key == key).scalar_subquery()
        run = run_of(key) + "/"
        out.append(or_(~_I.event_key.startswith(run, autoescape=True), _I.n < func.coalesce(first, 2**62)))
    return tuple(out)


def _credential(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["flow"] = json.loads(out["flow"]) if out["flow"] else None
    return out
