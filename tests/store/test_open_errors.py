"""What `Store.open` says when a file beside the database cannot be made: the file it could not make, not only
the system's words (a folder that may not be written was blamed on a database file that may be)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from simulator.errors import StoreUnavailable
from simulator.store import Store
from simulator.store.lock import StoreLock


async def test_a_lock_file_that_cannot_be_made_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "r.db"
    lock = f"{database}.lock"

    def refused(cls: type[StoreLock], path: Path) -> StoreLock:
        raise PermissionError(errno.EACCES, "Permission denied", lock)  # as os.open raises it, as a user not root

    monkeypatch.setattr(StoreLock, "acquire", classmethod(refused))
    with pytest.raises(StoreUnavailable) as refusal:
        await Store.open(str(database))
    assert f"Permission denied: {lock}" in refusal.value.detail


@pytest.mark.parametrize("name", ["a?b.db", "c%41d.db", "e#f.db", "g h:ü.db"])
async def test_a_path_is_the_file_it_names(tmp_path: Path, name: str) -> None:
    # A path is not a URL: `a?b.db` opened the file `a` (the rest a query) and `c%41d.db` the file `cAd.db`.
    store = await Store.open(str(tmp_path / name))
    await store.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == sorted(
        [name, f"{name}.key", f"{name}.lock"]
    )
