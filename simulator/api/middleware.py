"""ASGI middleware of the control API: request ids and the access log, the refusal of what a browser sends from
another site (and of a foreign Host on loopback), bearer-token auth, the body size limit, NUL in a path or query.

Each answers its own refusals as problem documents, so every non-2xx the server sends has the same form.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.api.access_log import request_id
from simulator.api.problem import (
    BodyTooLarge,
    HttpError,
    internal_error,
    problem_response,
    unauthorized,
    unreachable_store,
)
from simulator.digits import is_digits, whole
from simulator.errors import FieldError

log = logging.getLogger("webhook_sim.api")
Refusal = Callable[[Scope, HttpError], ASGIApp | None]
access = logging.getLogger("webhook_sim.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# An oversized body is read and discarded up to this many bytes so the client gets the 413 rather than a
# reset connection; past it the server stops reading.
DRAIN_LIMIT = 64 * 1024 * 1024
# The access log's status for a request whose client disconnected before it was answered (nginx's 499).
CLIENT_CLOSED = 499
STOPPING = "the server stopped before this request's end: what it did stands, the rest was not done; ask again"
# Methods a browser sends cross-site without asking (and that change nothing here): no Origin check on them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# `--allowed-host all`: every Host is answered, as off loopback (a tunnel whose public names change).
ALL_HOSTS = "all"
# A host name as a Host header carries it: labels of letters, digits, hyphens and underscores (Docker's service
# names have them), dot-separated, lower case.
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*")


def is_host_name(name: str) -> bool:
    return len(name) <= 253 and _HOST_NAME.fullmatch(name) is not None


DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class RequestContext:
    """Give each request an id (the caller's `X-Request-ID` when sane), echo it, log one access line, and turn
    anything unexpected into a 500 problem."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        state = {"status": 500, "sent": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["sent"] = message["status"], True
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away before its request was read: nothing to answer, nothing broken here.
            state["status"] = CLIENT_CLOSED
            log.info("client disconnected before sending the whole request: %s %s", scope["method"], scope["path"])
        except asyncio.CancelledError:
            # The only cancel a request's task gets: the server stopping, its graceful time spent (a redeliver
            # of tens of thousands of dead deliveries). Answered 503, not a 500 and a traceback; what the request
            # did stands, what it had not reached is as it was. The task ends here, as the server has let it go.
            state["status"] = 503
            log.warning("the server stopped before the end of %s %s", scope["method"], scope["path"])
            if not state["sent"]:
                stopping = HttpError(503, STOPPING, headers={"Retry-After": "5"})
                await problem_response(stopping)(scope, receive, send_with_id)
        except Exception as error:
            unavailable = unreachable_store(error, f"{scope['method']} {scope['path']}")
            if unavailable is not None:
                if not state["sent"]:
                    await unavailable(scope, receive, send_with_id)
            else:
                log.exception("unexpected error in %s %s", scope["method"], scope["path"])
                if not state["sent"]:
                    await internal_error()(scope, receive, send_with_id)
        finally:
            duration = round((time.perf_counter() - started) * 1000, 2)
            access.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                state["status"],
                duration,
                extra={
                    "request_id": rid,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": state["status"],
                    "duration_ms": duration,
                },
            )
            request_id.reset(token)


