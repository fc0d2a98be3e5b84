"""ASGI middleware of the control API: request ids and the access log, bearer-token auth, the body size limit.

Each answers its own refusals as problem documents, so every non-2xx the server sends has the same form.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection

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

log = logging.getLogger("webhook_sim.api")
Refusal = Callable[[Scope, HttpError], ASGIApp | None]
access = logging.getLogger("webhook_sim.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# An oversized body is read and discarded up to this many bytes so the client gets the 413 rather than a
# reset connection; past it the server stops reading.
DRAIN_LIMIT = 64 * 1024 * 1024
# The access log's status for a request whose client disconnected before it was answered (nginx's 499).
CLIENT_CLOSED = 499


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
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            error = BodyTooLarge(self.limit) if declared.isdigit() else HttpError(400, "bad Content-Length")
            if declared.isdigit() and int(declared) <= DRAIN_LIMIT:
                await _drain(receive, int(declared))
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
