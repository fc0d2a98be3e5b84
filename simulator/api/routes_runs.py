"""Routes of scenarios and runs: list and read scenarios; start, poll, cancel runs and page through their events."""

from __future__ import annotations

import re
from typing import Any

from simulator.api import views
from simulator.api.endpoints import Call, Endpoint
from simulator.core.pagination import checked_cursor, id_cursor, int_cursor, split_page
from simulator.errors import FieldError, InvalidInput
from simulator.models import answers as schemas
from simulator.models import formats
from simulator.models.inputs import RunSpec
from simulator.turns import in_turns

SCENARIO_NAME = re.compile(formats.SCENARIO_NAME)


def is_scenario_name(text: str) -> bool:
    return len(text) <= formats.SCENARIO_NAME_MAX and SCENARIO_NAME.fullmatch(text) is not None


def check_scenario_name(name: str) -> None:
    """Over HTTP a scenario is named, never a path: the server reads only its own scenario directories."""
    if not is_scenario_name(name):
        raise InvalidInput(
            f"scenario: {name[:100]!r} is not a scenario name (at most 100 lowercase letters, "
            "digits and hyphens; files are loaded from the server's --scenarios directories)",
            errors=[FieldError("scenario", "not a scenario name")],
        )


async def list_scenarios(call: Call) -> dict[str, Any]:
    q: schemas.ListQuery = call.query
    cursor = checked_cursor(q.cursor, is_scenario_name)  # a scenario's name: one removed since is still a place
    found, errors = await call.sim.scenarios()
    names = sorted(n for n in found if cursor is None or n > cursor)
    shown, cursor = split_page(names, q.limit, lambda n: n)
    return {**views.page([found[n].summary() for n in shown], cursor), "errors": [e.as_dict() for e in errors]}


async def get_scenario(call: Call) -> dict[str, Any]:
    check_scenario_name(call.path["name"])
    return (await call.sim.scenario(call.path["name"])).summary()


async def start_run(call: Call) -> dict[str, Any]:
    spec: RunSpec = call.body  # its scenario is a name (the model's pattern), looked up in the scenario folders
    return views.run(await call.sim.start_run(spec, typed_params=True))


async def list_runs(call: Call) -> dict[str, Any]:
    q: schemas.ListQuery = call.query
    runs = await call.sim.runs.list(q.limit + 1, id_cursor(q.cursor, "run"))
    shown, cursor = split_page(runs, q.limit, lambda r: r.id)
    return views.page(await in_turns(shown, views.run), cursor)


async def get_run(call: Call) -> dict[str, Any]:
    return views.run(await call.sim.runs.get(call.path["id"]))


async def cancel_run(call: Call) -> dict[str, Any]:
    return views.run(await call.sim.runs.cancel(call.path["id"]))


async def list_run_events(call: Call) -> dict[str, Any]:
    q: schemas.ListQuery = call.query
    after = int_cursor(q.cursor)
    await call.sim.runs.get(call.path["id"])  # 404 for an unknown run, rather than an empty page
    rows = await call.sim.store.run_events(call.path["id"], q.limit + 1, after)
    shown, cursor = split_page(rows, q.limit, lambda r: r.seq)
    return views.page(await in_turns(shown, views.run_event), cursor)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/scenarios",
        list_scenarios,
        "List built-in and user scenarios",
        "scenarios",
        query=schemas.ListQuery,
        response=schemas.ScenarioPage,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/scenarios/{name}",
        get_scenario,
        "Describe a scenario",
        "scenarios",
        response=schemas.Scenario,
        errors=(404, 422),
    ),
    Endpoint(
        "POST",
        "/runs",
        start_run,
        "Start a run of a scenario",
        "runs",
        status=202,
        body=RunSpec,
        response=schemas.Run,
        errors=(404, 422, 429),
        description="Answers at once with the pending run; poll GET /runs/{id} for progress and counts. 429 when "
        "100 runs are under way.",
    ),
    Endpoint(
        "GET", "/runs", list_runs, "List runs", "runs", query=schemas.ListQuery, response=schemas.RunPage, errors=(422,)
    ),
    Endpoint(
        "GET",
        "/runs/{id}",
        get_run,
        "Read a run: status, progress and delivery counts",
        "runs",
        response=schemas.Run,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/runs/{id}/cancel",
        cancel_run,
        "Cancel a run",
        "runs",
        response=schemas.Run,
        errors=(404,),
        description="It stops emitting; deliveries already made go on.",
    ),
    Endpoint(
        "GET",
        "/runs/{id}/events",
        list_run_events,
        "The events a run emitted, in order",
        "runs",
        query=schemas.ListQuery,
        response=schemas.RunEventPage,
        errors=(404, 422),
    ),
]
