"""Platform events: the tenant, its invitations and members, applications and their keys, and sessions.

Coherence: `tenant.*` describe the run's one tenant; `tenant.invitation.accepted` follows `created` with the
same invitation and makes the invitee a user, whom `tenant.member.created` then adds; `application.key.*`
belong to the latest application; `session.authorized` grants access to the session `session.created` opened.
"""

from __future__ import annotations

from typing import Any

from simulator.models import BuildContext
from simulator.providers.basistheory import _values as v
from simulator.providers.basistheory._common import (
    DAY,
    Entity,
    app_actor,
    application,
    discard,
    new_application,
    new_person,
    obtain,
    owner,
    portal_actor,
    project,
    store,
    tenant,
    uid,
    wrap,
)
from simulator.providers.basistheory.provider import PROVIDER
from simulator.timeutil import iso_ms

# Invitations are valid for three days (ours: Basis Theory does not publish the period).
INVITATION_TTL = 3 * DAY
# Sessions opened by Elements are short-lived (ours: a few minutes).
SESSION_TTL = 180.0
APP_FIELDS = ("id", "type", "name", "created_by", "created_at", "permissions", "rules")
APP_UPDATED_FIELDS = (
    "id",
    "name",
    "type",
    "permissions",
    "rules",
    "created_at",
    "created_by",
    "modified_at",
    "modified_by",
)
TENANT_FIELDS = ("id", "name", "created_at", "created_by")
INVITATION_FIELDS = ("id", "email", "role", "expires_at", "created_at", "created_by")


# --- tenant ---------------------------------------------------------------------------------------


@PROVIDER.event("tenant.created", "Tenant Created: a tenant was created")
def tenant_created(ctx: BuildContext) -> dict[str, Any]:
    found = tenant(ctx, created_now=True)
    return wrap(ctx, "tenant.created", {"tenant": project(found, TENANT_FIELDS)}, owner(ctx))


@PROVIDER.event("tenant.updated", "Tenant Updated: a tenant's settings were changed")
def tenant_updated(ctx: BuildContext) -> dict[str, Any]:
    found, actor = tenant(ctx), owner(ctx)
    found["modified_at"], found["modified_by"] = iso_ms(ctx.now), actor["id"]
    fields = (*TENANT_FIELDS, "modified_at", "modified_by")
    return wrap(ctx, "tenant.updated", {"tenant": project(found, fields)}, actor)


@PROVIDER.event("tenant.deleted", "Tenant Deleted: a tenant was deleted")
def tenant_deleted(ctx: BuildContext) -> dict[str, Any]:
    # The tenant stays in the world: every event of a run carries the same tenant_id, even a late one.
    found = tenant(ctx)
    return wrap(ctx, "tenant.deleted", {"tenant": {"id": found["id"]}}, owner(ctx))


# --- invitations and members ----------------------------------------------------------------------


def new_invitation(ctx: BuildContext, created_at: float = 0.0) -> Entity:
    """An invitation the owner sent to a new person, up to `created_at` seconds ago (0: now)."""
    person = new_person(ctx)
    made = v.earlier(ctx.now, ctx.rng, created_at / 2, created_at) if created_at else ctx.now
    return {
        "id": uid(ctx, "invitation"),
        "email": person["_email"],
        "role": v.pick(ctx.rng, v.ROLES),
        "expires_at": v.after(made, INVITATION_TTL),
        "created_at": iso_ms(made),
        "created_by": owner(ctx)["id"],
        "_user": person,
    }


def _invitation(ctx: BuildContext) -> Entity:
    return obtain(ctx, "invitation", lambda c: new_invitation(c, 3600.0))


@PROVIDER.event("tenant.invitation.created", "Invitation Created: a user was invited to join the tenant")
def invitation_created(ctx: BuildContext) -> dict[str, Any]:
    invitation = store(ctx, "invitation", new_invitation(ctx))
    return wrap(ctx, "tenant.invitation.created", {"invitation": project(invitation, INVITATION_FIELDS)}, owner(ctx))


