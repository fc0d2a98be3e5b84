"""On PostgreSQL a connection lost as a transaction commits leaves it unknown whether the server committed it. The
writer asks the store before writing it again: written again as it was, a committed transaction was refused for
good (`duplicate key value violates unique constraint "events_pkey"`), and a run whose rows these were ended
failed, most of its events never made, though its deliveries had been stored."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from simulator.store import Store
from simulator.store.writer import Op
from tests.store.test_outbox_notify import rows
from tests.store.test_pg_rows import count, store, write

__all__ = ["store"]  # the fixture, from its module


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "not-committed"])
async def test_a_transaction_whose_commit_lost_its_connection_is_written_once(
    store: Store, monkeypatch: pytest.MonkeyPatch, committed: bool
) -> None:
    await write(store, Op(events=(rows(1)[0],)))  # the writer holds a connection
    real = asyncpg.Connection.execute
    cut: list[Any] = []

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if query == "COMMIT" and not cut:
            cut.append(self)
            if committed:
                await real(self, query, *args, **kwargs)  # the server commits; its answer never arrives
            raise ConnectionResetError(104, "Connection reset by peer")
        if cut and self is cut[0]:  # the connection is gone: nothing more goes on it
            raise ConnectionResetError(104, "Connection reset by peer")
        return await real(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "execute", execute)
    event, delivery = rows(2)
    assert await write(store, Op(events=(event,), deliveries=(delivery,))) is None
    assert cut and await count(store) == 1
