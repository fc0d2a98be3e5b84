"""What every Basis Theory builder shares: the per-event wrapper, the tenant and its actors, world access.

One tenant per run: the first event that needs it creates it (with its owner, its system actor and a roster of
applications that act on its behalf), and every later event carries its id as `tenant_id`. Entities live in
the World as dicts holding their public fields plus private `_`-prefixed bookkeeping; builders copy the public
fields into each payload, so an override applied to one event never leaks into the world.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from simulator.ids import RunIds
from simulator.models import BuildContext
from simulator.overrides import copy_fields, copy_json, set_path
from simulator.providers.basistheory import _values as v
from simulator.timeutil import iso_ms

Entity = dict[str, Any]
DAY = 86400.0


def wrap(
    ctx: BuildContext, etype: str, data: dict[str, Any], actor: Entity | None, trace_id: str | None = None
) -> dict[str, Any]:
    """The per-event object: `{id, type, timestamp, tenant_id, trace_id, data: {..., actor}}`.

    `actor` is None where nobody is known to have acted (an expiry, an unauthenticated request): Basis Theory
    sends the actor "if available", so `data.actor` is then absent.
    """
    tenant_id = tenant(ctx)["id"]
    if actor is not None:
        data["actor"] = {"id": actor["id"], "type": actor["type"], "name": actor["name"]}
    ids: RunIds = ctx.world.ids  # `uid`, without a call for each of every event's two ids
    return {
        "id": ids.uuid4("event:" + etype),
        "type": etype,
        "timestamp": iso_ms(ctx.now),
        "tenant_id": tenant_id,
        "trace_id": trace_id or ids.uuid4("trace:" + etype),
        "data": data,
    }


def uid(ctx: BuildContext, kind: str) -> str:
    """The next id of `kind` in the run (fixed by its seed and start time; kinds never share an id)."""
    ids: RunIds = ctx.world.ids
    return ids.uuid4(kind)


# A deep copy of plain JSON data (much cheaper than `copy.deepcopy`).
copy = copy_json


def project(entity: Entity, keys: Iterable[str]) -> dict[str, Any]:
    """A fresh payload object holding `keys` of `entity`, in that order."""
    return copy_fields(entity, keys)


def obtain(ctx: BuildContext, kind: str, make: Callable[[BuildContext], Entity], name: str | None = None) -> Entity:
    """The entity of `kind` the step names (default: the latest), made and stored when the world has none."""
    name = ctx.ref if name is None else name
    entity = ctx.world.get(kind, name)
    if entity is None:
        entity = ctx.world.put(kind, make(ctx), name)
    return entity


def store(ctx: BuildContext, kind: str, entity: Entity) -> Entity:
    """Put a newly created entity in the world under the step's name."""
    return ctx.world.put(kind, entity, ctx.ref)


def discard(ctx: BuildContext, kind: str) -> None:
    """Forget the entity the step names (a delete or an expiry)."""
    ctx.world.remove(kind, ctx.ref)


# --- the tenant and its actors --------------------------------------------------------------------


def _person(ctx: BuildContext, domain: str) -> Entity:
    """A user of the tenant: a generated name, an email at the company's domain."""
    first, last = ctx.names.first_name(), ctx.names.last_name()
    email = f"{first}.{last}@{domain}".lower().replace(" ", "").replace("'", "")
    return {"id": uid(ctx, "user"), "type": "user", "name": email, "_email": email}


def new_tenant(ctx: BuildContext, created_at: str) -> Entity:
    """A tenant named after a generated company, with its owner and its system actor."""
    company = ctx.names.company()
    domain = v.domain_of(company, ctx.rng)
    owner = _person(ctx, domain)
    return {
        "id": uid(ctx, "tenant"),
        "name": f"{company} {v.pick(ctx.rng, v.TENANT_SUFFIXES)}",
        "created_at": created_at,
        "created_by": owner["id"],
        "_domain": domain,
        "_owner": owner,
        "_system": {"id": uid(ctx, "system"), "type": "system", "name": "Basis Theory"},
        "_apps": {},
    }


def tenant(ctx: BuildContext, created_now: bool = False) -> Entity:
    """The run's only tenant, created on first use (now for `tenant.created`, earlier for anything else)."""
    found = ctx.world.get("tenant")
    if found is None:
        created = iso_ms(ctx.now) if created_now else v.before(ctx.now, ctx.rng, 30 * DAY, 720 * DAY)
        found = ctx.world.put("tenant", new_tenant(ctx, created))
    return found


