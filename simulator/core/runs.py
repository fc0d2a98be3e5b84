"""Runs: one execution of a scenario — seed, params, speed, targets, faults — from start to settled. What a run
records and plays from is in `run_record`, its progress and ETA in `run_plan`."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from simulator import catalog
from simulator.core.run_plan import LOOKAHEAD, Plan, announce, handoff, sleep_ahead
from simulator.core.run_receivers import Receivers
from simulator.core.run_record import Play, record_of, resumable
from simulator.core.run_resume import (
    RESUMES,
    ResumePoint,
    ScenarioChanged,
    check,
)
from simulator.core.runs_waiting import MAX_LIVE_RUNS, WaitingRuns, cancel_once
from simulator.core.subscriptions import Subscriptions
from simulator.core.validation import FaultCheck, validate_run
from simulator.delivery.engine import DeliveryEngine
from simulator.delivery.faults import merge as merge_faults
from simulator.errors import FieldError, NotFound, ShuttingDown, StoreUnavailable, TooManyRuns
from simulator.ids import OBJECT_ID_LAST, TimeBeyondIds, new_id
from simulator.models import Event, Run, Subscription
from simulator.models.enums import LIVE_RUN_STATUSES
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.scenarios import runner
from simulator.scenarios.document import ScenarioInvalid
from simulator.scenarios.model import Scenario
from simulator.store import Store, run_queue
from simulator.store.resume import resumes
from simulator.timeutil import now_utc, utc

log = logging.getLogger("webhook_sim.runs")
INTERRUPTED = "interrupted: the simulator stopped; its pending deliveries are resumed on the next start"
# On a shared store the processes that send go on with them (they take a stopped one's leases), not a next start.
INTERRUPTED_SHARED = (
    "interrupted: the process playing it stopped; the processes that send on this store send its pending deliveries"
)
TOO_LONG = "the scenario's timeline goes past the year 9999: its waits are too long for its start time"
# Checked ahead only for a start near that time (`validation.check_syncfy_times`): waits of decades from an
# earlier start meet it as they are played.
PAST_IDS = (
    f"the scenario's timeline goes past {OBJECT_ID_LAST.isoformat()}, the last time a Syncfy id (a MongoDB "
    "ObjectId) holds: its waits are too long for its start time"
)


class _Refused(Exception):
    """The store refused some of the run's rows for good: the run makes no more (each would be refused too)."""


def _refused_error(count: int, reason: str) -> str:
    return f"{count} of its deliveries were not stored, and not sent: the store refused them ({reason})"


CANCEL_WAIT = 10.0  # seconds a cancel waits for another process to stop the run it plays


