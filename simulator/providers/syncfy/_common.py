"""What Syncfy's provider shares with its builders: carrying an override of an entity's field into the world.

A Syncfy payload copies fields of three entities (see `events`): the user (`header.user.*`, `payload.id_user`,
`payload.id_external`), the credential's site (`payload.id_site*`, shared with its jobs) and the job
(`payload.id_job`, `payload.id_job_uuid`). An override of one of them changes that entity from then on.

The credential's id (`payload.id_credential`) is its own, and its page URLs (`payload.endpoints`) name it: an
override of it renames the credential from then on, and this event's URLs name it too, as Syncfy's always do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from simulator.models import BuildContext
from simulator.world import Entity

USER_FIELDS = ("id_user", "id_external", "id_environment")
SITE_FIELDS = ("id_site", "id_site_organization", "id_site_organization_type")
JOB_FIELDS = ("id_job", "id_job_uuid")


def absorb(ctx: BuildContext, data: dict[str, Any], path: str, value: Any) -> None:
    """Set the field `path` names on the entity the event shows, when the event showed that entity's value."""
    if path == "payload.id_credential":
        _rename_credential(ctx, data.get("payload", {}).get("id_credential"), value)
        return
    field, shown = _field(data, path)
    entity = _holder(ctx, data, field) if field is not None else None
    if entity is not None and field in entity and entity[field] == shown:
        entity[field] = value


def follow(before: dict[str, Any], after: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Make `after`'s page URLs name the credential its override named, unless the URLs were overridden too."""
    if "payload.id_credential" not in overrides or any(p.startswith("payload.endpoints") for p in overrides):
        return
    old, new = before.get("payload", {}).get("id_credential"), after["payload"]["id_credential"]
    endpoints = after["payload"].get("endpoints")
    if not isinstance(old, str) or not isinstance(new, str) or not isinstance(endpoints, dict):
        return  # an event of no credential, or an `unchecked` value no URL can carry
    for kind, urls in endpoints.items():
        endpoints[kind] = [_renamed(url, old, new) for url in urls]


def _renamed(url: str, old: str, new: str) -> str:
    """`url` naming credential `new` where it named `old`: its path `/v1/credentials/<id>`, or `id_credential=`."""
    parts = urlsplit(url)
    path = f"/v1/credentials/{quote(new, safe='')}" if parts.path == f"/v1/credentials/{old}" else parts.path
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, new if k == "id_credential" and v == old else v) for k, v in pairs], safe="")
    return urlunsplit(parts._replace(path=path, query=query if pairs else parts.query))


def _rename_credential(ctx: BuildContext, old: Any, new: Any) -> None:
    """The credential this event shows, and its jobs, go by `new` from now on. An `unchecked` id that is no text
    stays this event's alone: later events are checked, and no URL of theirs could name it."""
    if not isinstance(old, str) or not isinstance(new, str) or old == new:
        return
    for kind in ("credential", "job"):
        for entity in ctx.world.all(kind):
            if entity.get("id_credential") == old:
                entity["id_credential"] = new


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
