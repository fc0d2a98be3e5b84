"""`worker --db memory` is refused (a worker needs a store other processes share) without leaving behind the
temporary file an ephemeral store is made as."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import cli


@pytest.mark.parametrize("db", ["memory", ":memory:", "sqlite://"])
def test_a_refused_ephemeral_store_leaves_no_file_behind(tmp_path: Path, db: str) -> None:
    done = cli("worker", "--db", db, env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 2 and "db: not a PostgreSQL URL" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []
