"""Routes of the server itself: health, the OpenAPI document, the public signing key, reset."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from simulator import __version__
from simulator.api.endpoints import Call, Endpoint
from simulator.models import answers as schemas


async def health(_call: Call) -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


async def openapi(call: Call) -> Response:
    return JSONResponse(await call.api.openapi())


async def public_key(call: Call) -> Response:
    return Response(call.sim.public_key_pem, media_type="application/x-pem-file")


async def reset(call: Call) -> None:
    await call.sim.reset(first=call.api.schedules.clear)


ENDPOINTS = [
    Endpoint("GET", "/health", health, "Is the server up", "server", response=schemas.Health, public=True),
    Endpoint("GET", "/openapi.json", openapi, "This document", "server"),
    Endpoint(
        "GET",
        "/keys/webhooks.pem",
        public_key,
        "The public key of Basis Theory signatures (PEM)",
        "server",
        content="application/x-pem-file",
        public=True,
        description="Public material, served without a token: configure it in consumers that verify `BT-SIGNATURE`.",
    ),
    Endpoint(
        "POST",
        "/reset",
        reset,
        "Forget everything",
        "server",
        status=204,
        content="",
        description="Runs stop; subscriptions, deliveries, runs, events and schedules are deleted.",
    ),
]
