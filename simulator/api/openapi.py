"""The OpenAPI 3.1 document, generated from the route table and the pydantic models the handlers use."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from simulator import __version__
from simulator.api import openapi_catalog
from simulator.api.endpoints import Endpoint
from simulator.api.problem import PROBLEM_JSON
from simulator.api.routes_catalog import add_webhooks
from simulator.core.pagination import id_cursor_pattern
from simulator.models import answers as schemas
from simulator.models import formats
from simulator.scenarios.model import Scenario

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")
_PATH_PARAM_DOCS = {
    "id": "The record's id.",
    "type": "An event type: `provider:type`, the bare type where unambiguous, or an alias.",
    "name": "A scenario's name.",
}
_ERROR_DOCS = {
    400: "Malformed request (the body is not valid JSON).",
    401: "Missing or wrong bearer token.",
    404: "Not found (the error names what).",
    403: "Refused: a browser marked the request as sent from another site (`Origin`, `Sec-Fetch-Site`).",
    408: "The body did not all arrive in time (its `Content-Length` promised more than came).",
    409: "Conflict with the record's state.",
    413: "The body is too large.",
    415: "The body is not JSON (or has no `Content-Type`).",
    421: "A `Host` that is not a loopback name, an address or an `--allowed-host` name, on a loopback server.",
    422: "Invalid input: `errors` names each bad field.",
    429: "Too many runs under way: wait for one to end (`Retry-After`), or cancel one.",
    500: "Unexpected error (logged).",
    503: "The store cannot be reached or written now (a database restarting, a full or missing file), or the "
    "server is stopping: try again after `Retry-After` seconds.",
}
_URL = "http://localhost:9000/webhooks"  # where `webhook-sim listen` receives by default
_EXAMPLES: dict[tuple[str, str], list[Any]] = {
    ("SubscriptionSpec", "url"): [_URL],
    ("SubscriptionPatch", "url"): [_URL],
    ("RunSpec", "target"): [_URL],
    ("EventSpec", "target"): [_URL],
    ("ScheduleSpec", "target"): [_URL],
    ("SubscriptionSpec", "events"): [["syncfy:*", "basistheory:token.*"]],
    ("RunSpec", "scenario"): ["syncfy-credential-lifecycle"],
    ("ScheduleSpec", "scenario"): ["syncfy-two-factor"],
    ("ScheduleSpec", "cron"): ["0 9 * * 1-5"],
}
# Query parameters whose exact form the route decides (`simulator.core.pagination.int_cursor`) or the catalog does.
_POSITION = {
    "type": "string",
    "pattern": "^[0-9]{1,18}$",
    "description": "The `next_cursor` of the previous page (digits).",
}


def _id_cursor(prefix: str) -> Any:
    pattern = id_cursor_pattern(prefix)
    return lambda: {"type": "string", "pattern": pattern, "description": "The `next_cursor` of the previous page."}


def _moment(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": formats.DATE_TIME, "description": description + " RFC 3339, with its offset."}


_QUERY_SCHEMAS: dict[tuple[str, str], Any] = {
    ("list_runs", "cursor"): _id_cursor("run"),
    ("list_subscriptions", "cursor"): _id_cursor("sub"),
    ("list_schedules", "cursor"): _id_cursor("sch"),
    ("list_deliveries", "cursor"): lambda: _POSITION,
    ("list_scenarios", "cursor"): lambda: {
        "type": "string",
        "pattern": formats.SCENARIO_NAME,
        "maxLength": formats.SCENARIO_NAME_MAX,
        "description": "The `next_cursor` of the previous page (a scenario's name).",
    },
    ("list_event_types", "cursor"): lambda: {
        "type": "string",
        "enum": openapi_catalog.event_type_keys(),
        "description": "The `next_cursor` of the previous page (an event type's key).",
    },
    ("list_run_events", "cursor"): lambda: _POSITION,
    ("list_event_types", "provider"): openapi_catalog.provider_schema,
    ("list_deliveries", "type"): openapi_catalog.event_type_schema,
    ("stream", "type"): openapi_catalog.event_type_schema,
    # A query string has no null: the parameter is given as a time, or left out.
    ("list_deliveries", "since"): lambda: _moment("Only deliveries made at or after this time."),
    ("list_deliveries", "until"): lambda: _moment("Only deliveries made before this time."),
}
_PATH_SCHEMAS: dict[str, Any] = {
    "type": openapi_catalog.event_type_schema,
    "name": lambda: {"type": "string", "pattern": formats.SCENARIO_NAME, "maxLength": formats.SCENARIO_NAME_MAX},
    "id": lambda: {"type": "string", "minLength": 1},
}


def _link(operation: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation, "parameters": parameters}


# OpenAPI links: where an answer's ids lead, so a client (and a stateful test) can follow them.
_ITEM_OF = {
    "subscription": (
        "get_subscription",
        "update_subscription",
        "delete_subscription",
        "enable_subscription",
        "redeliver_dead",
    ),
    "run": ("get_run", "cancel_run", "list_run_events"),
    "delivery": ("get_delivery", "redeliver"),
    "schedule": ("get_schedule", "delete_schedule", "pause_schedule", "resume_schedule"),
}


def _links(kind: str, where: str) -> dict[str, Any]:
    return {op: _link(op, id=where) for op in _ITEM_OF[kind]}


_LINKS: dict[str, dict[str, Any]] = {
    "create_subscription": {
        **_links("subscription", "$response.body#/id"),
        "list_deliveries": {"operationId": "list_deliveries", "parameters": {"subscription": "$response.body#/id"}},
    },
    "list_subscriptions": _links("subscription", "$response.body#/data/0/id"),
    "update_subscription": _links("subscription", "$response.body#/id"),
    "start_run": {
        **_links("run", "$response.body#/id"),
        "list_deliveries": {"operationId": "list_deliveries", "parameters": {"run": "$response.body#/id"}},
    },
    "list_runs": _links("run", "$response.body#/data/0/id"),
    "emit": _links("delivery", "$response.body#/deliveries/0"),
    "list_deliveries": _links("delivery", "$response.body#/data/0/id"),
    "create_schedule": _links("schedule", "$response.body#/id"),
    "list_schedules": _links("schedule", "$response.body#/data/0/id"),
    "list_scenarios": {"get_scenario": _link("get_scenario", name="$response.body#/data/0/name")},
    "list_event_types": {
        "sample": _link("sample", type="$response.body#/data/0/type"),
        "schema": _link("schema", type="$response.body#/data/0/type"),
    },
}
_DESCRIPTION = """The control API of webhook-sim: subscriptions, runs of scenarios, one-off events, deliveries and
their attempts, schedules. Errors are `application/problem+json` documents whose `errors` name each bad field.
Every list answers `{"data": [...], "next_cursor": ...}`; pass `next_cursor` back as `cursor` for the next page."""


class _Components:
    """The `components.schemas` being collected, each model under its class name."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, sub)
        self.schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}


