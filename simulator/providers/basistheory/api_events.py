"""The events the Basis Theory API twin emits for what its callers do, in the same shapes the event builders
use (`events_vault`'s field lists), so a consumer cannot tell an API-driven event from a scenario's. Pure.

`trace_id` is the caller's `BT-TRACE-ID` when it sent one, as at Basis Theory.
"""

from __future__ import annotations

from typing import Any

from simulator.models import BuildContext
from simulator.providers.basistheory._common import Entity, project, wrap
from simulator.providers.basistheory.events_vault import INTENT_FIELDS, TOKEN_FIELDS


def intent_created(ctx: BuildContext, intent: Entity, actor: Entity, trace_id: str | None) -> dict[str, Any]:
    data = {"token_intent": project(intent, INTENT_FIELDS)}
    return wrap(ctx, "token-intent.created", data, actor, trace_id)


def intent_deleted(ctx: BuildContext, intent_id: str, actor: Entity, trace_id: str | None) -> dict[str, Any]:
    return wrap(ctx, "token-intent.deleted", {"token_intent": {"id": intent_id}}, actor, trace_id)


def intent_converted(
    ctx: BuildContext, intent: Entity, token: Entity, actor: Entity, trace_id: str | None
) -> dict[str, Any]:
    data = {"token_intent": project(intent, ("id", "type")), "token": project(token, ("id", "type"))}
    return wrap(ctx, "token-intent.converted", data, actor, trace_id)


def token_created(ctx: BuildContext, token: Entity, actor: Entity, trace_id: str | None) -> dict[str, Any]:
    return wrap(ctx, "token.created", {"token": project(token, TOKEN_FIELDS)}, actor, trace_id)


def token_deleted(ctx: BuildContext, token_id: str, actor: Entity, trace_id: str | None) -> dict[str, Any]:
    return wrap(ctx, "token.deleted", {"token": {"id": token_id}}, actor, trace_id)


def token_read(ctx: BuildContext, token: Entity, actor: Entity, trace_id: str | None) -> dict[str, Any]:
    # A token only an event named by its id (`token.property.expired`) has no type the twin could tell.
    read = {k: token[k] for k in ("id", "type") if k in token}
    return wrap(ctx, "token.read", {"token": read}, actor, trace_id)


def owned_by(event: dict[str, Any], tenant_id: Any) -> dict[str, Any]:
    """`event` told by the tenant its object belongs to. A run's objects are its own tenant's, and at Basis Theory
    only a key of that tenant reads or deletes them: the event says that tenant, not the twin's."""
    if isinstance(tenant_id, str) and tenant_id:
        event["tenant_id"] = tenant_id
    return event
