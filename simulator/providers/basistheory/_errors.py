"""The two shapes of error a `proxy.invoked` event carries: problem details, or a reactor's custom error.

They appear in `proxy.response.error` and in the request and response transforms' `response.error`. The proxy
itself fails only with problem details (authentication); a transform, being reactor code, fails either way.
"""

from __future__ import annotations

import random
from typing import Any

Problem = tuple[dict[str, list[str]], str, int, str]  # errors, title, status, detail

# A proxy that requires authentication refuses a request without a valid key before calling anything.
AUTHENTICATION_ERROR: Problem = (
    {"error": ["BT-API-KEY header is required"]},
    "One or more validation errors occurred.",
    401,
    "Authentication Failed",
)
# What a transform's validation or runtime reports.
STANDARD_ERRORS: tuple[Problem, ...] = (
    (
        {"card.number": ["The card number is not a valid credit card number."]},
        "One or more validation errors occurred.",
        400,
        "Bad Request",
    ),
    (
        {"amount": ["The amount must be greater than zero."]},
        "One or more validation errors occurred.",
        422,
        "Unprocessable Entity",
    ),
    ({"error": ["Reactor returned an invalid response"]}, "Reactor Runtime Error", 500, "Invalid Reactor Response"),
)
# body, headers, status
CUSTOM_ERRORS: tuple[tuple[dict[str, str], dict[str, str], int], ...] = (
    ({"error": "card_declined", "message": "Your card was declined."}, {"X-Error-Code": "card_declined"}, 402),
    (
        {"code": "invalid_request", "message": "Missing required field: amount"},
        {"X-Error-Code": "invalid_request", "Retry-After": "0"},
        400,
    ),
    ({"myCustomError": "Partner API rejected the request"}, {"Custom-Response-Header-1": "partner-rejected"}, 422),
)


def problem(entry: Problem) -> tuple[dict[str, Any], int]:
    """A problem-details error `{errors, title, status, detail}` and its HTTP status."""
    errors, title, status, detail = entry
    return {
        "errors": {k: list(msgs) for k, msgs in errors.items()},
        "title": title,
        "status": status,
        "detail": detail,
    }, status


def standard_error(rng: random.Random) -> tuple[dict[str, Any], int]:
    """A transform's problem-details error and its HTTP status."""
    return problem(STANDARD_ERRORS[int(rng.random() * len(STANDARD_ERRORS))])


def custom_error(rng: random.Random) -> tuple[dict[str, Any], int]:
    """A custom error `{body, headers}` as a reactor returns it, and its HTTP status."""
    body, headers, status = CUSTOM_ERRORS[int(rng.random() * len(CUSTOM_ERRORS))]
    return {"body": dict(body), "headers": dict(headers)}, status


def transform_error(rng: random.Random) -> tuple[dict[str, Any], int]:
    """How a request or response transform fails: either shape, as likely."""
    return standard_error(rng) if rng.random() < 0.5 else custom_error(rng)
