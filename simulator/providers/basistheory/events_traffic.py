"""The API request log: `http.request`, one served request of the tenant's applications, headers masked.

Traffic is what an integration sends: mostly token writes and reads, some intents, a little management; about
one request in eight fails the way client mistakes fail (validation, a missing key, a missing permission, an
unknown id, rate limiting). The request shows the acting application's masked API key and the event's trace id;
a request without a key (401) has no actor and no key header. Bodies exist only where the method sends one, a
`Location` only for a 201, and a 204 carries no content headers.
"""

from __future__ import annotations

from typing import Any

from simulator.models import BuildContext
from simulator.providers.basistheory import _values as v
from simulator.providers.basistheory._common import Entity, application, as_actor, uid, wrap
from simulator.providers.basistheory.provider import PROVIDER
from simulator.providers.draws import weighted_index

API_HOST = "api.basistheory.com"
# method, path (`{id}`: one resource), status when it works, weight, the application type that calls it
OPERATIONS: tuple[tuple[str, str, int, int, str], ...] = (
    ("POST", "/tokens", 201, 30, "private"),
    ("POST", "/tokens", 201, 12, "public"),
    ("GET", "/tokens/{id}", 200, 18, "private"),
    ("PATCH", "/tokens/{id}", 200, 5, "private"),
    ("DELETE", "/tokens/{id}", 204, 3, "private"),
    ("POST", "/tokens/search", 200, 4, "private"),
    ("POST", "/token-intents", 201, 12, "public"),
    ("GET", "/applications", 200, 2, "management"),
    ("POST", "/applications", 201, 1, "management"),
    ("GET", "/reactors", 200, 2, "management"),
    ("POST", "/proxies", 201, 1, "management"),
)
OPERATION_WEIGHTS = tuple(op[3] for op in OPERATIONS)
FAILURE_RATE = 0.12
# status, weight, whether it needs a request body (validation) or a resource id (not found)
FAILURES: tuple[tuple[int, int, str | None], ...] = (
    (400, 4, "body"),
    (401, 2, None),
    (403, 2, None),
    (404, 3, "id"),
    (422, 2, "body"),
    (429, 1, None),
)
BODY_TYPES = {"POST": "application/json; charset=utf-8", "PATCH": "application/merge-patch+json"}
JSON = "application/json; charset=utf-8"
PROBLEM = "application/problem+json; charset=utf-8"


def _status(ctx: BuildContext, method: str, path: str, success: int) -> int:
    """The answer: `success`, or one of the failures that fits the request."""
    if ctx.rng.random() >= FAILURE_RATE:
        return success
    fitting = [
        (status, weight)
        for status, weight, needs in FAILURES
        if needs is None or (needs == "body" and method in BODY_TYPES) or (needs == "id" and "{id}" in path)
    ]
    return ctx.rng.choices([s for s, _ in fitting], [w for _, w in fitting])[0]


def _request_headers(ctx: BuildContext, method: str, trace_id: str, app: Entity, status: int) -> dict[str, Any]:
    headers: dict[str, list[str]] = {"Host": [API_HOST]}
    if method in BODY_TYPES:
        headers["Content-Type"] = [BODY_TYPES[method]]
        headers["Content-Length"] = [str(ctx.rng.randint(90, 900))]
    headers["BT-TRACE-ID"] = [trace_id]
    if status != 401:  # 401: the caller sent no key
        headers["BT-API-KEY"] = [v.mask(app["_api_key"])]
    return headers


def _response_headers(ctx: BuildContext, path: str, trace_id: str, status: int) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    if status != 204:
        headers["Content-Type"] = [PROBLEM if status >= 400 else JSON]
        headers["Content-Length"] = [str(ctx.rng.randint(120, 400) if status >= 400 else ctx.rng.randint(300, 1600))]
    headers["BT-TRACE-ID"] = [trace_id]
    headers["Date"] = [v.mask(v.http_date(ctx.now))]
    headers["Server"] = [v.mask("Kestrel")]
    if status == 201:
        headers["Location"] = [v.mask(f"https://{API_HOST}{path}/{uid(ctx, 'resource')}")]
    return headers


def _resource_path(ctx: BuildContext, path: str) -> str:
    """`path` with `{id}` filled: the story's latest token, else one made before the run."""
    if "{id}" not in path:
        return path
    token = ctx.world.get("token")
    return path.replace("{id}", token["id"] if token is not None else uid(ctx, "token"))


@PROVIDER.event("http.request", "HTTP Request: an API request was served (headers masked as in the logs)")
def http_request(ctx: BuildContext) -> dict[str, Any]:
    method, template, success, _, app_type = OPERATIONS[weighted_index(ctx.rng, OPERATION_WEIGHTS)]
    app = application(ctx, app_type)
    status = _status(ctx, method, template, success)
    trace_id = uid(ctx, "trace:http.request")
    path = _resource_path(ctx, template)
    data = {
        "request": {"method": method, "path": path, "headers": _request_headers(ctx, method, trace_id, app, status)},
        "response": {"status": status, "headers": _response_headers(ctx, template, trace_id, status)},
    }
    return wrap(ctx, "http.request", data, None if status == 401 else as_actor(app), trace_id)
