"""Wallet events: Google Pay™ resources.

Coherence: `google-pay.created` makes a resource the public application created from an encrypted Google Pay
token (as it makes token intents: the same API answers with one or the other); `google-pay.retrieved` and
`google-pay.deleted` name the latest one (or the step's), made earlier when the run announced none; a deleted
resource is gone from the run, so the next event makes another.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from simulator.models import BuildContext
from simulator.providers.basistheory import _values as v
from simulator.providers.basistheory._common import Entity, app_actor, discard, obtain, project, store, uid, wrap
from simulator.providers.basistheory.provider import PROVIDER
from simulator.timeutil import iso_ms

GOOGLE_PAY_FIELDS = ("id", "status", "created_by", "created_at", "expires_at")
DELETED_FIELDS = (*GOOGLE_PAY_FIELDS, "modified_by", "modified_at")
# The documents name a status but list no values; a resource that can be read or deleted is an active one.
ACTIVE = "active"
# A Google Pay resource stands where a token intent would (the same API makes one or the other): it lives as long.
LIFETIME = timedelta(days=1)


def new_google_pay(ctx: BuildContext, created_at: float = 0.0) -> Entity:
    """A Google Pay resource the public application created, up to `created_at` seconds ago (0: now)."""
    made = v.earlier(ctx.now, ctx.rng, 60, created_at) if created_at else ctx.now
    return {
        "id": uid(ctx, "google_pay"),
        "status": ACTIVE,
        "created_by": app_actor(ctx, "public")["id"],
        "created_at": iso_ms(made),
        "expires_at": iso_ms(made + LIFETIME),
    }


def _google_pay(ctx: BuildContext) -> Entity:
    return obtain(ctx, "google_pay", lambda c: new_google_pay(c, 3600.0))


@PROVIDER.event("google-pay.created", "Google Pay Created: a Google Pay resource was created from an encrypted token")
def google_pay_created(ctx: BuildContext) -> dict[str, Any]:
    resource = store(ctx, "google_pay", new_google_pay(ctx))
    data = {"google_pay": project(resource, GOOGLE_PAY_FIELDS)}
    return wrap(ctx, "google-pay.created", data, app_actor(ctx, "public"))


@PROVIDER.event("google-pay.retrieved", "Google Pay Retrieved: a Google Pay resource was read")
def google_pay_retrieved(ctx: BuildContext) -> dict[str, Any]:
    resource = _google_pay(ctx)
    data = {"google_pay": project(resource, ("id",))}
    return wrap(ctx, "google-pay.retrieved", data, app_actor(ctx, "private"))


@PROVIDER.event("google-pay.deleted", "Google Pay Deleted: a Google Pay resource was deleted")
def google_pay_deleted(ctx: BuildContext) -> dict[str, Any]:
    resource = _google_pay(ctx)
    actor = app_actor(ctx, "private")
    resource["modified_by"], resource["modified_at"] = actor["id"], iso_ms(ctx.now)
    discard(ctx, "google_pay")
    data = {"google_pay": project(resource, DELETED_FIELDS)}
    return wrap(ctx, "google-pay.deleted", data, actor)
