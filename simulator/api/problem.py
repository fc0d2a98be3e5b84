"""Errors as RFC 9457 `application/problem+json` answers, and the HTTP-only errors the core never raises."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulator.errors import FieldError, SimError, StoreUnavailable
from simulator.store import postgres

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
}


class HttpError(SimError):
    """An error of the HTTP layer (bad framing, bad media type, bad credentials) with its own status."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail, errors=errors)
        self.status = status
        self.title = _TITLES.get(status, "Error")
        self.headers = dict(headers or {})


class BodyTooLarge(HttpError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"the request body is larger than {limit} bytes", errors=[FieldError("body", f"at most {limit} bytes")]
        )


def unauthorized(detail: str) -> HttpError:
    return HttpError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="webhook-sim"'})


def problem_response(exc: SimError) -> Response:
    """The answer for a SimError: its problem document, its status, and any headers it needs."""
    headers = getattr(exc, "headers", None)
    return JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM_JSON, headers=headers)


def internal_error() -> Response:
    body = {
        "type": "about:blank",
        "title": "Internal error",
        "status": 500,
        "detail": "an unexpected error occurred; it has been logged",
    }
    return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)


async def http_exception(_request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) in the same problem form."""
    assert isinstance(exc, HTTPException)
    detail = {404: "no such route", 405: "this route does not accept that method"}.get(exc.status_code, exc.detail)
    return problem_response(HttpError(exc.status_code, detail, headers=exc.headers))


async def sim_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SimError)
    return problem_response(exc)


def unreachable_store(error: BaseException, where: str) -> Response | None:
    """A 503 with Retry-After when `error` says the store cannot be reached now (its database restarting: asked
    again later, the answer comes), said in the log as a warning; None for any other error, which is a fault."""
    if not postgres.unreachable(error):
        return None
    logging.getLogger("webhook_sim.api").warning("the store cannot be reached in %s: %s", where, error)
    return problem_response(StoreUnavailable(f"the store cannot be reached now: {type(error).__name__}"))
