"""Vault events: tokens, token intents, 3DS sessions and account-updater jobs.

Coherence: `token-intent.converted` names the intent created earlier and creates the token it became (the
latest `token` from then on); `token.*` events name the existing token; `3ds.session.*` events reuse one
session and the card it was opened for (a card token intent or card token the run announced); an account-updater
job goes `pending` -> `completed` | `failed`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from simulator.errors import FieldError, InvalidInput
from simulator.models import BuildContext
from simulator.providers.basistheory import _values as v
from simulator.providers.basistheory._common import (
    DAY,
    Entity,
    app_actor,
    discard,
    obtain,
    project,
    store,
    system,
    tenant,
    uid,
    wrap,
)
from simulator.providers.basistheory.provider import PROVIDER
from simulator.timeutil import iso_ms

TOKEN_FIELDS = (
    "id",
    "type",
    "metadata",
    "containers",
    "fingerprint",
    "fingerprint_expression",
    "search_indexes",
    "created_by",
    "created_at",
    "expires_at",
)
UPDATED_FIELDS = (
    "id",
    "type",
    "metadata",
    "containers",
    "fingerprint",
    "fingerprint_expression",
    "search_indexes",
    "modified_by",
    "modified_at",
    "created_by",
    "created_at",
    "expires_at",
)
INTENT_FIELDS = ("id", "type", "fingerprint", "created_by", "created_at", "expires_at")
# Time to live a token gets: a month, a quarter, a year, two years.
TOKEN_TTLS = (30 * DAY, 90 * DAY, 365 * DAY, 730 * DAY)


# --- tokens ---------------------------------------------------------------------------------------


def new_token(
    ctx: BuildContext,
    token_type: str | None = None,
    created_at: float = 0.0,
    created_by: str | None = None,
    fingerprint: str | None = None,
) -> Entity:
    """A token made `created_at` seconds before now (0: now) by `created_by` (default: the backend app).

    Without `token_type`, the run's `token_type` parameter decides, else a weighted draw of the documented types.
    """
    rng = ctx.rng
    token_type = token_type or ctx.params.get("token_type") or v.pick(rng, v.TOKEN_TYPES, v.TOKEN_TYPE_WEIGHTS)
    if token_type not in v.TOKEN_SHAPES:
        raise InvalidInput(
            f"unknown token type {token_type!r}; known: {', '.join(v.TOKEN_TYPES)}",
            errors=[FieldError("params.token_type", f"unknown token type {token_type!r}")],
        )
    container, expression, indexes = v.TOKEN_SHAPES[token_type]
    made = v.before(ctx.now, rng, created_at / 2, created_at) if created_at else iso_ms(ctx.now)
    ttl = TOKEN_TTLS[int(rng.random() * len(TOKEN_TTLS))]
    token = {
        "id": uid(ctx, "token"),
        "type": token_type,
        "metadata": v.metadata(rng),
        "containers": [container],
        "fingerprint": fingerprint or v.fingerprint(rng),
        "fingerprint_expression": expression,
        "search_indexes": list(indexes[int(rng.random() * len(indexes))]),
        "created_by": created_by or app_actor(ctx, "private")["id"],
        "created_at": made,
        # When the run's token.expired for it comes, else a lifetime Basis Theory's customers commonly set.
        "expires_at": iso_ms(ctx.ends) if ctx.ends is not None else v.after(ctx.now, ttl),
    }
    if token_type == "card":
        token["_brand"] = v.pick(rng, v.CARD_BRANDS, v.CARD_BRAND_WEIGHTS)
        tenant(ctx)["_card"] = token
    return token


def _earlier_token(ctx: BuildContext) -> Entity:
    return new_token(ctx, created_at=3 * DAY)


def card_token(ctx: BuildContext, name: str | None = None) -> Entity:
    """The card token an event is about: the named one, else the latest live card, else a new card."""
    if name is not None:
        return obtain(ctx, "token", lambda c: new_token(c, "card", 3 * DAY), name)
    # The tenant remembers its latest card so this stays O(1) however many tokens a run made.
    card = tenant(ctx).get("_card")
    if card is not None and not card.get("_gone"):
        return card
    return ctx.world.put("token", new_token(ctx, "card", 3 * DAY))


def _remove_token(ctx: BuildContext, token: Entity) -> None:
    token["_gone"] = True
    discard(ctx, "token")


@PROVIDER.event("token.created", "Token Created: a token was created in the vault")
def token_created(ctx: BuildContext) -> dict[str, Any]:
    intent = ctx.world.get("token_intent", ctx.ref) if ctx.ref is not None else None
    if intent is not None:
        # The step names a token intent of its run (the same `as:`): this is the token converting it makes, as
        # `POST /tokens` with `token_intent_id` does; its token-intent.converted follows and names it.
        actor = app_actor(ctx, "private")
        token = new_token(ctx, intent["type"], created_by=actor["id"], fingerprint=intent["fingerprint"])
        token["_intent"] = intent["id"]
    else:
        actor = app_actor(ctx, "private" if ctx.rng.random() < 0.6 else "public")
        token = new_token(ctx, created_by=actor["id"])
    store(ctx, "token", token)
    event = wrap(ctx, "token.created", {"token": project(token, TOKEN_FIELDS)}, actor)
    if intent is not None:  # one request, `POST /tokens`, makes both: the conversion's event carries its trace
        token["_trace"] = event["trace_id"]
    return event


@PROVIDER.event("token.updated", "Token Updated: a token's data or metadata was changed")
def token_updated(ctx: BuildContext) -> dict[str, Any]:
    token = obtain(ctx, "token", _earlier_token)
    actor = app_actor(ctx, "private")
    if ctx.rng.random() < 0.5:
        token["metadata"] = {**token["metadata"], "source": v.pick(ctx.rng, v.METADATA_SOURCES)}
    token["modified_by"], token["modified_at"] = actor["id"], iso_ms(ctx.now)
    return wrap(ctx, "token.updated", {"token": project(token, UPDATED_FIELDS)}, actor)


@PROVIDER.event("token.read", "Token Read: a token's data was read")
def token_read(ctx: BuildContext) -> dict[str, Any]:
    token = obtain(ctx, "token", _earlier_token)
    return wrap(ctx, "token.read", {"token": project(token, ("id", "type"))}, app_actor(ctx, "private"))


@PROVIDER.event("token.deleted", "Token Deleted: a token was deleted from the vault")
def token_deleted(ctx: BuildContext) -> dict[str, Any]:
    token = obtain(ctx, "token", _earlier_token)
    _remove_token(ctx, token)
    return wrap(ctx, "token.deleted", {"token": {"id": token["id"]}}, app_actor(ctx, "private"))


@PROVIDER.event("token.expired", "Token Expired: a token reached its expires_at and was removed")
def token_expired(ctx: BuildContext) -> dict[str, Any]:
    token = obtain(ctx, "token", _earlier_token)
    _remove_token(ctx, token)
    # Time, not anyone, removed it: no actor is available.
    return wrap(ctx, "token.expired", {"token": {"id": token["id"]}}, None)


@PROVIDER.event(
    "token.property.expired", "Token Property Expired: a short-lived property of a token (a card's CVC) was removed"
)
def token_property_expired(ctx: BuildContext) -> dict[str, Any]:
    # A card's CVC is the property that expires (an hour after tokenization), so without a step name the
    # latest card is the token concerned.
    token = card_token(ctx, ctx.ref)
    if token["type"] != "card":
        raise InvalidInput(
            f"token.property.expired: the token {ctx.ref!r} is a {token['type']} token, and only a card's CVC "
            "expires (make it with the scenario's token_type parameter set to card)",
            errors=[FieldError("as", f"{ctx.ref!r} is a {token['type']} token, not a card")],
        )
    data = {"token": {"id": token["id"], "property_name": "cvc"}}
    return wrap(ctx, "token.property.expired", data, None)  # no actor: time removed it


# --- token intents --------------------------------------------------------------------------------


def new_intent(ctx: BuildContext, created_at: float = 0.0, intent_type: str | None = None) -> Entity:
    """A token intent collected by the public application, up to `created_at` seconds ago (0: now); of
    `intent_type`, else card or bank as drawn."""
    rng = ctx.rng
    made = v.earlier(ctx.now, rng, 60, created_at) if created_at else ctx.now
    # Token intents live 24 hours.
    return {
        "id": uid(ctx, "token_intent"),
        "type": intent_type or ("card" if rng.random() < 0.85 else "bank"),
        "fingerprint": v.fingerprint(rng),
        "created_by": app_actor(ctx, "public")["id"],
        "created_at": iso_ms(made),
        "expires_at": iso_ms(made + timedelta(days=1)),
    }


@PROVIDER.event("token-intent.created", "Token Intent Created: data was collected as a token intent")
def token_intent_created(ctx: BuildContext) -> dict[str, Any]:
    intent = store(ctx, "token_intent", new_intent(ctx))
    return wrap(ctx, "token-intent.created", {"token_intent": project(intent, INTENT_FIELDS)}, app_actor(ctx, "public"))


@PROVIDER.event("token-intent.deleted", "Token Intent Deleted: a token intent was deleted before conversion")
def token_intent_deleted(ctx: BuildContext) -> dict[str, Any]:
    intent = obtain(ctx, "token_intent", lambda c: new_intent(c, 3600.0))
    discard(ctx, "token_intent")
    data = {"token_intent": {"id": intent["id"]}}
    return wrap(ctx, "token-intent.deleted", data, app_actor(ctx, "private"))


@PROVIDER.event("token-intent.converted", "Token Intent Converted: a token intent became a persistent token")
def token_intent_converted(ctx: BuildContext) -> dict[str, Any]:
    intent = obtain(ctx, "token_intent", lambda c: new_intent(c, 3600.0))
    actor = app_actor(ctx, "private")
    made = ctx.world.get("token", ctx.ref) if ctx.ref is not None else None
    trace = None
    if made is not None and made.get("_intent") == intent["id"]:
        token = made  # announced by the step's token.created, as the API's conversion does
        trace = made.get("_trace")  # the same request's: the API twin's conversion gives both its BT-TRACE-ID
    else:
        token = new_token(ctx, intent["type"], created_by=actor["id"], fingerprint=intent["fingerprint"])
        store(ctx, "token", token)
    discard(ctx, "token_intent")
    data = {"token_intent": project(intent, ("id", "type")), "token": project(token, ("id", "type"))}
    return wrap(ctx, "token-intent.converted", data, actor, trace)


# --- 3DS sessions ---------------------------------------------------------------------------------


def new_3ds_session(ctx: BuildContext, created_at: float = 0.0) -> Entity:
    """A 3DS session opened by the public application for one card, named as `POST /3ds/sessions` takes it: a
    `token_intent_id` or a `token_id`, never both (the docs' session examples carry only the one they were made
    for). The card is the run's live card token intent, else its latest card token: what the run announced, so
    the API twin serves it. A run that announced neither gets a card of its own, an intent one time in four."""
    rng = ctx.rng
    intent = ctx.world.get("token_intent")
    if intent is None or intent.get("type") != "card":
        card = tenant(ctx).get("_card")
        if (card is None or card.get("_gone")) and rng.random() < 0.25:
            intent = ctx.world.put("token_intent", new_intent(ctx, 600.0, "card"))
        else:
            intent = None
    made = v.earlier(ctx.now, rng, 5, created_at) if created_at else ctx.now
    kind = "customer" if rng.random() < 0.85 else "merchant"
    session = {
        "id": uid(ctx, "3ds_session"),
        "type": kind,
        "tenant_id": tenant(ctx)["id"],
        "created_at": iso_ms(made),
        "created_by": _session_creator(ctx, kind)["id"],
        "device": "browser" if rng.random() < 0.7 else "mobile",
        "expires_at": iso_ms(made + timedelta(minutes=30)),
    }
    if intent is not None:
        session["token_intent_id"] = intent["id"]
        brand = intent.setdefault("_brand", v.pick(rng, v.CARD_BRANDS, v.CARD_BRAND_WEIGHTS))
    else:
        token = card_token(ctx)
        session["token_id"] = token["id"]
        brand = token.get("_brand", "Visa")
    session["card_brand"] = brand
    return session


def _session_creator(ctx: BuildContext, kind: str) -> Entity:
    """Who opens a 3DS session of `kind`: a customer's (CIT) the frontend SDKs, the public application; a
    merchant's (MIT) the backend, the private one: Basis Theory makes those "only through the API or backend SDKs"
    (the 3DS sessions page). Opened by a mobile app, a merchant session told of a cardholder who is not there."""
    return app_actor(ctx, "public" if kind == "customer" else "private")


def _fields(session: Entity, keys: tuple[str, ...]) -> dict[str, Any]:
    """`keys` of the session that it has: it names its token or its token intent, not both."""
    return project(session, (k for k in keys if k in session))


def _session_3ds(ctx: BuildContext) -> Entity:
    return obtain(ctx, "3ds_session", lambda c: new_3ds_session(c, 120.0))


SESSION_3DS_FIELDS = (
    "id",
    "type",
    "tenant_id",
    "created_at",
    "created_by",
    "device",
    "expires_at",
    "token_id",
    "token_intent_id",
    "card_brand",
)


@PROVIDER.event("3ds.session.created", "3DS Session Created: a 3DS session was created for a card")
def threeds_created(ctx: BuildContext) -> dict[str, Any]:
    session = store(ctx, "3ds_session", new_3ds_session(ctx))
    actor = _session_creator(ctx, session["type"])
    return wrap(ctx, "3ds.session.created", {"session": _fields(session, SESSION_3DS_FIELDS)}, actor)


@PROVIDER.event("3ds.session.authenticated", "3DS Session Authenticated: a 3DS authentication finished")
def threeds_authenticated(ctx: BuildContext) -> dict[str, Any]:
    session = _session_3ds(ctx)
    session["authentication_status"] = v.pick(ctx.rng, v.AUTHENTICATION_STATUSES, v.AUTHENTICATION_WEIGHTS)
    keys = ("id", "type", "authentication_status", *SESSION_3DS_FIELDS[3:])
    return wrap(ctx, "3ds.session.authenticated", {"session": _fields(session, keys)}, app_actor(ctx, "private"))


@PROVIDER.event(
    "3ds.session.challenge-result-retrieved",
    "3DS Challenge Result Retrieved: the result of a 3DS challenge was retrieved",
)
def threeds_challenge_result(ctx: BuildContext) -> dict[str, Any]:
    session = _session_3ds(ctx)
    return wrap(
        ctx,
        "3ds.session.challenge-result-retrieved",
        {"session": _fields(session, SESSION_3DS_FIELDS)},
        app_actor(ctx, "private"),
    )


@PROVIDER.event(
    "3ds.session.decoupled-challenge-notification",
    "3DS Decoupled Challenge Notification: the issuer finished an out-of-band challenge",
)
def threeds_decoupled(ctx: BuildContext) -> dict[str, Any]:
    session = _session_3ds(ctx)
    return wrap(
        ctx,
        "3ds.session.decoupled-challenge-notification",
        {"session": project(session, ("id", "type", "tenant_id"))},
        system(ctx),
    )


# The outcome a finished challenge reports, by weight: most cardholders who reach a challenge pass it.
CHALLENGE_STATUSES = ("successful", "failed")
CHALLENGE_WEIGHTS = (85, 15)


@PROVIDER.event(
    "3ds.session.method-completed",
    "3DS Method Request Completed: the issuer's 3DS Method call for a session finished",
)
def threeds_method_completed(ctx: BuildContext) -> dict[str, Any]:
    session = _session_3ds(ctx)
    # The browser and the issuer's ACS completed the call; Basis Theory reports it, no caller acted.
    data = {"session": project(session, ("id", "type", "tenant_id"))}
    return wrap(ctx, "3ds.session.method-completed", data, system(ctx))


@PROVIDER.event(
    "3ds.session.challenge-completed",
    "3DS Challenge Completed: the cardholder finished a 3DS challenge; its outcome is in authentication_status",
)
def threeds_challenge_completed(ctx: BuildContext) -> dict[str, Any]:
    session = _session_3ds(ctx)
    # Kept on the session: the challenge's outcome is what the session's authentication shows from now on.
    session["authentication_status"] = v.pick(ctx.rng, CHALLENGE_STATUSES, CHALLENGE_WEIGHTS)
    data = {"session": project(session, ("id", "type", "tenant_id", "authentication_status"))}
    return wrap(ctx, "3ds.session.challenge-completed", data, system(ctx))


# --- account updater ------------------------------------------------------------------------------


def _job_event(ctx: BuildContext, etype: str, status: str) -> dict[str, Any]:
    if status == "pending":
        job = store(ctx, "account_updater_job", {"id": uid(ctx, "account_updater_job"), "status": status})
        actor = app_actor(ctx, "private")
    else:
        job = obtain(ctx, "account_updater_job", lambda c: {"id": uid(c, "account_updater_job"), "status": "pending"})
        actor = system(ctx)
    job["status"] = status
    return wrap(ctx, etype, {"job": project(job, ("id", "status"))}, actor)


@PROVIDER.event(
    "account-updater.job.created", "Account Updater Job Created: a batch of cards was submitted to the account updater"
)
def job_created(ctx: BuildContext) -> dict[str, Any]:
    return _job_event(ctx, "account-updater.job.created", "pending")


@PROVIDER.event(
    "account-updater.job.completed",
    "Account Updater Job Completed: the card networks returned the updated card details",
)
def job_completed(ctx: BuildContext) -> dict[str, Any]:
    return _job_event(ctx, "account-updater.job.completed", "completed")


@PROVIDER.event("account-updater.job.failed", "Account Updater Job Failed: the account updater job failed")
def job_failed(ctx: BuildContext) -> dict[str, Any]:
    return _job_event(ctx, "account-updater.job.failed", "failed")
