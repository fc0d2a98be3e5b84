"""How the Syncfy twin reads requests and writes answers: the auth styles, the method override the official
Python SDK sends, parameters from the query or the JSON body, and Syncfy's envelope on every answer (errors
included) with `Request-ID` equal to its `rid`."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import Receive, Scope, Send

from simulator import json_input
from simulator.api.twins.headers import header_text
from simulator.core.syncfy import SyncfyTwin, twin
from simulator.core.syncfy_api import Caller
from simulator.errors import SimError
from simulator.providers.syncfy import api

log = logging.getLogger("webhook_sim.api")
METHODS = ("GET", "POST", "PUT", "DELETE")
JSON = "application/json; charset=utf-8"
STREAM_CHUNK = 250  # rows per chunk of a streamed list


class TwinError(SimError):
    """An error only the HTTP layer sees (a bad body, an unknown route), with its own status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass
class Ctx:
    """One parsed request, as a handler sees it."""

    request: Request
    twin: SyncfyTwin
    method: str
    params: dict[str, Any]
    given: api.Given
    path: dict[str, str] = field(default_factory=dict)

    async def caller(self, *, key_only: bool = False) -> Caller:
        return await self.twin.backend.authenticate(self.given, self.params, key_only=key_only)

    def base(self, scheme: str | None = None) -> str:
        """The twin's base URL as the caller reached it (`http://host:port/syncfy`)."""
        url = self.request.url
        return f"{scheme or url.scheme}://{url.netloc}{self.request.scope.get('root_path', '')}"


Handler = Callable[[Ctx], Awaitable[Any]]


def rid() -> str:
    return str(uuid.uuid4())


def answer(code: int, response: Any = None, message: str | None = None) -> Response:
    """An envelope answer; `code` is also the HTTP status."""
    request_id = rid()
    body = json.dumps(api.envelope(request_id, code, response, message), ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=code, media_type=JSON, headers={"Request-ID": request_id})


def stream(rows: Iterator[str]) -> Response:
    """A 200 envelope whose `response` list is written row by row (a page's rows are never all in memory)."""
    request_id = rid()
    head = f'{{"rid":"{request_id}","code":200,"errors":null,"status":true,"message":null,"response":['

    async def chunks() -> AsyncIterator[bytes]:
        yield head.encode()
        first = True
        batch: list[str] = []
        for row in rows:
            batch.append(row)
            if len(batch) == STREAM_CHUNK:
                yield (("" if first else ",") + ",".join(batch)).encode()
                first, batch = False, []
        if batch:
            yield (("" if first else ",") + ",".join(batch)).encode()
        yield b"]}"

    return StreamingResponse(chunks(), media_type=JSON, headers={"Request-ID": request_id})


def error(exc: SimError) -> Response:
    """A SimError as Syncfy answers errors: 401, 404, 400 for bad input, else the error's own status."""
    code = {401: 401, 404: 404, 422: 400}.get(exc.status, exc.status)
    return answer(code, None, "Unauthorized" if code == 401 else exc.detail)


async def _read(request: Request) -> tuple[str, dict[str, Any]]:
    """The effective method and the parameters: the query's, then the JSON body's over them."""
    method = request.method
    override = request.headers.get("x-http-method-override")
    if override is not None:
        if method != "POST" or override.upper() not in METHODS:
            raise TwinError(400, "X-Http-Method-Override must be GET, POST, PUT or DELETE, on a POST")
        method = override.upper()
    params: dict[str, Any] = dict(request.query_params.items())
    raw = await request.body()
    if raw.strip():
        try:
            body = json_input.loads(raw, json_input.finite_float)
        except json_input.NotJson as exc:
            raise TwinError(400, f"the body is not valid JSON: {exc}") from None
        if isinstance(body, dict):
            params.update(body)
        elif body is not None:
            raise TwinError(400, "the body must be a JSON object")
    return method, params


def _given(request: Request, params: dict[str, Any]) -> api.Given:
    """The key or token: from the Authorization header, else the `api_key` / `token` parameter."""
    key, token = params.pop("api_key", None), params.pop("token", None)
    header = request.headers.get("authorization")
    if not header:
        return api.Given(key=_text(key), token=_text(token))
    given = api.parse_authorization(header_text(header))
    if given.key is not None and given.id_user is not None:
        # The user an API key acts for, as `id_user` names it in the query or body: every route reads it there
        # (the PHP SDK moves it from the body into the header).
        named = params.get("id_user")
        if named not in (None, "") and named != given.id_user:
            raise TwinError(400, "id_user differs between the Authorization header and the parameters")
        params["id_user"] = given.id_user
    return given


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def keyed(handler: Handler) -> Handler:
    """`handler` behind the API key (users, sessions and webhooks take no session token)."""

    async def checked(ctx: Ctx) -> Any:
        await ctx.caller(key_only=True)
        return await handler(ctx)

    checked.__name__ = handler.__name__
    return checked


def route(path: str, handlers: Mapping[str, Handler]) -> BaseRoute:
    """One path of the twin: every method reaches it, the effective one (override included) picks the handler."""

    async def endpoint(request: Request) -> Response:
        try:
            method, params = await _read(request)
            handler = handlers.get(method)
            if handler is None:
                raise TwinError(405, f"{method} is not allowed on {path}")
            sim = request.app.state.api.sim
            ctx = Ctx(request, twin(sim), method, params, _given(request, params), dict(request.path_params))
            result = await handler(ctx)
        except SimError as exc:
            return error(exc)
        except ClientDisconnect:
            raise  # the client went before its body did: `middleware.RequestId` logs it, as for every route
        except Exception:
            log.exception("unexpected error in the Syncfy twin: %s %s", request.method, request.url.path)
            return answer(500, None, "Internal Server Error")
        return result if isinstance(result, Response) else answer(200, result)

    return Route(path, _AnyMethod(endpoint))


def fallback() -> BaseRoute:
    """Any other path under the twin: Syncfy's 404."""

    async def endpoint(request: Request) -> Response:
        return answer(404, None, f"no route {request.method} {request.url.path}")

    return Route("/{rest:path}", _AnyMethod(endpoint))


class _AnyMethod:
    """An endpoint that every method reaches, so the twin answers each (405 for what a path lacks) in its
    envelope. Starlette gives a function endpoint GET alone unless told its methods, and a method left out of the
    list (TRACE, PROPFIND) got the control API's problem document instead."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self._app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
