"""Commits that take long enough to make deliveries late, said in the log.

A timed run builds and commits each event's rows a fraction of a second before they are due (its lead); a commit
that takes longer than that lead holds back every delivery falling due meanwhile. On SQLite the usual cause is
the disk: a checkpoint syncs the database file from the committing connection, and a disk busy with another
process's writes makes that sync wait up to a second. Without a word in the log, the late deliveries would have
no visible cause."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("webhook_sim.store")

# A run's lead on its deliveries (`simulator.core.run_plan.LOOKAHEAD`): a commit longer than this makes some late.
SLOW = 0.2
# At most one warning this often: a disk that stalls every commit must not fill the log.
EVERY = 10.0


class SlowCommits:
    def __init__(self) -> None:
        self._told = -EVERY  # monotonic time of the last warning
        self._count = 0  # slow commits since then, not yet told
        self._worst = 0.0

    def note(self, took: float, changes: int) -> None:
        """A commit of `changes` changes, some of a timed run, took `took` seconds, SLOW or more (the writer
        tells only those: at speed 0 nothing is due at a set time, and a long commit there makes nothing late)."""
        self._count += 1
        self._worst = max(self._worst, took)
        now = time.monotonic()
        if now - self._told < EVERY:
            return
        log.warning(
            "a store commit of %d changes took %.0f ms (%d commits over %.0f ms since the last such warning, the "
            "longest %.0f ms): the disk is slow or busy, and deliveries falling due meanwhile go out late",
            changes,
            took * 1000,
            self._count,
            SLOW * 1000,
            self._worst * 1000,
        )
        self._told, self._count, self._worst = now, 0, 0.0
