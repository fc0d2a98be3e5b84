"""The providers' own REST APIs, mounted beside the control API: `/syncfy/v1/…` and `/basistheory/…`.

They answer with the provider's auth, envelope, errors and pagination (never the control API's problem+json),
read the same world the emitter writes, and can start flows that emit events, as the real provider does.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Scope

from simulator import http_guard
from simulator.api.problem import HttpError
from simulator.api.twins import basistheory, syncfy
from simulator.api.twins.syncfy import _http as syncfy_http
from simulator.providers.basistheory import api as bt_api

# Paths under these belong to a provider twin: the control API's bearer token does not apply there.
PREFIXES = ("/syncfy/", "/basistheory/")


def refusal(scope: Scope, error: HttpError) -> Response | None:
    """A refusal made before a twin saw the request (a body over the size limit, a NUL in the query, a foreign
    Host), in that twin's own shape, the field it names kept: a provider's SDK reads its error shape, and Syncfy's
    read a problem document as a broken answer. None for a path of the control API."""
    path = scope.get("path", "")
    if path.startswith("/syncfy/"):
        return syncfy_http.error(error)
    if path.startswith("/basistheory/"):
        return basistheory.problem(basistheory.from_http(error), dict(error.headers or {}))
    return None


def unparsable(path: str, part: str, reason: str) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]] | None:
    """A request the HTTP parser refused, under a twin's path, in that twin's shape (see `http_guard.UNPARSABLE`);
    None for a path of the control API."""
    if path.startswith("/syncfy/"):
        response = syncfy_http.answer(400, None, f"the request is not valid HTTP/1.1: {reason} ({part})")
    elif path.startswith("/basistheory/"):
        response = basistheory.problem(bt_api.invalid(part, reason))
    else:
        return None
    kept = [(name, value) for name, value in response.raw_headers if name not in (b"content-type", b"content-length")]
    return response.headers["content-type"].encode("latin-1"), bytes(response.body), kept


http_guard.UNPARSABLE.append(unparsable)


def mounts() -> list[Mount]:
    # Routers, not Starlette apps: `request.app` stays the control API's app, whose state holds the simulator.
    return [Mount("/syncfy", routes=syncfy.routes()), Mount("/basistheory", routes=basistheory.routes())]
