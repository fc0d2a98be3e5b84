"""Routes of schedules: create, list, delete, pause, resume."""

from __future__ import annotations

from typing import Any

from simulator.api import views
from simulator.api.endpoints import Call, Endpoint
from simulator.core.pagination import id_cursor
from simulator.models import answers as schemas
from simulator.models.inputs import ScheduleSpec


async def create_schedule(call: Call) -> dict[str, Any]:
    spec: ScheduleSpec = call.body
    return await call.api.schedules.create(spec)


async def list_schedules(call: Call) -> dict[str, Any]:
    q: schemas.ListQuery = call.query
    return views.page(*await call.api.schedules.list(q.limit, id_cursor(q.cursor, "sch")))


async def get_schedule(call: Call) -> dict[str, Any]:
    return await call.api.schedules.get(call.path["id"])


async def delete_schedule(call: Call) -> None:
    await call.api.schedules.delete(call.path["id"])


async def pause_schedule(call: Call) -> dict[str, Any]:
    return await call.api.schedules.pause(call.path["id"])


async def resume_schedule(call: Call) -> dict[str, Any]:
    return await call.api.schedules.resume(call.path["id"])


ENDPOINTS = [
    Endpoint(
        "POST",
        "/schedules",
        create_schedule,
        "Schedule runs of a scenario",
        "schedules",
        status=201,
        body=ScheduleSpec,
        response=schemas.Schedule,
        errors=(404, 422),
        description="One of `cron` (5-field crontab, UTC), `interval` (seconds, at least 1) or `at` (an RFC "
        "3339 time; one already past fires at once), plus the fields of a run. Schedules survive restarts; a "
        "firing missed while the server was down happens once when it is back.",
    ),
    Endpoint(
        "GET",
        "/schedules",
        list_schedules,
        "List schedules",
        "schedules",
        query=schemas.ListQuery,
        response=schemas.SchedulePage,
        errors=(422,),
        description="A one-off (`at`) that has fired too, until it is deleted or the server restarts, with no "
        "`next_run_at` and its `last_firing`.",
    ),
    Endpoint(
        "GET",
        "/schedules/{id}",
        get_schedule,
        "Get a schedule",
        "schedules",
        response=schemas.Schedule,
        errors=(404,),
        description="A one-off (`at`) that has fired too, until it is deleted or the server restarts: its "
        "`last_firing` names the run it started, whose id sorts by its planned time (a client paging `GET /runs` on "
        "from the last id it saw misses it).",
    ),
    Endpoint(
        "DELETE",
        "/schedules/{id}",
        delete_schedule,
        "Delete a schedule",
        "schedules",
        status=204,
        content="",
        errors=(404,),
        description="A one-off (`at`) that has fired is deleted too (its record is kept until then).",
    ),
    Endpoint(
        "POST",
        "/schedules/{id}/pause",
        pause_schedule,
        "Pause a schedule",
        "schedules",
        response=schemas.Schedule,
        errors=(404, 409),
        description="409 for a one-off (`at`) that has fired: it will not fire again.",
    ),
    Endpoint(
        "POST",
        "/schedules/{id}/resume",
        resume_schedule,
        "Resume a paused schedule",
        "schedules",
        response=schemas.Schedule,
        errors=(404, 409),
        description="A one-off (`at`) whose time passed while it was paused fires at once; 409 for one that has fired.",
    ),
]
