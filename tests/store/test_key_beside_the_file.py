"""A SQLite store opened through a symbolic link keeps its key beside the database file itself, as its lock is
named: made beside the link, a copy of the file's folder left it behind, and the file opened by its real path was
refused for a missing key. A key an earlier release made beside the link is still found."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.store import Store
from simulator.store.secrets import KEY_ENV
from tests.store.test_secrets import subscription


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


async def stores_a_secret(database: Path) -> None:
    store = await Store.open(str(database))
    try:
        await store.put_subscription(subscription("sub_1", "whsec_" + "c2VjcmV0LWJlc2lkZS10aGUtZmlsZQ=="))
    finally:
        await store.close()


async def reads_the_secret(database: Path) -> None:
    store = await Store.open(str(database))
    try:
        found = await store.get_subscription("sub_1")
        assert found is not None and found.secret == "whsec_" + "c2VjcmV0LWJlc2lkZS10aGUtZmlsZQ=="
    finally:
        await store.close()


async def test_the_key_of_a_store_opened_through_a_link_is_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "real" / "sim.db")
    await stores_a_secret(link)
    assert (tmp_path / "real" / "sim.db.key").exists() and not (tmp_path / "link.db.key").exists()
    await reads_the_secret(tmp_path / "real" / "sim.db")
    await reads_the_secret(link)


async def test_a_key_an_earlier_release_made_beside_the_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "real" / "sim.db")
    await stores_a_secret(link)
    (tmp_path / "real" / "sim.db.key").rename(tmp_path / "link.db.key")  # where an earlier release put it
    await reads_the_secret(link)
