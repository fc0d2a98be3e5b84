"""The Basis Theory API twin's routes, under `/basistheory`: parse the request, call the backend
(`simulator.core.basistheory_api`), serialise. Point a Basis Theory SDK's base URL at `<server>/basistheory`.

Auth is the `BT-API-KEY` header; every refusal, an unknown route or method included, is Basis Theory's
ProblemDetails (`{type, title, status, detail, errors: {field: [message]}}`), never the control API's shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from simulator.api.problem import HttpError
from simulator.api.twins.headers import header_text
from simulator.core.basistheory_api import BasisTheoryBackend, backend
from simulator.ids import new_uuid4
from simulator.providers.basistheory import api

PROBLEM = "application/problem+json"
Handler = Callable[[Request, BasisTheoryBackend], Awaitable[Response]]


def problem(exc: api.ApiError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM, headers=headers)


def from_http(exc: HttpError) -> api.ApiError:
    """A refusal of the HTTP layer (a body over the size limit, a NUL in the query) as Basis Theory words it:
    its `errors` naming the field, and a value the query cannot take a 400, as every other query error here
    (Basis Theory's ASP.NET answers model validation with a 400 ValidationProblemDetails)."""
    errors: dict[str, list[str]] = {}
    for field in exc.errors:
        errors.setdefault(field.field, []).append(field.message)
    return api.ApiError(400 if exc.status == 422 else exc.status, exc.detail, errors)


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Check the key, run `handler` with the simulator's backend, answer refusals in the provider's shape."""

    @wraps(handler)
    async def run(request: Request) -> Response:
        bt = backend(request.app.state.api.sim)
        # Every request has a trace: the caller's BT-TRACE-ID, else one made here, so the events one call
        # publishes (a conversion's token.created and token-intent.converted) share it, and the answer names it.
        given = request.headers.get("bt-trace-id")
        trace = given or new_uuid4()
        request.state.trace_id = header_text(given) if given else trace
        try:
            key = request.headers.get("bt-api-key")
            bt.authenticate(header_text(key) if key is not None else None)
            response = await handler(request, bt)
        except api.ApiError as exc:
            response = problem(exc)
        except HttpError as exc:  # the body grew past the size limit as it was read: Basis Theory's shape still
            response = problem(from_http(exc))
        response.headers["BT-TRACE-ID"] = trace
        return response

    return run


def _trace(request: Request) -> str:
    trace: str = request.state.trace_id
    return trace


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if raw and media != "application/json" and not media.endswith("+json"):
        # As Basis Theory's API (ASP.NET) answers a body it has no reader for: a 415, not a guess at JSON.
        raise api.ApiError(415, f"the body must be JSON (Content-Type: application/json), not {media or 'untyped'}")
    return api.json_object(raw)


def _getter(kind: str, what: str) -> Handler:
    async def get(request: Request, bt: BasisTheoryBackend) -> Response:
        return JSONResponse(await bt.get(kind, request.path_params["id"], what))

    return get


# --- tokens and token intents ----------------------------------------------------------------------------


async def create_token(request: Request, bt: BasisTheoryBackend) -> Response:
    return JSONResponse(await bt.create_token(await _body(request), _trace(request)), status_code=201)


async def read_token(request: Request, bt: BasisTheoryBackend) -> Response:
    if request.method == "HEAD":  # its headers alone: no data read, so no `token.read`
        return JSONResponse(await bt.get("token", request.path_params["id"], "token"))
    return JSONResponse(await bt.read_token(request.path_params["id"], _trace(request)))


def _query(request: Request) -> QueryParams:
    """The query, each parameter in it once: Basis Theory's API takes each at most once in a request. The last of
    a repeated one was taken, an invalid one before it never seen (`size=abc&size=1` listed one token)."""
    query = request.query_params
    seen: set[str] = set()
    for name, _ in query.multi_items():
        if name in seen:
            raise api.invalid(name, "given more than once: each query parameter can appear at most once")
        seen.add(name)
    return query


async def list_tokens(request: Request, bt: BasisTheoryBackend) -> Response:
    query = _query(request)
    return JSONResponse(await bt.page("token", query.get("start"), query.get("size")))


async def create_intent(request: Request, bt: BasisTheoryBackend) -> Response:
    return JSONResponse(await bt.create_intent(await _body(request), _trace(request)), status_code=201)


def _deleter(kind: str) -> Handler:
    async def delete(request: Request, bt: BasisTheoryBackend) -> Response:
        await bt.delete(kind, request.path_params["id"], _trace(request))
        return Response(status_code=204)

    return delete


# --- webhooks --------------------------------------------------------------------------------------------


async def list_webhooks(request: Request, bt: BasisTheoryBackend) -> Response:
    """Cursor pages, as the tokens' list: `size` of them after `start` (how many came before), `next` while more
    remain (without it a `size` under the tenant's count hid the rest for good)."""
    query = _query(request)
    limit, skip = api.page_size(query.get("size")), api.decode_cursor(query.get("start"), "w") or 0
    every = await bt.webhooks()
    found = every[skip : skip + limit]
    pagination: dict[str, Any] = {"page_size": len(found)}
    if skip + limit < len(every):
        pagination["next"] = api.encode_cursor(skip + limit, "w")
    return JSONResponse({"pagination": pagination, "data": found})


async def create_webhook(request: Request, bt: BasisTheoryBackend) -> Response:
    return JSONResponse(await bt.create_webhook(await _body(request)), status_code=201)


async def get_webhook(request: Request, bt: BasisTheoryBackend) -> Response:
    return JSONResponse(await bt.webhook(request.path_params["id"]))


async def update_webhook(request: Request, bt: BasisTheoryBackend) -> Response:
    return JSONResponse(await bt.update_webhook(request.path_params["id"], await _body(request)))


async def delete_webhook(request: Request, bt: BasisTheoryBackend) -> Response:
    await bt.delete_webhook(request.path_params["id"])
    return Response(status_code=204)


async def event_types(request: Request, bt: BasisTheoryBackend) -> Response:
    return JSONResponse(bt.event_types())


async def webhook_key(request: Request) -> Response:
    """The public key that verifies `BT-SIGNATURE` (PEM), where Basis Theory publishes theirs; no key needed."""
    return PlainTextResponse(request.app.state.api.sim.public_key_pem)


class _Boundary:
    """Answer what the router itself refuses (no such route: 404, wrong method: 405) in the provider's shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path.endswith("/") and len(path) > 1:
            # Basis Theory's API (ASP.NET Core routing) takes `/tokens/` as `/tokens`: served as such, not
            # redirected (a redirected `DELETE /webhooks/` came back a 405 to a client that followed it).
            scope = {**scope, "path": path[:-1]}
        try:
            await self.app(scope, receive, send)
        except HTTPException as exc:
            detail = f"{scope.get('method', '')} {scope.get('path', '')}: {exc.detail}"
            await problem(api.ApiError(exc.status_code, detail), dict(exc.headers or {}))(scope, receive, send)


def _route(path: str, handlers: dict[str, Callable[[Request], Awaitable[Response]]]) -> Route:
    """One route for every method `path` serves: a route per method answered a 405 whose `Allow` named only the
    first one's methods (DELETE missing beside GET)."""

    async def dispatch(request: Request) -> Response:
        handler = handlers.get(request.method) or handlers["GET"]  # HEAD, which Starlette adds beside GET
        return await handler(request)

    return Route(path, dispatch, methods=list(handlers))


def routes() -> list[BaseRoute]:
    token, intent = endpoint(read_token), endpoint(_getter("token_intent", "token intent"))
    table = [
        Route("/keys/webhooks.v1.key", webhook_key, methods=["GET"]),
        # Test tenants verify with this one; the simulator has a single key, so both names serve it.
        Route("/keys/webhooks.v1-test.key", webhook_key, methods=["GET"]),
        Route("/tokens", endpoint(create_token), methods=["POST"]),
        Route("/v2/tokens", endpoint(list_tokens), methods=["GET"]),
        _route("/tokens/{id}", {"GET": token, "DELETE": endpoint(_deleter("token"))}),
        Route("/token-intents", endpoint(create_intent), methods=["POST"]),
        _route("/token-intents/{id}", {"GET": intent, "DELETE": endpoint(_deleter("token_intent"))}),
        Route("/3ds/sessions/{id}", endpoint(_getter("3ds_session", "3DS session")), methods=["GET"]),
        Route("/applications/{id}", endpoint(_getter("application", "application")), methods=["GET"]),
        Route("/reactors/{id}", endpoint(_getter("reactor", "reactor")), methods=["GET"]),
        Route("/proxies/{id}", endpoint(_getter("proxy", "proxy")), methods=["GET"]),
        Route("/webhooks/event-types", endpoint(event_types), methods=["GET"]),
        _route("/webhooks", {"GET": endpoint(list_webhooks), "POST": endpoint(create_webhook)}),
        _route(
            "/webhooks/{id}",
            {"GET": endpoint(get_webhook), "PUT": endpoint(update_webhook), "DELETE": endpoint(delete_webhook)},
        ),
    ]
    # No redirect of `/tokens/` to `/tokens`: `_Boundary` serves a path with a trailing slash as the one without.
    return [Mount("", app=_Boundary(Router(routes=table, redirect_slashes=False)))]
