"""Schedules: runs started by a cron expression, an interval or a date, kept by APScheduler 3.x in the
simulator's own database (its SQLAlchemy job store), so they survive restarts.

APScheduler's job store speaks synchronous SQL. On the server's event loop a synchronous write could wait on
the store's writer, whose transaction needs that same loop to finish: so the scheduler runs in its own thread
(`BackgroundScheduler`), API calls reach it through `asyncio.to_thread`, and each firing hands the run back to
the loop. A firing calls the module-level `fire` (the job store keeps a reference to it, not a pickle of any
object); `fire` finds the running `Schedules` by the instance id stored in the database's settings.

A job holds only the schedule's id and that instance id, as JSON (`simulator.core.job_store`: APScheduler's
own store would pickle it, and loading a pickle runs code): the run it starts (secret included) is sealed JSON in
the store's `schedule_runs` (see `simulator.store.schedule_runs`). Jobs an earlier release pickled, some with the
whole run in their arguments, are read without running anything, moved there and written back as JSON when the
schedules start, before anything fires. Then, still before anything fires, what the scheduler owes is settled: a
firing lost to a server killed as it fired, and one firing for times long missed (`simulator.core.schedule_catchup`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import URL

from simulator.core.job_store import JsonJobStore
from simulator.core.leader import Leader
from simulator.core.pagination import split_page
from simulator.core.schedule_catchup import PlannedExecutor, catch_up, editing
from simulator.credentials import mask_url
from simulator.errors import Conflict, FieldError, InvalidInput, NotFound, ShuttingDown, SimError
from simulator.ids import derived_id, new_id
from simulator.models.inputs import RUN_TARGET_FIELDS, RunSpec, ScheduleSpec
from simulator.models.records import Run
from simulator.models.target_rules import TARGET_ONLY_DEFAULTS
from simulator.signing import mask_secret
from simulator.store import Store, postgres
from simulator.store.schedule_runs import ScheduledRun, ScheduleRuns
from simulator.timeutil import iso_ms, utc


class StartRun(Protocol):
    def __call__(
        self, spec: RunSpec, *, run_id: str | None = None, check: Callable[[], Awaitable[None]] | None = None
    ) -> Awaitable[Run]: ...


class _Deleted(Exception):
    """The schedule that fired is gone (a reset, a deletion) by the time its run would start."""


CheckRun = Callable[[RunSpec], Awaitable[object]]

log = logging.getLogger("webhook_sim.schedules")
INSTANCE_SETTING = "schedules.instance"
MIN_INTERVAL = 1.0  # seconds; anything shorter would start runs faster than they can be told apart
TRIGGER_FIELDS = {"cron", "interval", "at"}
_ACTIVE: dict[str, Schedules] = {}
_NUMERIC_DAYS = re.compile(r"\*|\d{1,2}(-\d{1,2})?", re.ASCII)


def fire(
    instance: str,
    schedule_id: str,
    trigger: Any = None,
    run: dict[str, Any] | None = None,
    due: float | None = None,
) -> None:
    """Called by APScheduler (in its thread) at each firing of a schedule: start its run. `trigger` and `run`
    come only from a job an earlier release stored and that has not been moved to the store yet; `due` is the
    time the firing was planned for (see `PlannedExecutor`)."""
    schedules = _ACTIVE.get(instance)
    if schedules is None:
        log.warning("schedule %s fired, but its simulator is not running", schedule_id)
        return
    schedules.fire(schedule_id, run, due)


def sync_url(url: URL) -> str:
    """The synchronous form of the store's URL (`sqlite+aiosqlite:///x.db` → `sqlite:///x.db`)."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=False)


