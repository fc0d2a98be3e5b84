"""The route table's vocabulary: an `Endpoint` declares what a route takes and answers, and `dispatch` parses a
request accordingly, calls the handler and serialises what it returns.

The same declarations build the Starlette routes, the OpenAPI document and the tests' route table, so a route
cannot exist without being documented.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.api.problem import HttpError, internal_error, problem_response
from simulator.errors import FieldError, SimError
from simulator.models.inputs import parse

if TYPE_CHECKING:
    from simulator.core.schedules import Schedules
    from simulator.core.simulator import Simulator

log = logging.getLogger("webhook_sim.api")
M = TypeVar("M", bound=BaseModel)
JSON_TYPES = ("application/json",)


@dataclass
class Api:
    """What handlers work with: the simulator, the schedules, and the OpenAPI document."""

    sim: Simulator
    schedules: Schedules
    openapi: dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One parsed request, as a handler sees it."""

    api: Api
    path: dict[str, str]
    body: Any = None
    query: Any = None

    @property
    def sim(self) -> Simulator:
        return self.api.sim


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    """One operation. `response` documents a JSON answer; `content` names another media type (or "" for 204)."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    content: str = "application/json"
    errors: tuple[int, ...] = ()
    public: bool = False
    description: str = ""

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")


async def read_json(request: Request) -> Any:
    """The request body as JSON: `{}` when empty; 415 for another media type, 400 when malformed."""
    raw = await request.body()
    if not raw.strip():
        return {}
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise HttpError(
            415,
            f"expected a JSON body (Content-Type: application/json), got {media or 'none'}",
            errors=[FieldError("body", "not JSON")],
        )
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        # Lone surrogates (`"\ud800"`) decode, but cannot be stored or echoed as UTF-8.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or type(exc).__name__
        raise HttpError(
            400, f"the body is not valid JSON: {message}", errors=[FieldError("body", f"invalid JSON: {message}")]
        ) from None
    return value


def parse_body(model: type[M], value: Any) -> M:
    """Validate a JSON body strictly (see `simulator.models.inputs.parse`)."""
    return parse(model, value, strict=True)


def _query(request: Request) -> dict[str, Any]:
    """The query parameters; a repeated one becomes a list, which every (single-valued) parameter refuses."""
    out: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def dispatch(endpoint: Endpoint, request: Request) -> Response:
    """Parse, call, serialise; every failure becomes a problem answer (never an unhandled 500)."""
    try:
        call = Call(
            api=request.app.state.api,
            path=dict(request.path_params),
            query=parse(endpoint.query, _query(request)) if endpoint.query else None,
        )
        if endpoint.body is not None:
            call = Call(call.api, call.path, parse_body(endpoint.body, await read_json(request)), call.query)
        result = await endpoint.handler(call)
    except SimError as exc:
        return problem_response(exc)
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return internal_error()
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=endpoint.status)
    return JSONResponse(result, status_code=endpoint.status)


def routes(endpoints: Sequence[Endpoint]) -> list[Route]:
    """One Starlette route per path, dispatching on the method, so a wrong method is a 405 naming all allowed."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for ep in endpoints:
        methods = by_path.setdefault(ep.path, {})
        if ep.method in methods:
            raise ValueError(f"{ep.method} {ep.path} declared twice")
        methods[ep.method] = ep
    return [Route(path, _by_method(methods), methods=list(methods)) for path, methods in by_path.items()]


def _by_method(methods: dict[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await dispatch(methods[method], request)

    return endpoint