def document(
    endpoints: Sequence[Endpoint], *, secured: bool, scenarios: Mapping[str, Scenario] | None = None
) -> dict[str, Any]:
    """The whole document; `secured` when a bearer token is required (every route but the public ones).
    `scenarios`: the server's, whose parameters a run's body then states (without: any `params`)."""
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, components, secured)
    _annotate(components.schemas, scenarios)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "webhook-sim control API", "version": __version__, "description": _DESCRIPTION},
        "paths": paths,
        "components": {"schemas": dict(sorted(components.schemas.items()))},
    }
    if secured:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return add_webhooks(doc)


def _annotate(found: dict[str, Any], scenarios: Mapping[str, Scenario] | None) -> None:
    """What the models cannot say because the catalog or the scenario folders decide it: the event types, the
    filters a subscription takes, the overrides each event type takes, each scenario's parameters; and examples."""
    for model in ("RunSpec", "ScheduleSpec"):
        if model in found and scenarios is not None:
            rules = openapi_catalog.scenario_rules(scenarios, schedule=model == "ScheduleSpec")
            found[model].setdefault("allOf", []).append(rules)
    if "EventSpec" in found:
        found["EventSpec"]["properties"]["type"] = {**openapi_catalog.event_type_schema(), "title": "Type"}
        found["EventSpec"]["oneOf"] = openapi_catalog.override_branches()
    for model in ("SubscriptionSpec", "SubscriptionPatch"):
        if model in found:
            items = found[model]["properties"]["events"]["items"]
            items["enum"] = openapi_catalog.filter_spellings()
    for (model, field), examples in _EXAMPLES.items():
        if model in found:
            found[model]["properties"][field]["examples"] = examples


