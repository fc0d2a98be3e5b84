"""Runs waiting for a player: on a shared store, those servers that do not send leave and those a stopped process
left half played, claimed by the processes that play runs; on a store of a process's own, those its last process
left half played, played at its start (see `run_resume`). The part of `RunManager` that plays them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.core.run_plan import Plan
from simulator.core.run_record import Play, play_of
from simulator.core.run_resume import ResumePoint, ScenarioChanged, resume_point
from simulator.delivery.engine import DeliveryEngine
from simulator.errors import NotFound
from simulator.store import Store, run_queue

log = logging.getLogger("webhook_sim.runs")
QUEUE_LOOK = 1.0  # seconds between a player's looks at the shared store (waiting runs, cancels, its progress)
NO_SCENARIO = (
    "this process has no scenario named {name!r} (give it the --scenarios of the process that started the run)"
)
# Runs under way at once; one more is a 429 (a schedule's firing is skipped and logged).
MAX_LIVE_RUNS = 100


def cancel_once(task: asyncio.Task[None]) -> None:
    """Cancel a run's task unless it is being cancelled already: its clean-up awaits (letting go what the reorder
    and burst faults hold, writing how the run ended), and a second cancel cut it there, leaving the held
    deliveries pending for good and the run answered as running."""
    if not task.cancelling():
        task.cancel()


class WaitingRuns:
    """What `RunManager` has that playing waiting runs takes."""

    store: Store
    engine: DeliveryEngine
    scenario_dirs: Sequence[Path]
    accepting: bool
    _tasks: dict[str, asyncio.Task[None]]
    _emitted: dict[str, int]
    _plans: dict[str, Plan]
    _queue: asyncio.Task[None] | None
    _lost: set[str]  # runs it played that another process took over: it writes nothing more of them

    def _launch(self, run_id: str, play: Play, at: ResumePoint | None = None) -> None:
        raise NotImplementedError

    def start_queue(self, *, claims: bool) -> None:
        """On a shared store: write the progress of the runs this process plays and stop those a cancel was asked
        of elsewhere; with `claims`, also play the runs that processes which do not send record, and those a
        stopped process left half played."""
        told = asyncio.Event()
        self.engine.runs_told.append(told.set)
        self._queue = asyncio.create_task(self._watch_queue(told, claims), name="runs-queue")

    async def _watch_queue(self, told: asyncio.Event, claims: bool) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(QUEUE_LOOK):
                    await told.wait()
            told.clear()
            try:
                await self._look(claims)
            except Exception as exc:  # the store is restarting: the next look tries again
                log.debug("cannot look for waiting runs (%s)", exc)

    async def _look(self, claims: bool) -> None:
        engine = self.store.engine
        for run_id in await run_queue.cancels(engine, self.engine.me):
            task = self._tasks.get(run_id)
            if task is not None:
                cancel_once(task)
        gone, taken = await run_queue.lost(engine, self.engine.me, list(self._tasks))
        for run_id in gone | taken:
            # Deleted by a reset another process was asked for (played on, it sent its later events to whatever
            # subscriptions were made after the reset), or another process goes on with it: this one stops, and
            # writes nothing more of it.
            if run_id in gone:
                log.warning("run %s: deleted by a reset elsewhere, this process stops playing it", run_id)
            else:
                log.warning("run %s: this process was taken for stopped, and another plays it now", run_id)
            self._lost.add(run_id)
            if (task := self._tasks.get(run_id)) is not None:
                cancel_once(task)
        while claims and self.accepting and len(self._tasks) < MAX_LIVE_RUNS:
            claimed = await run_queue.claim(engine, self.engine.me)
            if claimed is None:
                break
            await self._resume(*claimed)
        await run_queue.report(engine, {run_id: self._progress(run_id) for run_id in list(self._emitted)})

    async def _resume(self, run_id: str, spec: str) -> None:
        """Play a run claimed from the shared store; a record it cannot play fails the run, saying why (it must
        not stay claimed and never played)."""
        try:
            record = json.loads(spec)
        except ValueError as exc:
            await self._unplayable(run_id, f"the run's record cannot be played ({type(exc).__name__}: {exc})")
            return
        await self._play_record(run_id, record)

    async def _play_record(self, run_id: str, record: dict[str, Any]) -> None:
        """Play a run from its record: one a server that does not send left, or one a stopped process left half
        played, which goes on where it stopped (see `run_resume`)."""
        try:
            play = await play_of(record, self.scenario_dirs, self.store.get_subscription)
            run = await self.store.get_run(run_id)
            at = await resume_point(self.store, run) if run is not None else None
        except NotFound:
            error = NO_SCENARIO.format(name=record.get("scenario"))
        except ScenarioChanged as exc:
            error = str(exc)
        except Exception as exc:
            error = f"the run's record cannot be played ({type(exc).__name__}: {exc})"
        else:
            self._launch(run_id, play, at)
            return
        await self._unplayable(run_id, error)

    async def _unplayable(self, run_id: str, error: str) -> None:
        log.warning("run %s cannot be played here: %s", run_id, error)
        await self.store.put_run(run_id, status="failed", error=error, finished_at=time.time())

    def _progress(self, run_id: str) -> dict[str, Any]:
        plan = self._plans.get(run_id) or Plan()
        return {
            "events": self._emitted.get(run_id, 0),
            "next_at": plan.next_at,
            "ends_at": plan.ends_at,
            "planned": plan.planned,
        }
