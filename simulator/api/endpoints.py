"""The route table's vocabulary: an `Endpoint` declares what a route takes and answers, and `dispatch` parses a
request accordingly, calls the handler and serialises what it returns.

The same declarations build the Starlette routes, the OpenAPI document and the tests' route table, so a route
cannot exist without being documented.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import UnionType
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator import json_input
from simulator.api.problem import HttpError, internal_error, problem_response, unreachable_store
from simulator.digits import is_digits
from simulator.errors import FieldError, InvalidInput, SimError, quoted
from simulator.models.inputs import parse
from simulator.scenarios.model import Scenario
from simulator.turns import in_turns, reading

if TYPE_CHECKING:
    from simulator.core.schedules import Schedules
    from simulator.core.simulator import Simulator

log = logging.getLogger("webhook_sim.api")
M = TypeVar("M", bound=BaseModel)
JSON_TYPES = ("application/json",)


@dataclass
class Api:
    """What handlers work with: the simulator, the schedules, and the OpenAPI document, which `describe` builds
    for the scenarios in the simulator's folders (again when they change: it states each one's parameters)."""

    sim: Simulator
    schedules: Schedules
    describe: Callable[[Mapping[str, Scenario]], dict[str, Any]]
    _described: tuple[tuple[int, ...], dict[str, Any]] | None = None
    # Set as the server begins to stop: the event streams end (see `routes_stream`).
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def openapi(self) -> dict[str, Any]:
        """The document, built off the event loop (0.2 s on a quick day, again when a scenario changes)."""
        scenarios, _errors = await self.sim.scenarios()
        key = tuple(id(s) for s in scenarios.values())  # discovery keeps its objects while no file changes
        if self._described is None or self._described[0] != key:
            self._described = (key, await asyncio.to_thread(self.describe, scenarios))
        return self._described[1]


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

    @property
    def paced(self) -> bool:
        """A read of the store that waits for nothing else: it takes turns with the other readers (see
        `simulator.turns`). The health check never waits, and a stream holds its response open."""
        return self.method == "GET" and self.content == "application/json" and self.path != "/health"


async def read_json(request: Request) -> Any:
    """The request body as JSON: `{}` when empty; 415 for another media type or none, 400 when malformed."""
    raw = await request.body()
    if not raw.strip():
        return {}
    given = request.headers.get("content-type")
    if given is None:
        # Not read as JSON: a page of any site can post a body without a Content-Type (a `no-cors` fetch of a
        # Blob) and no browser asks this server first, whereas a JSON Content-Type makes it ask.
        raise HttpError(
            415,
            "the body has no Content-Type: send it as JSON with `Content-Type: application/json`",
            errors=[FieldError("body", "no Content-Type given")],
        )
    media = given.split(";")[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise HttpError(
            415,
            f"expected a JSON body (Content-Type: application/json), got {media or 'none'}",
            errors=[FieldError("body", "not JSON")],
        )
    try:
        value = json_input.loads(raw, parse_float=_number, unique_keys=True)  # a lone surrogate (`"\ud800"`) too
    except json_input.RepeatedKey as exc:
        raise InvalidInput(str(exc), errors=[FieldError(exc.field, "given more than once")]) from None
    except json_input.NotJson as exc:
        message = str(exc)
        raise HttpError(
            400, f"the body is not valid JSON: {message}", errors=[FieldError("body", f"invalid JSON: {message}")]
        ) from None
    where = _non_finite(value)
    if where is not None:  # `1e309` is JSON, but Python reads it as infinity: no field takes it, none may store it
        field = ".".join(where) or "body"
        raise InvalidInput(
            f"{field}: a number a double cannot hold (past 1.8e308, or so small it would read as 0)",
            errors=[FieldError(field, "number out of range")],
        )
    return value


def _non_finite(value: Any) -> tuple[str, ...] | None:
    """The path of a number in `value` that is not finite, if any (iteratively: JSON nests as deep as the
    parser allows)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return path
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((item, (*path, str(key))) for key, item in reversed(list(items)))
    return None


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


