"""Work that many callers do at once (`shared`), against one change that must see none of it under way
(`exclusive`): a reset, which empties the store, against emits, which read a subscription and then write an event
and its deliveries. An emit that read its subscription before the reset wrote its rows after it, and they outlived
the reset, for a subscription it had deleted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Exclusive:
    def __init__(self) -> None:
        self._holders = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = asyncio.Event()  # cleared while an exclusive holder waits or works: shared ones wait
        self._open.set()
        self._one = asyncio.Lock()

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        while not self._open.is_set():
            await self._open.wait()
        self._holders += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._holders -= 1
            if self._holders == 0:
                self._idle.set()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._one:
            self._open.clear()  # no new shared work starts; what is under way ends first
            try:
                await self._idle.wait()
                yield
            finally:
                self._open.set()
