"""`benchmarks.claiming` measures a job library against the workers' leases; it runs here on a few jobs, so that a
change in the library (an option renamed, a table of events gone) fails here and not where nobody runs it."""

from __future__ import annotations

import pytest

from tests.store import pg


@pytest.mark.parametrize("locked", [False, True], ids=["no lock", "a lock per subscription"])
def test_procrastinate_workers_run_every_deferred_job_and_the_rate_is_read_from_its_events(
    pg_cluster: pg.Cluster, locked: bool
) -> None:
    from benchmarks import claiming

    row = claiming.procrastinate_row(pg_cluster, 40, 1, None, locked=locked)
    assert row["jobs"] == 40 and row["workers"] == 1
    assert row["per_s"] > 0