class RunManager(WaitingRuns):
    """The runs of one simulator: start, watch, cancel. It gets what it uses: the store, the engine, the scenario
    folders, the subscriptions and the fault check."""

    def __init__(
        self,
        store: Store,
        engine: DeliveryEngine,
        scenario_dirs: Sequence[Path],
        subscriptions: Subscriptions,
        check_faults: FaultCheck,
    ) -> None:
        self.store = store
        self.engine = engine
        self.scenario_dirs = scenario_dirs
        self.subscriptions = subscriptions
        self.check_faults = check_faults
        self.accepting = True
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._starting: set[str] = set()  # runs accepted and not yet launched, or launched and not yet answered
        self._emitted: dict[str, int] = {}
        self._plans: dict[str, Plan] = {}
        self._queue: asyncio.Task[None] | None = None  # the watch over runs other processes leave (shared store)
        self._interrupting = False  # the process is stopping: what it cuts short was interrupted, not cancelled
        self._handed_back: set[str] = set()  # runs it cut short and left to the next player (see `run_resume`)
        self._lost: set[str] = set()
        # Whether its runs go on in another process when it stops (see `run_resume`): not those of a simulator
        # opened within `own_work_only` (`webhook-sim run`'s: read here, as it is opened, for the runs it starts
        # later), and a test's simulator (the pytest plugin's) sets False, its runs ending with its session.
        self.hands_on = resumes()

    async def mark_interrupted(self) -> None:
        """Runs a stopped process left running go on elsewhere (see `run_resume`): back to `pending`, to be played
        here at once on a store of this process's own, or by the processes that play runs on a shared one. A run
        that cannot go on (one `webhook-sim run` played) ends failed as interrupted; its deliveries resume all the
        same. On a shared store only a run whose process has stopped is over: others are still being played."""
        unfinished = [run for run in await self.store.list_runs() if run.status in LIVE_RUN_STATUSES]
        owners = await self.store.run_owners([run.id for run in unfinished])
        leases = self.engine.leases
        alive = await leases.alive({o for o in owners.values() if o}) if leases is not None else set()
        waiting: list[Run] = []
        for run in unfinished:
            if leases is not None and run.status == "pending" and owners.get(run.id) is None:
                continue  # it waits for a process that sends to play it
            if owners.get(run.id) not in alive:
                # The counter is written when a run ends; a crashed one's is whatever its events in the store say.
                if resumable(run.spec):
                    if owners.get(run.id) is not None:  # not one handed back already, which says its count
                        await self._requeue(run.id, await self.store.count_run_events(run.id))
                    waiting.append(run)
                    continue
                events = await self.store.count_run_events(run.id)
                await self.store.put_run(
                    run.id, status="failed", error=self._interrupted(), events=events, finished_at=time.time()
                )
        if waiting and leases is not None:
            await run_queue.announce(self.store.engine)
        elif waiting and resumes() and self.accepting:
            for run in waiting:
                await self._play_record(run.id, run.spec)

    def _interrupted(self) -> str:
        return INTERRUPTED if self.engine.leases is None else INTERRUPTED_SHARED

    async def start(
        self,
        spec: RunSpec,
        *,
        scenario: Scenario | None = None,
        typed_params: bool = False,
        run_id: str | None = None,
    ) -> Run:
        """Validate `spec`, record the run as pending and start it in the background. `scenario`: one the caller
        loaded from a file; `typed_params`: JSON's rule for parameters (see `validate_run` for both). `run_id`: the
        id the run takes; a run already stored under it is answered as it is, and nothing starts (a schedule's
        firing made again after a server died before recording it, see `Schedules`)."""
        if run_id is not None and await self.store.get_run(run_id) is not None:
            return await self.get(run_id)
        # A run launched is in `_tasks` before its start is answered: counted once, or 130 runs asked for at once
        # were refused from the 99th, "100 under way".
        if len(self._starting.union(self._tasks)) >= MAX_LIVE_RUNS:
            raise TooManyRuns(
                f"{MAX_LIVE_RUNS} runs are under way, as many as the server takes: wait for one to end, or cancel one",
                errors=[FieldError("scenario", f"at most {MAX_LIVE_RUNS} runs at once")],
            )
        if not self.accepting:
            raise ShuttingDown("the simulator is shutting down; no new runs")
        self.store.writer.check()  # 503 while the store cannot write: nothing is accepted that it cannot keep
        # Its place is taken now, before the awaits below: checked against the tasks alone, 110 runs started at
        # once all passed the check of 100.
        run_id = run_id or new_id("run")
        self._starting.add(run_id)
        try:
            return await self._start(spec, scenario, typed_params, run_id)
        finally:
            self._starting.discard(run_id)

    async def _start(self, spec: RunSpec, scenario: Scenario | None, typed_params: bool, run_id: str) -> Run:
        seed = spec.seed if spec.seed is not None else random.SystemRandom().randrange(2**31)
        valid = await validate_run(
            spec.model_copy(update={"seed": seed}),  # its times known: a Syncfy run's must fit its ids'
            scenario_dirs=self.scenario_dirs,
            check_faults=self.check_faults,
            subscription=self.subscriptions.get,
            scenario=scenario,
            typed_params=typed_params,
        )
        scenario, params = valid.scenario, valid.params
        subs = await self._targets(spec)
        start = utc(spec.start_time) if spec.start_time else now_utc()
        await self.store.put_run(
            run_id,
            scenario=scenario.name,
            spec=record_of(spec, scenario, params, seed, start, subs, resumable=self._resumable),
            status="pending",
            events=0,
            created_at=time.time(),
            owner=self.engine.me if self.plays else None,
        )
        if not self.plays:  # a process that sends plays it (see `simulator.store.run_queue`)
            await run_queue.announce(self.store.engine)
            return await self.get(run_id)
        adhoc = spec.target is not None
        if adhoc and subs:
            await self.engine.lease_new(subs[0])
        play = Play(scenario, params, seed, spec.speed, start, spec.faults, subs, adhoc, resumable=self._resumable)
        self._launch(run_id, play)
        return await self.get(run_id)

    @property
    def _resumable(self) -> bool:
        """Whether the runs it starts go on elsewhere when it stops: not `webhook-sim run`'s or a test's, nor on a
        store that ends with this process."""
        return self.hands_on and not self.store.temporary

    @property
    def plays(self) -> bool:
        """Whether this process plays the runs it starts: one that does not send leaves them to those that do."""
        return self.engine.leases is None or self.engine.leases.sends

    def _launch(self, run_id: str, play: Play, at: ResumePoint | None = None) -> None:
        task = asyncio.create_task(self._execute(run_id, play, at))
        self._tasks[run_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(run_id, None))

    async def _targets(self, spec: RunSpec) -> list[Subscription] | None:
        """An ad-hoc subscription for `target`, the named subscriptions, or None for every matching one."""
        if spec.target is not None:
            # An ad-hoc target is never disabled: a CI step must end, with its failures counted.
            target = SubscriptionSpec(
                url=spec.target,
                signing=spec.signing,
                secret=spec.secret,
                max_in_flight=spec.max_in_flight,
                disable_after=0,
            )
            return [await self.subscriptions.create(target, ephemeral=True)]
        if spec.subscriptions is not None:
            return [await self.subscriptions.get(i) for i in spec.subscriptions]
        return None

    async def _execute(self, run_id: str, play: Play, at: ResumePoint | None = None) -> None:
        """Play the run; `at`: where a resumed one goes on (see `run_resume`)."""
        store, engine = self.store, self.engine
        scenario, subs, seed, params, start = play.scenario, play.subs, play.seed, play.params, play.start
        began = {} if at is not None else {"started_at": time.time()}  # a resumed run keeps its start
        await store.put_run(run_id, status="running", owner=engine.me, **began)
        receivers = Receivers(self.subscriptions, subs)
        if at is not None and at.skip:  # its reorder windows and burst groups go on where the stopped process left them
            engine.faults.resumed(run_id, await store.run_placements(run_id))
        self._emitted[run_id] = at.skip if at is not None else 0
        stored = at.last if at is not None else None  # the first event built is this one again: checked, not sent
        origin = at.origin if at is not None and play.speed > 0 else None

        async def emit(event: Event, step: Any) -> None:
            nonlocal stored
            if stored is not None:
                check(event, stored)
                stored = None
                return
            if run_id in engine.refused:
                raise _Refused
            etype = catalog.resolve(event.key)
            # The scenario's own faults, overridden by the run's, overridden by the step's.
            faults = merge_faults(scenario.faults, play.faults, getattr(step, "faults", None))
            due = t0 + (event.occurred_at - start).total_seconds() / play.speed if play.speed > 0 else None
            await engine.publish(event, await receivers.of(etype), speed=play.speed, faults=faults, seed=seed, due=due)
            self._emitted[run_id] += 1
            plan.next_at = None

        async def sleep(seconds: float) -> None:
            plan.next_at = time.time() + seconds
            await sleep_ahead(seconds)

        t0 = time.time()  # the wall time of simulated `start`: each event is due at t0 + offset / speed
        lead = LOOKAHEAD if play.speed > 0 else 0.0
        span: float | None = None

        def started() -> None:  # the runner's clock starts now (plus its lead), or a resumed run's again
            nonlocal t0
            t0 = time.time() + lead if origin is None else origin
            plan.ends_at = None if span is None else t0 + span
            # `started_at` is the wall time of the simulated start, which the timeline's offsets count from: set
            # here, before any event goes, and not moved again (the end rewrote it, and "Started" moved then).
            if at is None:  # a resumed run's is its first start's
                clock.append(asyncio.ensure_future(store.put_run(run_id, started_at=t0)))

        clock: list[asyncio.Future[None]] = []

        plan = self._plans[run_id] = Plan()
        status, error = "completed", None
        try:
            if play.speed > 0:  # at speed 0 nothing waits, so there is nothing to announce
                span = await announce(plan, scenario, seed, params, start, play.speed)
            with store.writer.timed_run(play.speed > 0):  # its writes go ahead of a speed-0 run's backlog
                await runner.play(
                    scenario,
                    seed=seed,
                    params=params,
                    start_time=start,
                    speed=play.speed,
                    emit=emit,
                    on_idle=lambda: engine.flush(run_id),
                    on_wait=lambda: engine.close_batches(run_id),
                    run_id=run_id,
                    sleep=sleep,
                    on_start=started,
                    lead=lead,
                    handoff=handoff(play.speed, plan.planned),
                    skip=at.build_from if at is not None else 0,
                    origin=origin,
                )
            await engine.release(run_id)  # what the reorder and burst faults still hold goes now
            await engine.settled(run_id, ask_store=at is not None)
            if play.adhoc and subs:
                await engine.retire(subs[0].id)  # the run's own ad-hoc subscription: nothing more goes there
        except _Refused:
            pass  # said below, with what the store refused meanwhile
        except asyncio.CancelledError:
            status, error = ("failed", self._interrupted()) if self._interrupting else ("cancelled", None)
            if self._interrupting and play.resumable:
                status = "pending"  # another process goes on with it (see `run_resume`)
        except ScenarioChanged as exc:
            log.warning("run %s failed: %s", run_id, exc)
            status, error = "failed", str(exc)
        except OverflowError:  # a start time and its waits past what a time can be: the run ends, stated plainly
            log.warning("run %s failed: %s", run_id, TOO_LONG)
            status, error = "failed", TOO_LONG
        except TimeBeyondIds:
            log.warning("run %s failed: %s", run_id, PAST_IDS)
            status, error = "failed", PAST_IDS
        except ScenarioInvalid as exc:  # played, it proved invalid (a repeat that emits nothing): file, line, field
            log.warning("run %s failed: %s", run_id, exc.detail)
            status, error = "failed", exc.detail
        except Exception as exc:  # a scenario that fails half-way is reported, never raised into the server
            log.exception("run %s failed", run_id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            # A cancelled run's deliveries go on too; an interrupted one goes on in another process (`pending`).
            await engine.release(run_id, ended=status != "pending")
            await asyncio.gather(*clock, return_exceptions=True)
        if (refused := engine.refused.pop(run_id, None)) is not None and status == "completed":
            log.warning("run %s failed: %s", run_id, _refused_error(*refused))
            status, error = "failed", _refused_error(*refused)
        # The live count goes only once the run's end is committed: popped before, a commit waiting behind a busy
        # writer (35-45 s at the end of a run of 25,000 events with 120,000 deliveries) showed the stored row, a
        # run "running" with 0 events, meanwhile.
        try:
            if run_id in self._lost:
                self._lost.discard(run_id)
            elif status == "pending":
                await self._hand_back(run_id, self._emitted.get(run_id, 0))
            else:
                await store.put_run(
                    run_id,
                    status=status,
                    error=error,
                    events=self._emitted.get(run_id, 0),
                    finished_at=time.time(),
                )
        finally:
            self._plans.pop(run_id, None)
            self._emitted.pop(run_id, None)

    async def _requeue(self, run_id: str, events: int) -> None:
        """Back to `pending` with no owner, for the next process that plays runs (see `run_resume`)."""
        await self.store.put_run(run_id, status="pending", owner=None, error=None, events=events)
        log.warning("run %s: %s", run_id, RESUMES.format(events=events))

    async def _hand_back(self, run_id: str, events: int) -> None:
        """Leave a run this stopping process cuts short to the next player (see `run_resume`): after what it
        gathered of the run is queued, so that player, counting the stored events, finds all there will be."""
        self._handed_back.add(run_id)
        try:
            await self.engine.flush(run_id)
            await self._requeue(run_id, events)
        except StoreUnavailable as exc:  # the next start finds its process stopped, and hands it on then
            log.error("run %s, interrupted, could not be handed back: %s; the next start goes on with it", run_id, exc)
            return
        if self.engine.leases is not None:
            await run_queue.announce(self.store.engine)

    async def get(self, run_id: str) -> Run:
        run = await self.store.get_run(run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r}", errors=[FieldError("id", "not found")])
        if run_id in self._emitted:  # live progress of a running scenario
            run = self._live(run)
        return run

    async def list(self, limit: int | None = None, cursor: str | None = None) -> list[Run]:
        runs = await self.store.list_runs(limit, cursor)
        return [self._live(r) if r.id in self._emitted else r for r in runs]

    def _live(self, run: Run) -> Run:
        """`run` with the progress only this process knows: events so far, next event, ETA."""
        plan = self._plans.get(run.id) or Plan()
        return replace(
            run,
            events=self._emitted[run.id],
            next_event_at=plan.next_at,
            ends_at=plan.ends_at,
            planned_events=plan.planned,
        )

    async def cancel(self, run_id: str) -> Run:
        """Stop emitting. Deliveries already made go on: nothing made is silently dropped. A run another process
        plays is asked to stop through the store; this waits up to CANCEL_WAIT for it to end."""
        run = await self.get(run_id)
        task = self._tasks.get(run_id)
        if task is not None:
            cancel_once(task)
            # Shielded: a caller cut short (its client gone) would cancel the task again through `gather`.
            await asyncio.gather(asyncio.shield(task), return_exceptions=True)
            await self._cut_before_playing([run_id])
        elif self.engine.leases is not None and run.status in LIVE_RUN_STATUSES:  # played elsewhere, or waiting
            unclaimed = await run_queue.ask_cancel(self.store.engine, run_id, time.time())
            await self._ended(run_id, 0 if unclaimed else CANCEL_WAIT)
        return await self.get(run_id)

    async def cancel_all(self, interrupted: bool = False) -> None:
        """Stop every run at once (on shutdown, `interrupted`: each ends failed as interrupted, as after a crash,
        where nobody cancelled it; on a reset, cancelled). A run whose record is still being written has a task
        too: it is cancelled like the others, not looked up first."""
        self._interrupting = interrupted
        if self._queue is not None:
            self._queue.cancel()
            await asyncio.gather(self._queue, return_exceptions=True)
        cut = dict(self._tasks)
        for task in cut.values():
            cancel_once(task)
        await asyncio.gather(*cut.values(), return_exceptions=True)
        await self._cut_before_playing([*cut])

    async def _cut_before_playing(self, run_ids: Sequence[str]) -> None:
        """End the runs a cancel reached before their task began to play (before its first step, or while it
        recorded them running): nothing of the task ran to say how they ended, and they stayed pending for good."""
        for run_id in run_ids:
            run = await self.store.get_run(run_id)
            if run is not None and run.status in LIVE_RUN_STATUSES:
                if self._interrupting and resumable(run.spec):
                    if run_id not in self._handed_back:  # its task did not begin: it plays from its start
                        await self._hand_back(run_id, await self.store.count_run_events(run_id))
                    continue
                status, error = ("failed", self._interrupted()) if self._interrupting else ("cancelled", None)
                events = await self.store.count_run_events(run_id)
                try:
                    await self.store.put_run(run_id, status=status, error=error, events=events, finished_at=time.time())
                except StoreUnavailable as exc:
                    if not self._interrupting:
                        raise  # a reset: its caller hears the store cannot write (503)
                    # A shutdown goes on to close the engine and the store; the next start ends the run so.
                    log.error("run %s could not be recorded as interrupted: %s; the next start records it", run_id, exc)

    async def wait(self, run_id: str, timeout: float | None = None) -> Run:
        """Wait until the run ends (completed, failed or cancelled) and return it."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.wait({task}, timeout=timeout)
        elif self.engine.leases is not None:  # another process may play it
            await self._ended(run_id, timeout)
        return await self.get(run_id)

    async def _ended(self, run_id: str, timeout: float | None) -> None:
        """Wait until the store says the run ended, or `timeout` passes."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while (run := await self.store.get_run(run_id)) is not None and run.status in LIVE_RUN_STATUSES:
            if deadline is not None and loop.time() >= deadline:
                return
            await asyncio.sleep(0.05)


def scenario_refused(status: str, error: str | None) -> bool:
    """Whether a run of `status` and `error` failed because its scenario proved invalid as it was played (a repeat
    that emitted nothing for too long, a timeline past the year 9999 or a Syncfy id's last time from its start
    time: what no check of the file alone could see): `webhook-sim run` exits 2 then, as for any invalid file."""
    return status == "failed" and (ScenarioInvalid.said_in(error) or error in (TOO_LONG, PAST_IDS))
