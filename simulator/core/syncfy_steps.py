"""The steps of a Syncfy credential's lifecycle, as data: the world entities its events are built from (user,
credential, job), the events each step emits with the overrides that name the registered credential, and the step
that follows each. Pure functions: `syncfy_flows.CredentialFlows` stores where a lifecycle got to and plays it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from simulator import catalog
from simulator.ids import next_object_id
from simulator.models import BuildContext
from simulator.providers.syncfy import api
from simulator.providers.syncfy._values import ENVIRONMENTS
from simulator.timeutil import now_utc

WAITING_STEP = "token"
# The step after each step (where it does not depend on the site).
_NEXT = {"start": "login", "received": "finish", "finish": "refresh", "documents": None}


def user_entity(id_user: str, external: Any, env: str, created: float) -> dict[str, Any]:
    return {
        "id_user": id_user,
        "id_external": external,
        "id_environment": ENVIRONMENTS[env],
        "environment": env,
        "created": float(created),
    }


def new_job(
    id_job: str, id_credential: str, user: dict[str, Any], site: api.SiteRef, started: datetime
) -> dict[str, Any]:
    """The job `id_job` of a credential at `site`, started at `started` (its uuid follows from its id)."""
    return {
        "id_job": id_job,
        "id_job_uuid": next_object_id(id_job),
        "kind": "credential",
        "id_credential": id_credential,
        "user": user,
        "site": site.ids(),
        "started": started.timestamp(),
        "announced": [],
        "webhook": None,
    }


def flat(credential: Mapping[str, Any]) -> dict[str, Any]:
    """A credential entity without its user (stored once, beside it)."""
    out = {k: v for k, v in credential.items() if k != "user"}
    out["job"] = {k: v for k, v in credential["job"].items() if k != "user"}
    return out


def step_context(flow: Mapping[str, Any], step: str) -> BuildContext:
    """A build context whose world holds the credential: its builders name it, its user and its job."""
    user = dict(flow["user"])
    credential = dict(flow["credential"])
    credential["user"] = user
    credential["job"] = {**credential["job"], "user": user}
    seed = int.from_bytes(api.digest(credential["id_credential"], credential["job"]["id_job"], step, size=8), "big")
    ctx = catalog.new_context(seed, now_utc(), {"environment": user["environment"]})
    ctx.world.put("user", user)
    ctx.world.put("job", credential["job"])
    ctx.world.put("credential", credential)
    return ctx


def later(ctx: BuildContext) -> BuildContext:
    """The same world at the current time (each event of a step has its own moment)."""
    return replace(ctx, now=now_utc())


def emits(step: str, flow: Mapping[str, Any], credential: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events one step emits, each with its overrides."""
    if step == "start":
        return [("credentials.created", _created_overrides(credential))]
    if step == "login":
        return [("credentials.updated", {"payload.is_executing": int(bool(flow.get("twofa")))})]
    if step == "received":
        return [("credentials.updated", {"payload.is_executing": 1})]
    if step == "finish":
        return [("credentials.updated", {"payload.is_executing": 0})]
    if step == "refresh":
        return [("credentials.refreshed", {})]
    return [("documents.completed", {}), ("documents.success", {})]


def step_after(step: str, flow: Mapping[str, Any]) -> str | None:
    """The step that follows `step` (None: the lifecycle has ended)."""
    if step == "login":
        return WAITING_STEP if flow.get("twofa") else "refresh"
    if step == "refresh":
        return "documents" if api.SiteRef.of(flow["credential"]["site"]).fiscal else None
    return _NEXT[step]


def _created_overrides(credential: Mapping[str, Any]) -> dict[str, Any]:
    """`credentials.created` makes a credential of its own: these put the registered one's ids in its place."""
    user, job = credential["user"], credential["job"]
    out: dict[str, Any] = {
        "payload.endpoints.credential": [f"/v1/credentials/{credential['id_credential']}"],
        "payload.id_credential": credential["id_credential"],
        "payload.id_external": user["id_external"],
        "payload.id_job": job["id_job"],
        "payload.id_job_uuid": job["id_job_uuid"],
        "payload.id_user": user["id_user"],
        "header.user.id_environment": user["id_environment"],
        "header.user.id_external": user["id_external"],
        "header.user.id_user": user["id_user"],
    }
    out.update({f"payload.{k}": v for k, v in credential["site"].items()})
    return out
