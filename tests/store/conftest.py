"""The store's backends for the contract suite: a SQLite file, and a database in a throwaway PostgreSQL cluster
started once per test session (skipped, saying why, where PostgreSQL is not installed)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store import pg

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.Cluster]:
    with pg.throwaway() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    cluster: pg.Cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"contract_{next(_names)}")