@PROVIDER.event("tenant.invitation.resent", "Invitation Resent: an invitation email was sent again")
def invitation_resent(ctx: BuildContext) -> dict[str, Any]:
    invitation = _invitation(ctx)
    invitation["expires_at"] = v.after(ctx.now, INVITATION_TTL)
    return wrap(ctx, "tenant.invitation.resent", {"invitation": project(invitation, INVITATION_FIELDS)}, owner(ctx))


@PROVIDER.event("tenant.invitation.accepted", "Invitation Accepted: the invitee accepted the invitation")
def invitation_accepted(ctx: BuildContext) -> dict[str, Any]:
    invitation = _invitation(ctx)
    if not invitation.get("_accepted"):
        invitation["_accepted"] = True
        # Accepting makes the invitee a member: the next tenant.member.created is theirs.
        tenant(ctx).setdefault("_joining", []).append(invitation)
    return wrap(
        ctx, "tenant.invitation.accepted", {"invitation": project(invitation, INVITATION_FIELDS)}, invitation["_user"]
    )


@PROVIDER.event("tenant.invitation.deleted", "Invitation Deleted: a pending invitation was revoked")
def invitation_deleted(ctx: BuildContext) -> dict[str, Any]:
    invitation = _invitation(ctx)
    discard(ctx, "invitation")
    return wrap(ctx, "tenant.invitation.deleted", {"invitation": project(invitation, INVITATION_FIELDS)}, owner(ctx))


def _joining_user(ctx: BuildContext) -> tuple[Entity, str]:
    """The user a new membership is for: the latest accepted invitee not yet a member, else someone new."""
    joining = tenant(ctx).setdefault("_joining", [])
    if joining:
        invitation = joining.pop()
        return invitation["_user"], invitation["role"]
    return new_person(ctx), v.pick(ctx.rng, v.ROLES)


@PROVIDER.event("tenant.member.created", "Member Created: a user became a member of the tenant")
def member_created(ctx: BuildContext) -> dict[str, Any]:
    user, role = _joining_user(ctx)
    member = store(
        ctx,
        "member",
        {
            "id": uid(ctx, "member"),
            "user_id": user["id"],
            "role": role,
            "created_at": iso_ms(ctx.now),
            "created_by": user["id"],
            "_user": user,
        },
    )
    fields = ("id", "user_id", "role", "created_at", "created_by")
    return wrap(ctx, "tenant.member.created", {"member": project(member, fields)}, user)


@PROVIDER.event("tenant.member.deleted", "Member Deleted: a member was removed from the tenant")
def member_deleted(ctx: BuildContext) -> dict[str, Any]:
    member = obtain(ctx, "member", lambda c: {"id": uid(c, "member")})
    discard(ctx, "member")
    return wrap(ctx, "tenant.member.deleted", {"member": {"id": member["id"]}}, owner(ctx))


# --- applications and keys ------------------------------------------------------------------------


def _earlier_application(ctx: BuildContext) -> Entity:
    app_type = v.pick(ctx.rng, v.APPLICATION_TYPES)
    return new_application(ctx, app_type, v.before(ctx.now, ctx.rng, DAY, 90 * DAY), owner(ctx)["id"])