def owner(ctx: BuildContext) -> Entity:
    """The tenant's owner, the user behind portal actions."""
    return tenant(ctx)["_owner"]


def system(ctx: BuildContext) -> Entity:
    """Basis Theory itself, for events no caller triggered (expiries, job results, timeouts)."""
    return tenant(ctx)["_system"]


def new_person(ctx: BuildContext) -> Entity:
    """Someone new at the tenant's company (an invitee)."""
    return _person(ctx, tenant(ctx)["_domain"])


def application(ctx: BuildContext, app_type: str) -> Entity:
    """The application of `app_type` acting now: the world's latest application when it is of that type (so a
    freshly created application is the one that acts), otherwise one of the tenant's standing applications."""
    latest = ctx.world.get("application")
    if latest is not None and latest["type"] == app_type:
        return latest
    apps = tenant(ctx)["_apps"]
    if app_type not in apps:
        apps[app_type] = new_application(
            ctx, app_type, v.before(ctx.now, ctx.rng, 7 * DAY, 365 * DAY), owner(ctx)["id"]
        )
    return apps[app_type]


def new_application(ctx: BuildContext, app_type: str, created_at: str, created_by: str) -> Entity:
    """An application of `app_type` with permissions and rules fit for it, and an API key of its own."""
    rng = ctx.rng
    return {
        "id": uid(ctx, "application"),
        "type": app_type,
        "name": v.pick(rng, v.APP_NAMES[app_type]),
        "created_by": created_by,
        "created_at": created_at,
        "permissions": v.subset(rng, v.PERMISSIONS[app_type], 2, 5),
        "rules": v.rules(rng, app_type),
        "_api_key": v.api_key(rng, app_type),
        "_keys": 1,
    }


def as_actor(entity: Entity) -> Entity:
    """An application entity as an event actor."""
    if entity.get("type") in v.APPLICATION_TYPES:
        return {"id": entity["id"], "type": "application", "name": entity["name"]}
    return entity


def app_actor(ctx: BuildContext, app_type: str) -> Entity:
    """The acting application of `app_type`, as an actor."""
    return as_actor(application(ctx, app_type))


def portal_actor(ctx: BuildContext) -> Entity:
    """Who manages tenant resources: mostly the owner in the portal, else a management application."""
    if ctx.rng.random() < 0.7:
        return owner(ctx)
    return app_actor(ctx, "management")


# --- overrides that change an entity ----------------------------------------------------------------


Target = tuple[Entity, dict[str, Any], list[str]]  # the entity, the event's projection of it, the rest of the path


def absorb(ctx: BuildContext, data: dict[str, Any], path: str, value: Any) -> None:
    """Apply an override to the entity whose field it sets, so later events show it too.

    The entity is the deepest object on the path whose `id` names one of the world's entities (payload objects
    are projections of entities), or the tenant for `tenant_id`. The field must be one the entity holds, with
    the value the event showed: an actor's `type` is its role (`application`), not the application's own type,
    so an override of it stays with the event.
    """
    parts = path.split(".")
    target = (
        (tenant(ctx), {"id": data.get("tenant_id")}, ["id"]) if parts == ["tenant_id"] else _target(ctx, data, parts)
    )
    if target is None:
        return
    entity, shown, rest = target
    if rest[0] in entity and entity[rest[0]] == shown.get(rest[0]):
        set_path(entity, ".".join(rest), copy(value))


def _target(ctx: BuildContext, data: dict[str, Any], parts: list[str]) -> Target | None:
    node: Any = data
    found = None
    for i, part in enumerate(parts[:-1]):
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        entity = _entity(ctx, node.get("id"))
        if entity is not None:
            found = (entity, node, parts[i + 1 :])
    return found


def _entity(ctx: BuildContext, entity_id: Any) -> Entity | None:
    """The world's entity with `entity_id`: a stored one, or one of the tenant's own (owner, system, apps)."""
    if not isinstance(entity_id, str):
        return None
    candidates = [e for kind in ctx.world.kinds() for e in ctx.world.all(kind)]
    for found in ctx.world.all("tenant"):
        candidates += [found["_owner"], found["_system"], *found["_apps"].values()]
    return next((e for e in candidates if e.get("id") == entity_id), None)
