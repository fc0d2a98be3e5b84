"""The outbox as the senders read it: a subscription's active deliveries in order, with their events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store import tables as t

ACTIVE = ("pending", "failed")
# The highest position of the deliveries a retention pass or a reset deleted (see `keep_last_position`).
LAST_POSITION = "deliveries.last_position"


async def keep_last_position(conn: AsyncConnection, top: int | None) -> None:
    """Remember `top`, the highest position among deliveries about to be deleted, if no higher one is: a position
    is never given twice. Numbered again from what was left, the deliveries made after a restart took the positions
    of those deleted, and a client paging `GET /deliveries` from a cursor it read before skipped them."""
    s = t.settings.c
    if not top or top <= _position((await conn.execute(select(s.value).where(s.key == LAST_POSITION))).scalar()):
        return
    await conn.execute(t.settings.delete().where(s.key == LAST_POSITION))
    await conn.execute(t.settings.insert().values(key=LAST_POSITION, value=str(top)))


def _position(kept: Any) -> int:
    """The position `keep_last_position` kept (0 when none is)."""
    return int(kept) if isinstance(kept, str) and kept.isdigit() else 0


def _free(subscription_id: str) -> tuple[Any, ...]:
    """The subscription's deliveries still to send that no process holds back (it lets one go by clearing
    `held_by`)."""
    c = t.deliveries.c
    return c.subscription_id == subscription_id, c.status.in_(ACTIVE), c.held_by.is_(None)


class OutboxReads:
    """The store's reads of the outbox (a mixin: the store provides `_all`)."""

    async def _all(self, stmt: Any) -> Sequence[Any]:
        raise NotImplementedError

    async def outbox_page(self, subscription_id: str, after_n: int, limit: int) -> list[tuple[Any, list[Any]]]:
        """Active deliveries of one subscription after position `after_n`, each with its event rows."""
        c = t.deliveries.c
        rows = await self._all(
            select(t.deliveries).where(*_free(subscription_id), c.n > after_n).order_by(c.n).limit(limit)
        )
        return await self._with_events(rows)

    async def disabled_among(self, subscription_ids: set[str]) -> set[str]:
        """Which of `subscription_ids` are disabled: their deliveries under way wait for them to be enabled, past
        the time their next attempt was due (see `codec.delivery`)."""
        c, ids = t.subscriptions.c, sorted(subscription_ids)
        out: set[str] = set()
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            stmt = select(c.id).where(c.id.in_(ids[i : i + 500]), c.status != "enabled")
            out.update(row.id for row in await self._all(stmt))
        return out

    async def outbox_ids_behind(self, subscription_id: str, upto_n: int) -> list[str]:
        """The ids of one subscription's active deliveries, free to send, at or before position `upto_n`."""
        c = t.deliveries.c
        rows = await self._all(select(c.id).where(*_free(subscription_id), c.n <= upto_n))
        return [row.id for row in rows]

    async def outbox_rows(self, delivery_ids: list[str]) -> list[tuple[Any, list[Any]]]:
        """Deliveries by id, each with its event rows, whatever their state."""
        rows = await self._all(select(t.deliveries).where(t.deliveries.c.id.in_(delivery_ids)))
        return await self._with_events(rows)

    async def _with_events(self, rows: Sequence[Any]) -> list[tuple[Any, list[Any]]]:
        keys = {k for r in rows for k in json.loads(r.event_keys)}
        events = {e.key: e for e in await self._events(keys)}
        return [(r, [events[k] for k in json.loads(r.event_keys) if k in events]) for r in rows]

    async def _events(self, keys: set[str]) -> list[Any]:
        out: list[Any] = []
        ordered = sorted(keys)
        for i in range(0, len(ordered), 500):  # stay under SQLite's bound-parameter limit
            out.extend(await self._all(select(t.events).where(t.events.c.key.in_(ordered[i : i + 500]))))
        return out

    async def active_count(self, run_id: str | None) -> int:
        """A run's deliveries still to make on enabled subscriptions (what another process may be sending)."""
        d, s = t.deliveries.c, t.subscriptions.c
        stmt = (
            select(func.count())
            .select_from(t.deliveries.join(t.subscriptions, d.subscription_id == s.id))
            .where(d.status.in_(ACTIVE))
            .where(s.status == "enabled")
            .where(d.run_id.is_(None) if run_id is None else d.run_id == run_id)
        )
        return int((await self._all(stmt))[0][0])

    async def max_delivery_n(self) -> int:
        """The highest position given so far: of the deliveries kept, or of those deleted (`keep_last_position`)."""
        s = t.settings.c
        kept = select(func.max(t.deliveries.c.n)).scalar_subquery()
        deleted = select(s.value).where(s.key == LAST_POSITION).scalar_subquery()
        rows = await self._all(select(kept, deleted))
        top, last = rows[0]
        return max(top or 0, _position(last))