class Schedules:
    """The schedules of one running simulator."""

    def __init__(
        self,
        scheduler: BackgroundScheduler,
        instance: str,
        loop: asyncio.AbstractEventLoop,
        start_run: StartRun,
        check_run: CheckRun,
        runs: ScheduleRuns,
    ) -> None:
        self.scheduler = scheduler
        self.instance = instance
        self.loop = loop
        self.start_run = start_run
        self.check_run = check_run
        self.runs = runs
        self.jobs: JsonJobStore | None = None  # the job store, closed once the scheduler's thread has ended
        self.leader: Leader | None = None  # on a shared store: whether this process fires
        self._deleting = asyncio.Lock()  # deletions are rare: one lock for all of them
        # One trigger checked at a time, in a thread: to tell that a cron never fires, APScheduler searches for
        # 0.4 s; on the event loop a burst of them held every request, and schedules' firings were dropped.
        self._checking = asyncio.Lock()

    @classmethod
    async def start(cls, store: Store, start_run: StartRun, check_run: CheckRun) -> Schedules:
        """Start the scheduler on the store's database; stored schedules resume (a firing lost to a kill, or the
        times missed while no server ran, fire once). `check_run` refuses what `start_run` would refuse, so a
        schedule is checked when it is made."""
        instance = await store.get_setting(INSTANCE_SETTING)
        if instance is None:
            instance = new_id("sched")
            await store.set_setting(INSTANCE_SETTING, instance)
        url = store.engine.url
        # On PostgreSQL a pooled connection may have died with a server restart: tested before use, as the store's
        # are (the first call after a restart was a 500).
        sqlite = url.get_backend_name() == "sqlite"
        options: dict[str, Any] = (
            {"connect_args": {"timeout": 30}}
            if sqlite
            else {"pool_pre_ping": True, "connect_args": postgres.sync_connect_args(store.lease_ttl)}
        )
        jobs = JsonJobStore(url=sync_url(url), engine_options=options)
        scheduler = BackgroundScheduler(
            jobstores={"default": jobs},
            executors={"default": PlannedExecutor()},
            timezone=UTC,
            # A firing missed while the server was down happens once when it is back: a run is never lost.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        runs = ScheduleRuns(store)
        await runs.prepare()
        schedules = cls(scheduler, instance, asyncio.get_running_loop(), start_run, check_run, runs)
        schedules.jobs = jobs
        _ACTIVE[instance] = schedules
        try:
            await asyncio.to_thread(scheduler.start, paused=True)  # nothing fires before old jobs are moved
            await schedules._adopt()
            if store.shared:  # several servers: only the one holding the leader lock fires
                schedules.leader = Leader(
                    store.engine,
                    lead=schedules._lead,
                    follow=partial(asyncio.to_thread, scheduler.pause),
                    tick=partial(asyncio.to_thread, scheduler.wakeup),
                )
                await schedules.leader.start()
            else:
                await schedules._lead()
        except BaseException:
            _ACTIVE.pop(instance, None)
            if scheduler.running:
                await asyncio.to_thread(scheduler.shutdown, False)
            await asyncio.to_thread(jobs.close)
            raise
        return schedules

    async def _adopt(self) -> None:
        """Move the runs an earlier release pickled into its jobs' arguments to the store, leaving the jobs only
        their ids; forget stored runs whose job is gone."""
        jobs = await asyncio.to_thread(self.scheduler.get_jobs)
        for job in jobs:
            if "run" in job.kwargs:
                await self.runs.put(job.id, dict(job.kwargs.get("trigger") or {}), dict(job.kwargs["run"]))
            if "run" in job.kwargs or (
                self.jobs is not None and job.id in self.jobs.legacy
            ):  # written back as JSON, with only the ids
                await asyncio.to_thread(self.scheduler.modify_job, job.id, kwargs=self._kwargs(job.id))
        await self.runs.keep(job.id for job in jobs)

    async def _lead(self) -> None:
        """Start firing: what is owed first (see `simulator.core.schedule_catchup`), then at the usual times."""
        await catch_up(self.scheduler, self.runs, self._add_one_off)
        await asyncio.to_thread(self.scheduler.resume)

    def _add_job(self, schedule_id: str, trigger: BaseTrigger, name: str) -> Job:
        return self.scheduler.add_job(fire, trigger, id=schedule_id, name=name, kwargs=self._kwargs(schedule_id))

    def _add_one_off(self, schedule_id: str, at: datetime, scenario: str) -> None:
        self._add_job(schedule_id, DateTrigger(run_date=at, timezone=UTC), scenario)

    def _kwargs(self, schedule_id: str) -> dict[str, Any]:
        """A job's arguments: never the run itself (see the module's docstring)."""
        return {"instance": self.instance, "schedule_id": schedule_id}

    async def close(self) -> None:
        """Stop firing (waiting for a firing under way) and release the job store."""
        if self.leader is not None:
            await self.leader.close()
        if self.scheduler.running:
            # Paused first: nothing more is handed to the executor as it shuts down (a job due at that moment was
            # refused there, "cannot schedule new futures after shutdown", with a traceback in the log).
            await asyncio.to_thread(self.scheduler.pause)
            await asyncio.to_thread(self.scheduler.shutdown, True)
        if self.jobs is not None:
            await asyncio.to_thread(self.jobs.close)
        _ACTIVE.pop(self.instance, None)

    # -- firing (scheduler thread) ----------------------------------------------------------------------

    def fire(self, schedule_id: str, legacy_run: dict[str, Any] | None = None, due: float | None = None) -> None:
        try:
            future = asyncio.run_coroutine_threadsafe(self._start_run(schedule_id, legacy_run, due), self.loop)
            future.result(timeout=60)
        except Exception:
            log.exception("schedule %s could not start its run", schedule_id)

    async def _start_run(self, schedule_id: str, legacy_run: dict[str, Any] | None, due: float | None) -> None:
        stored = await self.runs.get(schedule_id)
        run = stored.run if stored is not None else legacy_run
        if run is None:
            log.error("schedule %s fired, but its run is not in the store", schedule_id)
            return
        # A firing's run takes an id of its own: a server that died after storing the run and before recording
        # the firing fires it again as it starts (`schedule_catchup`), and finds that run rather than start another.
        run_id = None if due is None else derived_id("run", due, schedule_id)

        async def still_there() -> None:
            # Read where a reset cannot come between it and the start: read before, a firing that met a reset
            # waited for it, then started the run of a schedule it had deleted, which sent to what came after.
            if stored is not None and await self.runs.get(schedule_id) is None:
                raise _Deleted

        try:
            started = await self.start_run(RunSpec.model_validate(_untargeted(run)), run_id=run_id, check=still_there)
        except _Deleted:
            log.info("schedule %s was deleted as it fired: no run", schedule_id)
            return
        except ShuttingDown:
            # Recorded as a failed firing, it was lost: the next server on the store fires it as it starts (the
            # scheduler has moved past it, unrecorded: `schedule_catchup`).
            log.info("schedule %s fired as the server stopped: the next start fires it", schedule_id)
            return
        except SimError as exc:  # the scenario or a subscription went away since; the next firing retries
            log.warning("schedule %s could not start a run: %s", schedule_id, exc.detail)
            # Kept on the schedule (`last_firing`): in the log alone, a client saw no run and no reason.
            await self.runs.fired(schedule_id, None, f"its run could not start: {exc.detail}", due)
            return
        log.info("schedule %s started run %s", schedule_id, started.id)
        await self.runs.fired(schedule_id, started.id, None, due)

    # -- the API's operations -------------------------------------------------------------------------

    async def create(self, spec: ScheduleSpec) -> dict[str, Any]:
        """Validate the trigger and the run fields now (not at the first firing) and store the schedule."""
        async with self._checking:
            trigger, shown = await asyncio.to_thread(_trigger, spec)
        await self.check_run(spec)
        schedule_id = new_id("sch")
        stored = ScheduledRun(shown, spec.model_dump(mode="json", exclude=TRIGGER_FIELDS))
        # Under the schedule's lock: meanwhile its run is stored and its job not yet added, as a one-off's that fired
        # and whose firing was lost, which a server taking the schedules over gives its job back (`catch_up`).
        async with editing(self.runs, schedule_id):
            await self.runs.put(schedule_id, stored.trigger, stored.run)  # first: a job must never lack its run
            try:
                job = await asyncio.to_thread(self._add_job, schedule_id, trigger, spec.scenario)
            except BaseException:
                await self.runs.delete(schedule_id)
                raise
        return view(schedule_id, job, stored)

    async def list(self, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Every schedule `get` answers for, a one-off that has fired included: gone from the list as it fired, it
        was in no answer but its own id's."""
        jobs = {job.id: job for job in await asyncio.to_thread(self.scheduler.get_jobs)}
        ids = sorted(jobs.keys() | await self.runs.one_offs())
        shown, next_cursor = split_page([i for i in ids if cursor is None or i > cursor], limit, lambda i: i)
        stored = await self.runs.many(shown)
        # One deleted between the two reads has neither its job nor its record: it is gone.
        return [view(i, jobs.get(i), stored.get(i)) for i in shown if i in jobs or i in stored], next_cursor

    async def get(self, schedule_id: str) -> dict[str, Any]:
        """A schedule, a one-off that has fired included (its record is kept until it is deleted or the server
        restarts): its `last_firing` names the run it started, whose id sorts by its planned time, so a client
        paging `GET /runs` from the last id it saw misses that run. Fired, a one-off was in no answer."""
        job = await asyncio.to_thread(self.scheduler.get_job, schedule_id)
        stored = await self.runs.get(schedule_id)
        if job is None and (stored is None or "at" not in stored.trigger):
            raise _missing(schedule_id)
        return view(schedule_id, job, stored)

    async def _job(self, schedule_id: str) -> Job:
        """The schedule's job; see `_gone` when it has none."""
        job = await asyncio.to_thread(self.scheduler.get_job, schedule_id)
        if job is not None:
            return job
        raise await self._gone(schedule_id)

    async def _gone(self, schedule_id: str) -> SimError:
        """Why a schedule has no job: 409 for a one-off that has fired (its record stays until it is deleted or the
        server restarts, so a client that made it moments ago is not told it never existed), else 404. A deletion
        removes the job before the record: meanwhile a schedule with a cron or an interval was taken for a fired
        one-off."""
        stored = await self.runs.get(schedule_id)
        if stored is not None and "at" in stored.trigger:
            error = (stored.last or {}).get("error")
            said = f"; {error}" if error else ""
            return Conflict(
                f"schedule {schedule_id} has fired and will not fire again (a one-off){said}; delete it to forget it",
                errors=[FieldError("id", "fired")],
            )
        return _missing(schedule_id)

    async def delete(self, schedule_id: str) -> None:
        """Delete a schedule, a one-off that has fired included: a one-off whose `at` was past fired at once, and
        a DELETE made right after creating it answered 404. One deletion at a time, here and on a shared store in
        every process: a second one made while the first had removed the job but not yet the stored run took the
        schedule for a fired one-off, and both answered 204."""
        async with self._deleting, editing(self.runs, schedule_id):
            await self._delete(schedule_id)

    async def _delete(self, schedule_id: str) -> None:
        try:
            await asyncio.to_thread(self.scheduler.remove_job, schedule_id)
        except JobLookupError:  # a one-off that fired, or a deletion beside this one: the record says which
            if await self.runs.get(schedule_id) is None:
                raise _missing(schedule_id) from None
        await self.runs.delete(schedule_id)

    async def pause(self, schedule_id: str) -> dict[str, Any]:
        await self._job(schedule_id)
        try:
            job = await asyncio.to_thread(self.scheduler.pause_job, schedule_id)
        except JobLookupError:  # deleted (or a one-off fired) since it was looked up: a 500 it was
            raise await self._gone(schedule_id) from None
        return view(schedule_id, job, await self.runs.get(schedule_id))

    async def resume(self, schedule_id: str) -> dict[str, Any]:
        """Resume a paused schedule. A one-off whose time passed while paused fires at once, like a firing
        missed while the server was down."""
        await self._job(schedule_id)
        # Noted first: a server stopped right after the job resumed must not take the times the schedule missed while
        # paused for firings it owes.
        await self.runs.resumed(schedule_id)
        try:
            job = await asyncio.to_thread(self.scheduler.resume_job, schedule_id)
        except JobLookupError:  # deleted (or a one-off fired) since it was looked up: a 500 it was
            raise await self._gone(schedule_id) from None
        if job is None:  # a trigger with nothing left to fire: APScheduler has removed the job
            await self.runs.delete(schedule_id)
            raise NotFound(
                f"schedule {schedule_id} will never fire again; it has been removed",
                errors=[FieldError("id", "finished")],
            )
        return view(schedule_id, job, await self.runs.get(schedule_id))

    async def refuse_naming(self, sub_id: str) -> None:
        """409 if a schedule that will fire again names the subscription `sub_id`. Deleted under it, every firing
        of that schedule failed (a line in the log, nothing else), and a subscription's id never comes back. A
        one-off that has fired names nothing."""
        jobs = await asyncio.to_thread(self.scheduler.get_jobs)
        stored = await self.runs.many(job.id for job in jobs)
        naming = sorted(i for i, s in stored.items() if sub_id in (s.run.get("subscriptions") or ()))
        if naming:
            raise Conflict(
                f"subscription {sub_id} is named by schedule {', '.join(naming)}: delete the schedule first, or it"
                " would fail at every firing",
                errors=[FieldError("id", f"named by schedule {', '.join(naming)}")],
            )

    async def clear(self) -> None:
        await asyncio.to_thread(self.scheduler.remove_all_jobs)
        await self.runs.clear()


def _trigger(spec: ScheduleSpec) -> tuple[BaseTrigger, dict[str, Any]]:
    """The APScheduler trigger of `spec` and the trigger as the API shows it; 422 naming the bad field."""
    now = datetime.now(UTC)
    if spec.cron is not None:
        try:
            trigger: BaseTrigger = crontab(spec.cron)
        except (ValueError, KeyError, TypeError) as exc:
            raise _bad("cron", f"not a 5-field crontab expression ({exc})") from None
        if trigger.get_next_fire_time(None, now) is None:
            raise _bad("cron", "this expression never fires")
        return trigger, {"cron": spec.cron}
    if spec.interval is not None:
        if spec.interval < MIN_INTERVAL:
            raise _bad("interval", f"must be at least {MIN_INTERVAL:g} second")
        return IntervalTrigger(seconds=spec.interval, timezone=UTC), {"interval": spec.interval}
    assert spec.at is not None  # ScheduleSpec requires exactly one of the three
    try:
        at = utc(spec.at)
    except (OverflowError, ValueError):
        raise _bad("at", "not a representable time") from None
    # A time already past fires at once (as a missed firing does): "at" is checked by its form alone, which
    # the API document can state, rather than against a clock it cannot.
    return DateTrigger(run_date=at, timezone=UTC), {"at": iso_ms(at)}


def crontab(expr: str) -> BaseTrigger:
    """A 5-field crontab expression (minute hour day month weekday, UTC) as an APScheduler trigger.

    APScheduler 3 numbers weekdays from Monday = 0; crontab from Sunday = 0 (or 7). Numeric weekdays are
    translated, so `* * * * 1` fires on Mondays as it would under cron. Where both the day of month and the
    weekday are restricted (neither starts with `*`), cron fires when either matches; one APScheduler trigger
    needs both, so such an expression is two, either of which fires (`0 0 13 * 5`: every 13th and every Friday).
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, weekday = fields
    days = _weekdays(weekday)
    if day.startswith("*") or weekday.startswith("*"):
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=days, timezone=UTC)
    return OrTrigger(
        [
            CronTrigger(minute=minute, hour=hour, day=day, month=month, timezone=UTC),
            CronTrigger(minute=minute, hour=hour, month=month, day_of_week=days, timezone=UTC),
        ]
    )


def _weekdays(field: str) -> str:
    """Crontab's weekday field in APScheduler's numbering; names (`mon-fri`) pass through unchanged."""
    if field == "*":
        return field
    out: list[str] = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        if not _NUMERIC_DAYS.fullmatch(span) or (step and not step.isdigit()):
            out.append(part)  # names, or something APScheduler will refuse with its own message
            continue
        first, _, last = span.partition("-")
        low, high = (0, 6) if span == "*" else (int(first), int(last) if last else (6 if step else int(first)))
        if high > 7 or low > high or (step and int(step) == 0):
            raise ValueError(f"bad weekday {part!r}: expected 0-7 (0 and 7 are Sunday)")
        out.extend(str((day - 1) % 7) for day in range(low, high + 1, int(step or 1)))
    return ",".join(dict.fromkeys(out))


def _missing(schedule_id: str) -> NotFound:
    return NotFound(f"no schedule {schedule_id!r}", errors=[FieldError("id", "not found")])


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[FieldError(field, message)])


def view(schedule_id: str, job: Job | None, stored: ScheduledRun | None) -> dict[str, Any]:
    """A schedule as the API shows it (the run's secret masked). `job` None: a one-off that has fired, whose
    `stored` record is kept: neither due nor paused."""
    if stored is not None:
        run = dict(stored.run)
    else:
        assert job is not None  # a schedule has its job, its record, or both
        run = {"scenario": job.name}
    run["secret"] = mask_secret(run.get("secret"))
    if run.get("target"):
        run["target"] = mask_url(run["target"])
    next_run = job.next_run_time if job is not None else None
    return {
        "id": schedule_id,
        "scenario": run["scenario"],
        "trigger": dict(stored.trigger) if stored is not None else {},
        "next_run_at": iso_ms(next_run) if next_run is not None else None,
        "paused": job is not None and next_run is None,
        "run": run,
        "last_firing": _last_firing(stored.last if stored is not None else None),
    }


def _last_firing(last: dict[str, Any] | None) -> dict[str, Any] | None:
    if last is None or last.get("at") is None:  # none, or one an earlier release made and kept no record of
        return None
    return {"at": iso_ms(datetime.fromtimestamp(last["at"], UTC)), "run": last["run"], "error": last["error"]}


def _untargeted(run: dict[str, Any]) -> dict[str, Any]:
    """A stored run without a target, without the fields that go only with one: schedules stored before they were
    refused have them, and they never did anything there."""
    if run.get("target") is not None:
        return run
    return {**run, **{name: TARGET_ONLY_DEFAULTS[name] for name in RUN_TARGET_FIELDS}}
