"""APScheduler's SQLAlchemy job store with each job kept as JSON, never as a pickle.

APScheduler 3 pickles a job's state into `apscheduler_jobs.job_state`, and loading a pickle runs whatever code
it names: whoever could write the database could run code in the server. Here a job is a JSON object of plain
values (its trigger as its fields, its times as RFC 3339 text), and the function it calls is not read from the
row at all: every job calls `simulator.core.schedules:fire`.

A row an earlier release pickled is read with an unpickler that builds only APScheduler's triggers and the
standard library's times (anything else is refused, never run), and written back as JSON when the schedules
start.
"""

from __future__ import annotations

import io
import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy.exc import IntegrityError

FIRE = "simulator.core.schedules:fire"  # the one function a job may call
FORMAT = 1
_TIME_MODULES = frozenset({"datetime", "zoneinfo", "_zoneinfo"})  # and APScheduler's triggers, below


class JsonJobStore(SQLAlchemyJobStore):
    """The job store of `SQLAlchemyJobStore` (same table), its rows JSON. `legacy` holds the ids of rows read
    from pickles, for the schedules to write back."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.legacy: set[str] = set()

    def shutdown(self) -> None:
        """Nothing yet: APScheduler calls this before its thread has ended, and disposing of the engine under a
        query of that thread drops the query's connection unclosed. `close` does it, after the thread."""

    def close(self) -> None:
        self.engine.dispose()

    def add_job(self, job: Job) -> None:
        insert = self.jobs_t.insert().values(id=job.id, next_run_time=_timestamp(job), job_state=encode(job))
        with self.engine.begin() as connection:
            try:
                connection.execute(insert)
            except IntegrityError:
                raise ConflictingIdError(job.id) from None

    def update_job(self, job: Job) -> None:
        update = (
            self.jobs_t.update()
            .values(next_run_time=_timestamp(job), job_state=encode(job))
            .where(self.jobs_t.c.id == job.id)
        )
        with self.engine.begin() as connection:
            if connection.execute(update).rowcount == 0:
                raise JobLookupError(job.id)
        self.legacy.discard(job.id)

    def _reconstitute_job(self, job_state: bytes) -> Job:
        state = decode(bytes(job_state))
        if state.pop("legacy", False):
            self.legacy.add(state["id"])
        state["jobstore"] = self
        job = Job.__new__(Job)
        job.__setstate__(state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job


def _timestamp(job: Job) -> float | None:
    return datetime_to_utc_timestamp(job.next_run_time)


# -- the JSON form ----------------------------------------------------------------------------------------


def encode(job: Job) -> bytes:
    """A job as JSON; a job that calls anything but `fire`, or with positional arguments, is refused."""
    state = job.__getstate__()
    if state["func"] != FIRE or state["args"]:
        raise ValueError(f"job {job.id}: only {FIRE}(**kwargs) is stored")
    return json.dumps(
        {
            "format": FORMAT,
            "id": state["id"],
            "name": state["name"],
            "trigger": trigger_json(state["trigger"]),
            "kwargs": state["kwargs"],
            "executor": state["executor"],
            "misfire_grace_time": state["misfire_grace_time"],
            "coalesce": state["coalesce"],
            "max_instances": state["max_instances"],
            "next_run_time": _iso(state["next_run_time"]),
        },
        sort_keys=True,
    ).encode()


def decode(raw: bytes) -> dict[str, Any]:
    """The state `Job.__setstate__` takes, from a JSON row (or, marked `legacy`, from an earlier pickle)."""
    if raw[:1] == b"\x80":  # every pickle protocol APScheduler used starts with PROTO
        state = _unpickle(raw)
        state["func"], state["legacy"] = FIRE, True
        return state
    data = json.loads(raw)
    if data.get("format") != FORMAT:
        raise ValueError(f"job state of format {data.get('format')!r}; this release reads {FORMAT}")
    return {
        "version": 1,
        "id": str(data["id"]),
        "func": FIRE,
        "trigger": trigger_from_json(data["trigger"]),
        "executor": str(data["executor"]),
        "args": (),
        "kwargs": {str(k): v for k, v in dict(data["kwargs"]).items()},
        "name": str(data["name"]),
        "misfire_grace_time": data["misfire_grace_time"],
        "coalesce": bool(data["coalesce"]),
        "max_instances": int(data["max_instances"]),
        "next_run_time": _time(data["next_run_time"]),
    }


def trigger_json(trigger: BaseTrigger) -> dict[str, Any]:
    """A trigger as plain values: every cron field as APScheduler prints it, an interval in seconds with its
    start (the phase of its firings), a date."""
    if isinstance(trigger, CronTrigger):
        return {
            "cron": {field.name: str(field) for field in trigger.fields},
            "start_date": _iso(trigger.start_date),
            "end_date": _iso(trigger.end_date),
            "jitter": trigger.jitter,
        }
    if isinstance(trigger, IntervalTrigger):
        return {
            "interval": trigger.interval.total_seconds(),
            "start_date": _iso(trigger.start_date),
            "end_date": _iso(trigger.end_date),
            "jitter": trigger.jitter,
        }
    if isinstance(trigger, DateTrigger):
        return {"date": _iso(trigger.run_date)}
    if isinstance(trigger, OrTrigger):  # a crontab restricting both its day fields: either fires
        return {"any": [trigger_json(each) for each in trigger.triggers]}
    raise ValueError(f"a {type(trigger).__name__} is not stored")


def trigger_from_json(data: dict[str, Any]) -> BaseTrigger:
    if "cron" in data:
        fields = {str(name): str(value) for name, value in dict(data["cron"]).items()}
        return CronTrigger(
            **fields,
            start_date=_time(data.get("start_date")),
            end_date=_time(data.get("end_date")),
            jitter=data.get("jitter"),
            timezone=UTC,
        )
    if "interval" in data:
        return IntervalTrigger(
            seconds=float(data["interval"]),
            start_date=_time(data.get("start_date")),
            end_date=_time(data.get("end_date")),
            jitter=data.get("jitter"),
            timezone=UTC,
        )
    if "date" in data:
        return DateTrigger(run_date=_time(data["date"]), timezone=UTC)
    if "any" in data:
        return OrTrigger([trigger_from_json(dict(each)) for each in data["any"]])
    raise ValueError(f"no trigger in {sorted(data)}")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text is not None else None


# -- rows an earlier release pickled --------------------------------------------------------------------


class _TriggersOnly(pickle.Unpickler):
    """Builds APScheduler's triggers and the standard library's times; any other global (the function a
    crafted pickle would call) is refused before it is looked up."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _TIME_MODULES or module.startswith("apscheduler.triggers."):
            return super().find_class(module, name)
        if (module, name) == ("builtins", "getattr"):  # how `ZoneInfo._unpickle` is named in a pickle
            return _named_getattr
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a stored schedule")


def _named_getattr(owner: Any, name: str) -> Any:
    """`getattr` for the one attribute a pickled time zone names; a dunder (`__base__`, `__subclasses__`,
    `__globals__`: the way out of any allowed class to the whole interpreter) is refused."""
    if name != "_unpickle":
        raise pickle.UnpicklingError(f"getattr(…, {name!r}) is not part of a stored schedule")
    return getattr(owner, name)


def _unpickle(raw: bytes) -> dict[str, Any]:
    state = _TriggersOnly(io.BytesIO(raw)).load()
    if not isinstance(state, dict) or not isinstance(state.get("trigger"), BaseTrigger):
        raise pickle.UnpicklingError("not a job's state")
    state["args"] = ()
    if isinstance(state.get("misfire_grace_time"), timedelta):  # never stored so, but never trusted either
        state["misfire_grace_time"] = state["misfire_grace_time"].total_seconds()
    return dict(state)
