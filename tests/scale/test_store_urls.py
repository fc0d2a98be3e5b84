"""PostgreSQL URLs as providers hand them out: libpq's `sslmode` (asyncpg calls it `ssl`) opens the store, and a
database that does not exist is one clear refusal, not a traceback."""

from __future__ import annotations

import pytest

from simulator.errors import StoreUnavailable
from simulator.store import Store
from tests.store import pg


async def test_sslmode_is_taken(cluster: pg.Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    url = cluster.create_database("with_sslmode").replace("postgresql+asyncpg://", "postgresql://")
    store = await Store.open(url + "&sslmode=disable")  # a TypeError from asyncpg's connect() before
    try:
        assert await store.list_subscriptions() == []
    finally:
        await store.close()


async def test_a_database_that_does_not_exist_is_said_plainly(cluster: pg.Cluster) -> None:
    url = cluster.url("no_such_database")
    with pytest.raises(StoreUnavailable) as refused:
        await Store.open(url)
    assert "cannot open the store" in str(refused.value) and "does not exist" in str(refused.value)
