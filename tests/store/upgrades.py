"""A store as an earlier schema version left it, opened again by this release."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.store import Store
from simulator.store.schema import SCHEMA_VERSION, VERSION_SETTING


@asynccontextmanager
async def upgraded(
    store_url: str, version: int, written: Callable[[AsyncConnection], Awaitable[None]]
) -> AsyncIterator[Store]:
    """The store at `store_url` with what `written` writes in one transaction, recorded as at `version`, then
    closed and opened again (brought up to this release's version, which the store then records)."""
    store = await Store.open(store_url)
    try:
        async with store.engine.begin() as conn:
            await written(conn)
        await store.set_setting(VERSION_SETTING, str(version))
    finally:
        await store.close()
    store = await Store.open(store_url)
    try:
        assert await store.get_setting(VERSION_SETTING) == str(SCHEMA_VERSION)
        yield store
    finally:
        await store.close()
