"""Routes of subscriptions: create, list, read, change, delete, re-enable, redeliver what died."""

from __future__ import annotations

from typing import Any

from simulator.api import views
from simulator.api.endpoints import Call, Endpoint
from simulator.core.pagination import id_cursor, split_page
from simulator.models import answers as schemas
from simulator.models.inputs import RedeliverWindow, SubscriptionPatch, SubscriptionSpec


async def create_subscription(call: Call) -> dict[str, Any]:
    sub = await call.sim.create_subscription(call.body)
    return views.subscription(sub, secret=True, given=True)


async def list_subscriptions(call: Call) -> dict[str, Any]:
    q: schemas.ListQuery = call.query
    # Ad-hoc targets of runs and events get a subscription of their own; it is reachable by id, not listed.
    subs = await call.sim.list_subscriptions(q.limit + 1, id_cursor(q.cursor, "sub"), listed=True)
    shown, cursor = split_page(subs, q.limit, lambda s: s.id)
    return views.page([views.subscription(s) for s in shown], cursor)


async def get_subscription(call: Call) -> dict[str, Any]:
    return views.subscription(await call.sim.subscription(call.path["id"]))


async def update_subscription(call: Call) -> dict[str, Any]:
    # A secret made by this change (`secret: null`) is shown in full here, as at creation: the only time it is.
    made = "secret" in call.body.model_fields_set and call.body.secret is None
    return views.subscription(await call.sim.update_subscription(call.path["id"], call.body), secret=made)


async def delete_subscription(call: Call) -> None:
    await call.sim.subscription(call.path["id"])  # 404 first: a schedule naming an id that never existed is refused
    await call.api.schedules.refuse_naming(call.path["id"])
    await call.sim.delete_subscription(call.path["id"])


async def enable_subscription(call: Call) -> dict[str, Any]:
    sub = await call.sim.update_subscription(call.path["id"], SubscriptionPatch(enabled=True))
    return views.subscription(sub)


async def redeliver_dead(call: Call) -> dict[str, Any]:
    window: RedeliverWindow = call.body
    return {"redelivered": await call.sim.redeliver_dead(call.path["id"], since=window.since, until=window.until)}


_ITEM = "/subscriptions/{id}"
ENDPOINTS = [
    Endpoint(
        "POST",
        "/subscriptions",
        create_subscription,
        "Create a subscription",
        "subscriptions",
        status=201,
        body=SubscriptionSpec,
        response=schemas.Subscription,
        errors=(404, 422),
        description="The answer holds the secret in full: the only time it is shown.",
    ),
    Endpoint(
        "GET",
        "/subscriptions",
        list_subscriptions,
        "List subscriptions",
        "subscriptions",
        query=schemas.ListQuery,
        response=schemas.SubscriptionPage,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        _ITEM,
        get_subscription,
        "Read a subscription",
        "subscriptions",
        response=schemas.Subscription,
        errors=(404,),
    ),
    Endpoint(
        "PATCH",
        _ITEM,
        update_subscription,
        "Change a subscription",
        "subscriptions",
        body=SubscriptionPatch,
        response=schemas.Subscription,
        errors=(404, 409, 422),
        description="Only the fields given change: no body, or `{}`, changes nothing (and answers the "
        "subscription). `enabled: true` re-enables it and resets its count of consecutive dead deliveries. "
        "`secret: null` makes a new secret, shown in full in this answer alone. A URL's credentials or an "
        "`Authorization` header sent back masked, as answered (`user:***@`, `Bearer ***`), keep the stored ones. "
        "409 when the stored secret "
        "does not fit a new `signing`, or a new `secret` the stored scheme: send both.",
    ),
    Endpoint(
        "DELETE",
        _ITEM,
        delete_subscription,
        "Delete a subscription",
        "subscriptions",
        status=204,
        content="",
        errors=(404, 409),
        description="409 while a schedule that will fire again names it in its `subscriptions`: delete the "
        "schedule first.",
    ),
    Endpoint(
        "POST",
        _ITEM + "/enable",
        enable_subscription,
        "Re-enable a subscription",
        "subscriptions",
        response=schemas.Subscription,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        _ITEM + "/redeliver",
        redeliver_dead,
        "Redeliver the dead deliveries of a subscription",
        "subscriptions",
        status=202,
        body=RedeliverWindow,
        response=schemas.Redelivered,
        errors=(404, 409),
        description="Every dead delivery, in the order they were made; with `since` and `until`, those made at or "
        "after `since` and before `until` (no body, or `{}`: every one; an `until` not later than `since`: none). "
        "409 while the subscription is disabled: enable it first.",
    ),
]
