"""What Syncfy's provider shares with its builders: carrying an override of an entity's field into the world.

A Syncfy payload copies fields of three entities (see `events`): the user (`header.user.*`, `payload.id_user`,
`payload.id_external`), the credential's site (`payload.id_site*`, shared with its jobs) and the job
(`payload.id_job`, `payload.id_job_uuid`). An override of one of them changes that entity from then on.
"""

from __future__ import annotations

from typing import Any

from simulator.models import BuildContext
from simulator.world import Entity

USER_FIELDS = ("id_user", "id_external", "id_environment")
SITE_FIELDS = ("id_site", "id_site_organization", "id_site_organization_type")
JOB_FIELDS = ("id_job", "id_job_uuid")


def absorb(ctx: BuildContext, data: dict[str, Any], path: str, value: Any) -> None:
    """Set the field `path` names on the entity the event shows, when the event showed that entity's value."""
    field, shown = _field(data, path)
    entity = _holder(ctx, data, field) if field is not None else None
    if entity is not None and field in entity and entity[field] == shown:
        entity[field] = value


def _field(data: dict[str, Any], path: str) -> tuple[str | None, Any]:
    """The entity field `path` sets (`header.user.X`, or `payload.X` for a copied field) and the event's value."""
    parts = path.split(".")
    if len(parts) == 3 and parts[:2] == ["header", "user"] and parts[2] in USER_FIELDS:
        return parts[2], data["header"]["user"].get(parts[2])
    if len(parts) == 2 and parts[0] == "payload" and parts[1] in (*USER_FIELDS, *SITE_FIELDS, *JOB_FIELDS):
        return parts[1], data.get("payload", {}).get(parts[1])
    return None, None


def _holder(ctx: BuildContext, data: dict[str, Any], field: str) -> Entity | None:
    """The entity of the world that holds `field` as this event shows it."""
    payload = data.get("payload", {})
    if field in USER_FIELDS:
        id_user = data["header"]["user"]["id_user"]
        return _find(ctx, "user", "id_user", id_user)
    if field in JOB_FIELDS:
        return _find(ctx, "job", "id_job", payload.get("id_job"))
    if field in SITE_FIELDS:
        job = _find(ctx, "job", "id_job", payload.get("id_job"))
        return job["site"] if job is not None else None  # the credential's own site dict, shared with its jobs
    return None


def _find(ctx: BuildContext, kind: str, key: str, value: Any) -> Entity | None:
    return next((e for e in ctx.world.all(kind) if e.get(key) == value), None)