def _parsed_query(endpoint: Endpoint, request: Request) -> Any:
    """The route's query model, parsed; a route that takes none refuses any, as the list routes refuse one they do
    not take: ignored, `PATCH /subscriptions/{id}?enabled=false` answered 200 and changed nothing."""
    given = _query(request)
    if endpoint.query is not None:
        _whole_numbers(endpoint.query, given)
        return parse(endpoint.query, given)
    if given:
        name = next(iter(given))
        message = "Extra inputs are not permitted"
        raise InvalidInput(
            f"{name}: {endpoint.method} {endpoint.path} takes no query parameters", errors=[FieldError(name, message)]
        )
    return None


def _whole_numbers(model: type[BaseModel], given: Mapping[str, Any]) -> None:
    """Refuse a whole-number parameter not written in the digits 0-9: pydantic reads `1_0`, `+3` and ` 2` as
    integers, which the document's `type: integer` does not take, nor the CLI's options."""
    for name, spec in model.model_fields.items():
        key = spec.alias or name
        value = given.get(key)
        if isinstance(value, str) and _takes_int(spec.annotation) and not is_digits(value.removeprefix("-")):
            message = "expected a whole number written in the digits 0-9"
            raise InvalidInput(f"{key}: {quoted(value)}: {message}", errors=[FieldError(key, message)])


def _takes_int(annotation: Any) -> bool:
    """Whether a field is an int, or an int or None."""
    return annotation is int or (get_origin(annotation) in (Union, UnionType) and int in get_args(annotation))


def _number(text: str) -> float | int:
    """A JSON number written with a fraction or an exponent. JSON has one number type, and JSON Schema counts
    `56.0` as an integer: so does the API (an integer field takes it). Non-finite results (`1e309`) are
    refused by `read_json`, and so is a number too small to be told from 0 (`1e-400`), read as NaN here: taken
    as 0 it turned a speed of 1e-400 into speed 0, which no caller asked for."""
    number = float(text)
    if json_input.lost_to_zero(text, number):
        return math.nan
    return int(number) if number.is_integer() else number


async def dispatch(endpoint: Endpoint, request: Request) -> Response:
    """Parse, call, serialise; every failure becomes a problem answer (never an unhandled 500)."""
    try:
        call = Call(
            api=request.app.state.api,
            path=dict(request.path_params),
            query=_parsed_query(endpoint, request),
        )
        if endpoint.body is not None:
            call = Call(call.api, call.path, parse_body(endpoint.body, await read_json(request)), call.query)
        if endpoint.paced:
            async with reading():
                return await _answer_in_turns(endpoint, await endpoint.handler(call))
        result = await endpoint.handler(call)
    except SimError as exc:
        return problem_response(exc)
    except ClientDisconnect:
        raise  # nobody to answer: the access log records it (RequestContext)
    except Exception as error:
        if (unavailable := unreachable_store(error, f"{request.method} {request.url.path}")) is not None:
            return unavailable
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return internal_error()
    return _answer(endpoint, result)


async def _answer_in_turns(endpoint: Endpoint, result: Any) -> Response:
    """`_answer` for a read: a page's items are written as JSON a few per step (see `simulator.turns`), the same
    bytes as one `JSONResponse` would write, since `data` is a page's first key."""
    if not (isinstance(result, dict) and isinstance(result.get("data"), list) and next(iter(result)) == "data"):
        return _answer(endpoint, result)
    items = await in_turns(result["data"], _json)
    rest = _json({**result, "data": []}).removeprefix('{"data":[')
    body = '{"data":[' + ",".join(items) + rest
    return Response(body.encode(), status_code=endpoint.status, media_type="application/json")


def _json(value: Any) -> str:
    """JSON as Starlette's `JSONResponse` writes it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def _answer(endpoint: Endpoint, result: Any) -> Response:
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
