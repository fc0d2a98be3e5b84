"""A run that outlives the process playing it.

A run is its scenario, seed, parameters and start time, so its events are the same bytes whoever builds them. When
the process playing a run stops (SIGTERM, a crash, `kill -9`, a reaped worker), the run goes back to `pending`
with no owner, and the next process that plays runs goes on with it: the next `serve` on a SQLite file, or, on
PostgreSQL, a `serve` or `worker` that sends, at once. It builds the events the store already holds without
handing them over again (their world is the later events' world), checks that the last of them is the one stored
(a scenario file changed meanwhile would make others: the run fails, saying so, rather than go on with them), and
keeps the run's clock: at speed > 0 what fell due meanwhile goes at once, the rest when due, as a provider's backlog
after an outage.

The events a run has in the store are the first ones of its timeline: the writer commits in the order it is
given, and a run's events are given in order. A stopping process hands the run back only after what it queued of
the run: the next player counts what is stored, and makes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.delivery.job import event_from_row
from simulator.models import Event, Run
from simulator.store import Store

RESUMES = "the process playing it stopped; it resumes from event {events} in the next process that plays runs"


class ScenarioChanged(Exception):
    """The run's scenario no longer makes the events it made: it cannot go on."""


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run goes on: `skip` events are in the store, the last of them `last` (None with none); its
    simulated start was at wall time `origin`."""

    skip: int
    last: Event | None
    origin: float

    @property
    def build_from(self) -> int:
        """The first event the player builds and looks at: the last one stored, to check it (see `check`)."""
        return max(0, self.skip - 1)


async def resume_point(store: Store, run: Run) -> ResumePoint | None:
    """Where `run` goes on; None for a run that never began to play (it starts as any other)."""
    if run.started_at is None:
        return None
    skip = await store.count_run_events(run.id)
    row = await store.run_event(run.id, skip - 1) if skip else None
    if skip and row is None:
        raise ScenarioChanged(f"its {skip} stored events are not its first {skip}; it cannot go on from them")
    return ResumePoint(skip, event_from_row(row) if row is not None else None, run.started_at)


def check(built: Event, stored: Event) -> None:
    """Refuse to go on unless the rebuilt event is byte for byte the stored one."""
    if (built.id, built.type, built.json) != (stored.id, stored.type, stored.json):
        if (built.id, built.type) == (stored.id, stored.type):  # "was X, now X" said nothing of what changed
            what = f"event {stored.seq}, {stored.type} {stored.id}, now has another body"
        else:
            what = f"event {stored.seq} was {stored.type} {stored.id}, now {built.type} {built.id}"
        raise ScenarioChanged(
            f"its scenario no longer makes the events it made ({what}): was the scenario file changed? It cannot go on"
        )