def _operation(ep: Endpoint, components: _Components, secured: bool) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": ep.operation_id, "summary": ep.summary, "tags": [ep.tag]}
    if ep.description:
        op["description"] = ep.description
    params = _path_parameters(ep.path) + (_query_parameters(ep.query, ep.operation_id) if ep.query else [])
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {
            # A PATCH with no body changes nothing, as `{}` does (RFC 5789 leaves an empty change valid); a body
            # of optional fields alone may be left out too (`read_json` reads none as `{}`).
            "required": ep.method != "PATCH" and bool(ep.body.model_json_schema().get("required")),
            "content": {"application/json": {"schema": components.ref(ep.body, "validation")}},
        }
    op["responses"] = {str(ep.status): _success(ep, components)}
    if ep.operation_id in _LINKS:
        op["responses"][str(ep.status)]["links"] = _LINKS[ep.operation_id]
    problem = {PROBLEM_JSON: {"schema": components.ref(schemas.Problem, "serialization")}}
    for status in sorted(_error_statuses(ep, secured)):
        op["responses"][str(status)] = {"description": _ERROR_DOCS[status], "content": problem}
    if secured and ep.public:
        op["security"] = []
    return op


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": _PATH_PARAM_DOCS.get(name, name),
            "schema": _PATH_SCHEMAS.get(name, _PATH_SCHEMAS["id"])(),
        }
        for name in _PATH_PARAM.findall(path)
    ]


def _query_parameters(model: type[BaseModel], operation: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        if (operation, name) in _QUERY_SCHEMAS:
            exact = _QUERY_SCHEMAS[operation, name]()
            prop = {**exact, "description": exact.get("description", prop.get("description", ""))}
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": _no_nul(prop)}
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


def _no_nul(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every string it takes free of NUL, as `middleware.NoNul` answers any query value that holds
    one (422): stated where no pattern or list of values already excludes it."""
    if "anyOf" in schema:
        return {**schema, "anyOf": [_no_nul(branch) for branch in schema["anyOf"]]}
    kinds = schema.get("type")
    text = kinds == "string" or (isinstance(kinds, list) and "string" in kinds)
    if text and not {"pattern", "enum", "const"} & schema.keys():
        return {**schema, "pattern": formats.NO_NUL}
    return schema


def _success(ep: Endpoint, components: _Components) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": ep.summary}
    if ep.response is not None:
        answer["content"] = {ep.content: {"schema": components.ref(ep.response, "serialization")}}
    elif ep.content == "application/x-pem-file":
        answer["content"] = {ep.content: {"schema": {"type": "string"}}}
    elif ep.content:
        answer["content"] = {ep.content: {"schema": {"type": "object"}}}
    return answer


def _error_statuses(ep: Endpoint, secured: bool) -> set[int]:
    # 421: `middleware.SameSite`, against DNS rebinding. 422: every route refuses a query parameter it does not
    # take (`endpoints._parsed_query`), those that take none included.
    # 503: any route may meet a store that cannot answer now, or a server stopping (`middleware`, `problem`).
    statuses = set(ep.errors) | {421, 422, 500, 503}
    if ep.method not in ("GET", "HEAD", "OPTIONS"):
        statuses.add(403)  # `middleware.SameSite`: a cross-site request a browser sent
    if ep.body is not None:
        statuses |= {400, 408, 413, 415}  # 408: a body that stops coming (`http_guard`)
    if _PATH_PARAM.search(ep.path):
        statuses.add(404)
    if secured and not ep.public:
        statuses.add(401)
    return statuses
