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
