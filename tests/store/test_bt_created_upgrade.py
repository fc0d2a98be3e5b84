"""A store written before the Basis Theory twin's objects had `created` (schema version 3) gets it from each
object's body as it is opened, so its tokens list in `created_at` order at once."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store import tables as t
from tests.store.upgrades import upgraded

BODIES = {
    "old": {"id": "old", "created_at": "2024-04-09T13:56:37.864Z"},
    "new": {"id": "new", "created_at": "2030-01-01T02:00:00+02:00"},
    "none": {"id": "none"},
    "odd": {"id": "odd", "created_at": "not a time"},
}


async def test_a_version_3_store_has_its_objects_dated_as_it_is_opened(store_url: str) -> None:
    async def written(conn: AsyncConnection) -> None:
        rows = [
            {"kind": "token", "id": oid, "n": n, "state": "live", "body": json.dumps(body), "created": None}
            for n, (oid, body) in enumerate(BODIES.items(), 1)
        ]
        await conn.execute(t.bt_objects.insert(), rows)

    async with upgraded(store_url, 3, written) as store, store.engine.connect() as conn:
        dated = dict((await conn.execute(select(t.bt_objects.c.id, t.bt_objects.c.created))).all())
    micros = {k: round(datetime.fromisoformat(b["created_at"]).timestamp() * 1e6) for k, b in list(BODIES.items())[:2]}
    assert dated == {**micros, "none": 0, "odd": 0}