@PROVIDER.event("application.created", "Application Created: an application (API key holder) was created")
def application_created(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    app_type = v.pick(ctx.rng, v.APPLICATION_TYPES)
    app = store(ctx, "application", new_application(ctx, app_type, iso_ms(ctx.now), actor["id"]))
    return wrap(ctx, "application.created", {"application": project(app, APP_FIELDS)}, actor)


@PROVIDER.event("application.updated", "Application Updated: an application's permissions or rules changed")
def application_updated(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    app = obtain(ctx, "application", _earlier_application)
    if ctx.rng.random() < 0.5:
        app["permissions"] = v.subset(ctx.rng, v.PERMISSIONS[app["type"]], 2, 5)
    app["modified_at"], app["modified_by"] = iso_ms(ctx.now), actor["id"]
    return wrap(ctx, "application.updated", {"application": project(app, APP_UPDATED_FIELDS)}, actor)


@PROVIDER.event("application.deleted", "Application Deleted: an application and its keys were deleted")
def application_deleted(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    app = obtain(ctx, "application", _earlier_application)
    discard(ctx, "application")
    return wrap(ctx, "application.deleted", {"application": {"id": app["id"]}}, actor)


def _key_owner(ctx: BuildContext) -> Entity:
    """The application a key event concerns: the latest one in the world, else a standing private one."""
    return ctx.world.get("application") or application(ctx, "private")


@PROVIDER.event("application.key.created", "Application Key Created: an application got a new API key")
def application_key_created(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    app = _key_owner(ctx)
    app["_keys"] = app.get("_keys", 0) + 1
    key = store(
        ctx,
        "application_key",
        {
            "id": uid(ctx, "application_key"),
            "application_id": app["id"],
            "version": str(app["_keys"]),
            "created_at": iso_ms(ctx.now),
            "created_by": actor["id"],
        },
    )
    fields = ("id", "application_id", "version", "created_at", "created_by")
    return wrap(ctx, "application.key.created", {"application_key": project(key, fields)}, actor)


@PROVIDER.event("application.key.deleted", "Application Key Deleted: an application's API key was revoked")
def application_key_deleted(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    key = obtain(
        ctx, "application_key", lambda c: {"id": uid(c, "application_key"), "application_id": _key_owner(c)["id"]}
    )
    discard(ctx, "application_key")
    data = {"application_key": project(key, ("id", "application_id"))}
    return wrap(ctx, "application.key.deleted", data, actor)


# --- sessions -------------------------------------------------------------------------------------


def new_session(ctx: BuildContext, created_at: float = 0.0) -> Entity:
    """A session the public application opened for itself, up to `created_at` seconds ago (0: now)."""
    app = app_actor(ctx, "public")
    start = v.earlier(ctx.now, ctx.rng, 5, created_at) if created_at else ctx.now
    return {
        "id": uid(ctx, "session"),
        "created_at": iso_ms(start),
        "created_by": app["id"],
        "expires_at": v.after(start, SESSION_TTL),
        "issued_to_application": {"id": app["id"], "name": app["name"]},
    }


@PROVIDER.event("session.created", "Session Created: a client-side session was opened with a public key")
def session_created(ctx: BuildContext) -> dict[str, Any]:
    session = store(ctx, "session", new_session(ctx))
    fields = ("id", "created_at", "created_by", "expires_at", "issued_to_application")
    return wrap(ctx, "session.created", {"session": project(session, fields)}, app_actor(ctx, "public"))


@PROVIDER.event("session.authorized", "Session Authorized: a backend granted a session access to tokens")
def session_authorized(ctx: BuildContext) -> dict[str, Any]:
    session = obtain(ctx, "session", lambda c: new_session(c, 60.0))
    token = ctx.world.get("token")
    token_id, container = (token["id"], token["containers"][0]) if token else (uid(ctx, "token"), "/pci/high/")
    # The backend lets the browser reveal one token, the usual reason to authorize a session.
    session["permissions"] = ["token:read"]
    session["rules"] = [
        {
            "description": "Reveal one token to the customer's browser",
            "priority": 1,
            "container": container,
            "transform": "reveal",
            "conditions": [{"attribute": "id", "operator": "equals", "value": token_id}],
            "permissions": ["token:read"],
        }
    ]
    fields = ("id", "created_at", "created_by", "expires_at", "permissions", "rules", "issued_to_application")
    return wrap(ctx, "session.authorized", {"session": project(session, fields)}, app_actor(ctx, "private"))
