"""On PostgreSQL a connection lost as a transaction commits leaves it unknown whether the server committed it. The
writer asks the store before writing it again: written again as it was, a committed transaction was refused for
good (`duplicate key value violates unique constraint "events_pkey"`), and a run whose rows these were ended
failed, most of its events never made, though its deliveries had been stored."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.store import Store, direct
from simulator.store.writer import Op
from tests.store.test_outbox_notify import rows
from tests.store.test_pg_rows import count, store, write

__all__ = ["store"]  # the fixture, from its module


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "not-committed"])
async def test_a_transaction_whose_commit_lost_its_connection_is_written_once(
    store: Store, monkeypatch: pytest.MonkeyPatch, committed: bool
) -> None:
    real = direct.postgres_rows
    lost: list[bool] = []

    async def answer_lost(conn: Any, statements: Any, notify_as: str | None) -> None:
        """The first transaction's answer never comes: the server committed it, or not."""
        if not lost:
            lost.append(True)
            if committed:
                await real(conn, statements, notify_as)
            raise ConnectionResetError(104, "Connection reset by peer")
        await real(conn, statements, notify_as)

    monkeypatch.setattr(direct, "postgres_rows", answer_lost)
    event, delivery = rows(2)
    assert await write(store, Op(events=(event,), deliveries=(delivery,))) is None
    assert lost and await count(store) == 1
