"""A store written before deliveries had a place in the list of their own (schema version 4) gets it as it is
opened: each delivery listed where its position put it, so a list walked across the upgrade goes on in order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store import tables as t
from tests.store.upgrades import upgraded


def _row(delivery_id: str, n: int) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "n": n,
        "subscription_id": "sub_a",
        "event_keys": "[]",
        "event_ids": "[]",
        "type": "token.created",
        "status": "succeeded",
        "attempts": 1,
        "retries": 0,
        "sim_offset": 0.0,
        "speed": 1.0,
        "next_attempt_at": 1_700_000_000.0,
        "created_at": 1_700_000_000.0 + n,
    }


async def test_a_version_4_store_has_its_deliveries_listed_as_it_is_opened(store_url: str) -> None:
    async def written(conn: AsyncConnection) -> None:  # the deliveries table as version 4 had it
        await conn.execute(text("DROP INDEX ix_deliveries_listed"))
        await conn.execute(text("ALTER TABLE deliveries DROP COLUMN listed"))
        await conn.execute(text("ALTER TABLE deliveries DROP COLUMN types"))
        await conn.execute(t.deliveries.insert(), [_row(f"msg_{n}", n) for n in (3, 1, 7)])

    async with upgraded(store_url, 4, written) as store:
        async with store.engine.connect() as conn:
            listed = dict((await conn.execute(select(t.deliveries.c.id, t.deliveries.c.listed))).all())
        assert listed == {"msg_1": 1, "msg_3": 3, "msg_7": 7}
        newest = await store.list_deliveries(newest_first=True, limit=2)
        assert [(n, d.id) for n, d in newest] == [(7, "msg_7"), (3, "msg_3")]
        assert [d.id for _, d in await store.list_deliveries(cursor=3)] == ["msg_7"]
