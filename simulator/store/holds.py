"""Deliveries a process held back (an unfilled `reorder` window or `burst`) and can no longer let go itself: it
stopped, or died. They are let go to be sent in their usual order, and their fault records say so: a record that
still gave the rank the window had planned told of an order that never happened."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from simulator.store import tables as t
from simulator.store.codec import dumps

CUT = "cut short: the process holding it stopped, and it was sent in its usual order"
MARK = update(t.deliveries).where(t.deliveries.c.id == bindparam("_id")).values(faults=bindparam("faults"))


async def let_go(conn: AsyncConnection, held: ColumnElement[bool]) -> None:
    """Let go the deliveries `held` selects, marking each hold they were part of as cut short."""
    d = t.deliveries.c
    marked = [
        {"_id": row.id, "faults": dumps(faults)}
        for row in (await conn.execute(select(d.id, d.faults).where(held))).all()
        if (faults := _cut(row.faults)) is not None
    ]
    if marked:
        await conn.execute(MARK, marked)
    await conn.execute(update(t.deliveries).where(held).values(held_by=None))


def _cut(text: str | None) -> dict[str, Any] | None:
    """The faults record with its `reorder` and `burst` marked cut short; None when it holds neither."""
    faults = json.loads(text) if text else None
    if not isinstance(faults, dict):
        return None
    holds = [faults[kind] for kind in ("reorder", "burst") if isinstance(faults.get(kind), dict)]
    for hold in holds:
        hold["cut"] = CUT
    return faults if holds else None