class SameSite:
    """Refuse what a browser sends on another site's behalf, and, on a loopback server, a Host that no local
    client uses.

    Without a token any page the developer opens could change the server with a "simple" request (a form post,
    a `no-cors` fetch), which a browser sends cross-site without asking: a browser marks those (`Origin`,
    `Sec-Fetch-Site`), so a request whose method may change something is refused when its marks name another
    site. Clients that are not browsers send neither header and pass. A page can also rebind its own name to
    127.0.0.1 and then read this server as its own origin: its requests still carry that name as `Host`, so on
    loopback only `localhost`, `*.localhost` and IP addresses are answered (as Jupyter and webpack-dev-server do).
    """

    def __init__(
        self, app: ASGIApp, loopback: bool, shaped: Refusal | None = None, allowed_hosts: Sequence[str] = ()
    ) -> None:
        self.app = app
        # The server listens on a loopback address only, and no `--allowed-host all` lifted the Host check.
        self.loopback = loopback and ALL_HOSTS not in allowed_hosts
        self.shaped = shaped  # the refusal in the shape of the API the path belongs to (a twin's), if not ours
        # Names a local reverse proxy or tunnel passes on (`--allowed-host`): a leading dot takes the subdomains.
        self.allowed = tuple(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        error = _foreign_host(host, self.allowed) if self.loopback and host is not None else None
        if error is None and scope["method"] not in SAFE_METHODS:
            error = _cross_site(headers, _own_origin(scope, host))
        if error is None:
            await self.app(scope, receive, send)
            return
        shaped = self.shaped(scope, error) if self.shaped is not None else None
        await (shaped or problem_response(error))(scope, receive, send)


def _refusal(status: int, title: str, detail: str, field: str, message: str) -> HttpError:
    error = HttpError(status, detail, errors=[FieldError(field, message)])
    error.title = title
    return error


def _split_host(value: str) -> tuple[str, str]:
    """`host[:port]` (a v6 address in brackets) as its lowercased host name, brackets off, and its port text."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else rest
    name, _, port = value.partition(":")
    return name.rstrip("."), port


def host_allowed(name: str, allowed: Sequence[str]) -> bool:
    """Whether the host name `name` (lowercased, no trailing dot) is one of `allowed`: a name as given, or, for
    an entry with a leading dot (`.example.test`), that name and every name under it (as Vite's allowedHosts)."""
    for entry in allowed:
        if name == entry or (entry.startswith(".") and (name == entry[1:] or name.endswith(entry))):
            return True
    return False


def _foreign_host(host: str, allowed: Sequence[str] = ()) -> HttpError | None:
    """A 421 when `host` names neither localhost, an IP address nor an allowed name: what a page on a rebound name
    would send."""
    name, _ = _split_host(host)
    if name == "localhost" or name.endswith(".localhost") or host_allowed(name, allowed):
        return None
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    return _refusal(
        421,
        "Misdirected request",
        f"Host {host!r} is not a name of this server: listening on a loopback address, it answers only to "
        "`localhost`, `*.localhost`, IP addresses and the names given with --allowed-host, so that a page whose "
        "name was rebound to this machine cannot read it. Behind a local reverse proxy or tunnel, start it with "
        f"--allowed-host {name if is_host_name(name) else 'NAME'}",
        "Host",
        "not localhost, a *.localhost name, an IP address or an --allowed-host name",
    )


def _own_origin(scope: Scope, host: str | None) -> tuple[str, str, int] | None:
    """This request's own scheme, host and port, from its Host header (else the address it reached)."""
    scheme = scope.get("scheme", "http")
    if host is not None:
        name, port = _split_host(host)
    elif scope.get("server"):
        name, port = str(scope["server"][0]).lower(), str(scope["server"][1])
    else:
        return None
    if not port:
        return scheme, name, DEFAULT_PORTS.get(scheme, 80)
    number = whole(port, 5)
    return (scheme, name, number) if number is not None else None


def _origin(value: str) -> tuple[str, str, int] | None:
    """An `Origin` header's scheme, host and port; None for `null` (an opaque origin) or one that does not parse."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        return None
    return scheme, parts.hostname.rstrip("."), port if port is not None else DEFAULT_PORTS.get(scheme, 80)


def _cross_site(headers: Headers, own: tuple[str, str, int] | None) -> HttpError | None:
    """A 403 when the browser's marks say the request comes from a page of another site."""
    origin = headers.get("origin")
    site = headers.get("sec-fetch-site", "").strip().lower()
    if origin is not None and (own is None or _origin(origin) != own):
        detail = f"this request comes from a page of another origin (Origin: {origin})"
        field, message = "Origin", "not this server's origin"
    elif site == "cross-site":
        detail = "this request comes from a page of another site (Sec-Fetch-Site: cross-site)"
        field, message = "Sec-Fetch-Site", "cross-site"
    else:
        return None
    return _refusal(
        403,
        "Forbidden",
        f"{detail}: a change is taken only from this server's own pages (the same Origin) and from clients that "
        "send no Origin header (curl, the CLI, SDKs), so that a web page cannot drive the simulator",
        field,
        message,
    )


class BearerAuth:
    """With a token configured, every path but the public ones needs `Authorization: Bearer <token>`."""

    def __init__(
        self, app: ASGIApp, token: str | None, public: Collection[str] = (), public_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.public = frozenset(public)
        self.prefixes = public_prefixes  # provider twins: their own auth applies, not this token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.token is None
            or scope["path"] in self.public
            or scope["path"].startswith(self.prefixes)
        ):
            await self.app(scope, receive, send)
            return
        # The raw bytes: a token is compared as given, whatever its encoding.
        value = next((v for k, v in scope["headers"] if k.lower() == b"authorization"), b"")
        scheme, _, given = value.strip().partition(b" ")
        if not value:
            problem = unauthorized("this server needs `Authorization: Bearer <token>`")
        elif scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
            problem = unauthorized("the bearer token is wrong")
        else:
            await self.app(scope, receive, send)
            return
        await problem_response(problem)(scope, receive, send)


class NoNul:
    """Answer a NUL character (`%00`) in the path or the query before any read looks for it: no id, name or text
    the server keeps can hold one (PostgreSQL refuses it in text, and such a read answered 500). In the path it is
    a 404, as an id that names nothing; in the query a 422 naming the parameter, as any value it cannot take (a
    twin answers it as it answers such a value: a 400, in its own shape)."""

    def __init__(self, app: ASGIApp, shaped: Refusal | None = None) -> None:
        self.app = app
        self.shaped = shaped  # the refusal in the shape of the API the path belongs to (a twin's), if not ours

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _nul_in(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        message = "holds a NUL character (%00), which no id or text here can hold"
        status, title = (404, "Not found") if where == "path" else (422, "Invalid input")
        error = _refusal(status, title, f"{where} {message}", where, message)
        shaped = self.shaped(scope, error) if self.shaped is not None else None
        await (shaped or problem_response(error))(scope, receive, send)


def _nul_in(scope: Scope) -> str | None:
    """`path`, or the name of the first query parameter whose name or value holds NUL; None where none does."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return "query" if "\x00" in name else name
    return None


class BodyLimit:
    """Refuse bodies over `limit` bytes with a 413: by Content-Length up front, and by counting what arrives."""

    def __init__(self, app: ASGIApp, limit: int, shaped: Refusal | None = None) -> None:
        self.app = app
        self.limit = limit
        self.shaped = shaped  # the refusal in the shape of the API the path belongs to (a twin's), if not ours

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        size = whole(declared) if declared is not None else None
        if declared is not None and (size is None or size > self.limit):
            error = BodyTooLarge(self.limit) if is_digits(declared) else HttpError(400, "bad Content-Length")
            if size is not None and size <= DRAIN_LIMIT:
                await _drain(receive, size)
            shaped = self.shaped(scope, error) if self.shaped is not None else None
            await (shaped or problem_response(error))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    if message.get("more_body", False):
                        await _drain(receive, DRAIN_LIMIT - received)
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


async def _drain(receive: Receive, budget: int) -> None:
    """Read and discard the rest of a request body (at most `budget` bytes)."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return
