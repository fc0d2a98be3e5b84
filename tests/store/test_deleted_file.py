"""The SQLite file deleted, or replaced, under an open store: its writes went on into the deleted file, every
delivery made meanwhile was sent with its record going nowhere, and the next start found none of it. Each commit
checks that the file's name still leads to the file opened; one that does not waits as on a full disk, with the
reason said, and a store closed so says what it never wrote."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from simulator.errors import StoreUnavailable
from simulator.store import Store
from tests.conftest import until


@pytest.mark.parametrize("how", ["deleted", "replaced by another file"])
async def test_writes_to_a_database_file_gone_from_its_name_wait_and_say_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    db = tmp_path / "sim.db"
    store = await Store.open(str(db))
    closed = False
    try:
        await store.set_setting("before", "kept")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        if how != "deleted":
            db.write_bytes(b"")  # another file under the name
        pending = asyncio.ensure_future(store.set_setting("after", "x"))
        said = f"{db.resolve()} was {how} while the store was open"
        await until(lambda: said in caplog.text, timeout=30, what="the writer to say why it cannot write")
        assert not pending.done()  # kept, as on a full disk: the file may be put back
        assert store.writer.unavailable == said
        await asyncio.wait_for(store.close(), 60)
        closed = True
        with pytest.raises(StoreUnavailable, match=f"was {how}"):
            await pending
    finally:
        if not closed:
            await asyncio.wait_for(store.close(), 60)
