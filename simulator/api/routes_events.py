"""Routes of the event catalog (types, samples, schemas) and of emitting one event now."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from simulator import catalog
from simulator.api import views
from simulator.api.endpoints import Call, Endpoint
from simulator.api.openapi_catalog import event_type_keys
from simulator.core.pagination import checked_cursor, split_page
from simulator.models import answers as schemas
from simulator.models.inputs import EventSpec


async def list_event_types(call: Call) -> dict[str, Any]:
    q: schemas.EventsQuery = call.query
    cursor = checked_cursor(q.cursor, lambda c: c in event_type_keys())  # an event type's key
    types = [e for e in catalog.event_types(q.provider) if cursor is None or e.key > cursor]
    shown, cursor = split_page(types, q.limit, lambda e: e.key)
    return views.page([views.event_type(e) for e in shown], cursor)


async def sample(call: Call) -> Response:
    q: schemas.SampleQuery = call.query
    return Response(catalog.sample(call.path["type"], q.seed), media_type="application/json")


async def schema(call: Call) -> Response:
    return JSONResponse(catalog.schema(call.path["type"]), media_type="application/schema+json")


async def emit(call: Call) -> dict[str, Any]:
    spec: EventSpec = call.body
    skipped = []
    if spec.subscriptions is not None and spec.target is None:
        skipped = await call.sim.subscriptions.passed_over(catalog.resolve(spec.type), spec.subscriptions)
    event, deliveries = await call.sim.emit(spec)
    return views.emitted(event, deliveries, skipped)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/events",
        list_event_types,
        "List the event types of every provider",
        "events",
        query=schemas.EventsQuery,
        response=schemas.EventTypePage,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/events/{type}/sample",
        sample,
        "The exact body a subscriber receives for one event",
        "events",
        query=schemas.SampleQuery,
        errors=(404, 422),
        description="Envelope included; the same seed gives the same bytes. `type` is `provider:type`, "
        "the bare type where unambiguous, or an alias.",
    ),
    Endpoint(
        "GET",
        "/events/{type}/schema",
        schema,
        "The JSON Schema of that body",
        "events",
        content="application/schema+json",
        errors=(404, 422),
    ),
    Endpoint(
        "POST",
        "/events",
        emit,
        "Emit one event now",
        "events",
        status=202,
        body=EventSpec,
        response=schemas.EmittedEvent,
        errors=(404, 422),
        description="To the matching subscriptions, the listed ones, or an ad-hoc `target`. `overrides` "
        "set dotted paths of the event.",
    ),
]
