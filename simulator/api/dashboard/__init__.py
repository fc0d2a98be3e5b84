"""The dashboard: one page (`/`) and its static files (`/ui/…`), plain HTML, CSS and JavaScript modules with no
build step. It is a client of the control API like any other: every list, action and live update goes through the
documented routes (`GET /stream` for the live ones), with the user's bearer token when the server has one.

The page and its files hold no data, so they are served without the token; the page asks for it (and keeps it in
the tab's session storage only) when the server says one is needed. A Content-Security-Policy allows scripts and
styles from this origin alone, so text from hostile bodies and headers, which the page writes as text only,
cannot run even if it were ever written as markup.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulator import __version__
from simulator.api.problem import HttpError, problem_response

STATIC = Path(__file__).parent / "static"
PUBLIC_PATHS = frozenset({"/"})
PUBLIC_PREFIXES = ("/ui/",)
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_SECURITY = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidated by ETag: a new version is picked up at once
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def _assets() -> dict[str, Asset]:
    """Every file under `static/` but the page, by name (read once; the names are the only paths served)."""
    out = {}
    for path in sorted(STATIC.iterdir()):
        if path.suffix in _TYPES:
            body = path.read_bytes()
            out[path.name] = Asset(body, _TYPES[path.suffix], _etag(body))
    return out


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _answer(request: Request, asset: Asset) -> Response:
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers={"ETag": asset.etag, **_SECURITY})
    return Response(asset.body, media_type=asset.media_type, headers={"ETag": asset.etag, **_SECURITY})


def routes(*, token_required: bool) -> list[BaseRoute]:
    """The page at `/` (told whether the API wants a token) and its files at `/ui/<name>`."""
    html = (STATIC / "index.html").read_text()
    html = html.replace("{{auth}}", "bearer" if token_required else "none").replace("{{version}}", __version__)
    page = Asset(html.encode(), "text/html; charset=utf-8", _etag(html.encode()))

    async def index(request: Request) -> Response:
        return _answer(request, page)

    async def asset(request: Request) -> Response:
        found = _assets().get(request.path_params["name"])
        if found is None:
            return problem_response(HttpError(404, f"no dashboard file {request.path_params['name']!r}"))
        return _answer(request, found)

    return [Route("/", index, methods=["GET"]), Route("/ui/{name}", asset, methods=["GET"])]
