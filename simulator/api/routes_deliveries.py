"""Routes of deliveries: list with filters, read one with its attempts, send one again."""

from __future__ import annotations

from typing import Any

from simulator import catalog
from simulator.api import views
from simulator.api.endpoints import Call, Endpoint
from simulator.core.pagination import int_cursor, split_page
from simulator.errors import FieldError, InvalidInput, UnknownEventType
from simulator.models import answers as schemas
from simulator.turns import in_turns


def type_name(name: str | None) -> str | None:
    """The stored (bare) type name of a `type` filter, accepting every spelling the catalog accepts."""
    if name is None:
        return None
    try:
        return catalog.resolve(name).name
    except UnknownEventType as exc:  # a filter is input, not a resource: 422, with the suggestions
        raise InvalidInput(exc.detail, errors=[FieldError("type", exc.errors[0].message)]) from None


async def list_deliveries(call: Call) -> dict[str, Any]:
    q: schemas.DeliveriesQuery = call.query
    found = await call.sim.store.list_deliveries(
        run_id=q.run,
        subscription_id=q.subscription,
        status=q.status,
        type=type_name(q.type),
        text=q.q,
        since=q.since.timestamp() if q.since else None,
        until=q.until.timestamp() if q.until else None,
        newest_first=q.order == "newest",
        limit=q.limit + 1,
        cursor=int_cursor(q.cursor),
    )
    shown, cursor = split_page(found, q.limit, lambda item: item[0])
    return views.page(await in_turns([d for _, d in shown], views.delivery), cursor)


async def get_delivery(call: Call) -> dict[str, Any]:
    return views.delivery(await call.sim.delivery(call.path["id"]), attempts=True)


async def redeliver(call: Call) -> dict[str, Any]:
    return views.delivery(await call.sim.redeliver(call.path["id"]), attempts=True)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/deliveries",
        list_deliveries,
        "List deliveries, oldest or newest first",
        "deliveries",
        query=schemas.DeliveriesQuery,
        response=schemas.DeliveryPage,
        errors=(422,),
        description="`since` and `until` keep those made at or after `since` and before `until` (an `until` not "
        "later than `since` keeps none).",
    ),
    Endpoint(
        "GET",
        "/deliveries/{id}",
        get_delivery,
        "Read a delivery with its attempts",
        "deliveries",
        response=schemas.DeliveryDetail,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/deliveries/{id}/redeliver",
        redeliver,
        "Send a delivery again",
        "deliveries",
        status=202,
        response=schemas.DeliveryDetail,
        errors=(404, 409),
        description="A finished delivery: same id and body, a fresh retry budget. One waiting for its next retry: "
        "that attempt is made now (same id and body, its retry budget as it stands). 409 while an attempt is under "
        "way or its first has no outcome yet, or while its subscription is disabled (enable it first); the detail "
        "says which, and when to ask again.",
    ),
]
