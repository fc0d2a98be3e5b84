"""The Basis Theory API twin's backend: one per simulator, holding the rules of its flows (moto style: the routes
only parse and serialise).

One world: the twin's objects are the stored events folded in order (`providers.basistheory.api_state`) plus
what its own API created (`store.twins`), so whatever a run, `POST /events` or the twin itself emitted can be
read back with the fields the event carried. API calls that change something emit the provider's events through
the simulator's delivery engine, to every matching subscription, signed as usual.

Where it differs from Basis Theory: one tenant answers every key (its id and its applications are kept in the
store's settings, so they survive a restart); the events of runs and of `POST /events` belong to tenants of
their own, and their objects are readable with any key too.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from simulator import catalog
from simulator.errors import SimError
from simulator.ids import uuid4
from simulator.models import BuildContext, Event
from simulator.models.inputs import SubscriptionPatch, SubscriptionSpec
from simulator.providers.base import compact_json
from simulator.providers.basistheory import api, api_convert, api_data, api_events, api_mask, api_state
from simulator.providers.basistheory._common import app_actor, application, tenant
from simulator.store import postgres
from simulator.store.twins import Cursor, Obj, TwinStore
from simulator.timeutil import add_seconds, iso_ms, now_utc

if TYPE_CHECKING:
    from simulator.core.simulator import Simulator

TENANT_SETTING = "basistheory.tenant"
# The objects an event's data names, by their key there, and the kind the twin keeps them as (a `session` is a
# 3DS session in `3ds.session.*` events only: elsewhere it is a browser session, which the twin does not keep).
_NAMED = {
    "token": "token",
    "token_intent": "token_intent",
    "session": "3ds_session",
    "application": "application",
    "reactor": "reactor",
    "proxy": "proxy",
}
# What `as_known` takes from the twin's object: what it was made as, and what goes with its type (a card token's
# containers are not those of the made-up token around the id). What the event is about, a `token.updated`'s
# metadata say, stays as made.
_KNOWN = (*api_state.FIXED, "containers", "search_indexes", "mask", "expires_at")
_BACKENDS: weakref.WeakKeyDictionary[Simulator, BasisTheoryBackend] = weakref.WeakKeyDictionary()


def backend(sim: Simulator) -> BasisTheoryBackend:
    """The simulator's Basis Theory backend (made on first use)."""
    found = _BACKENDS.get(sim)
    if found is None:
        found = _BACKENDS[sim] = BasisTheoryBackend(sim)
    return found


class BasisTheoryBackend:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.tables = TwinStore(sim.store)
        self._seen = Cursor(-1, "")  # the newest event when the fold last caught up
        self._ahead: set[str] = set()  # events folded beyond the fold's cursor (see `TwinStore.fold`)
        self._lock = asyncio.Lock()  # one changing flow at a time: an intent is converted once
        self._ctx: BuildContext | None = None
        self._saved_tenant: str | None = None
        self._standing_apps: set[str] = set()  # the tenant's applications known held as REST objects (see `_standing`)
        sim.after_reset.append(self._forget)

    @asynccontextmanager
    async def _changing(self) -> AsyncIterator[None]:
        """One changing call at a time: in this process, and on a shared store in every process. Each server let
        one in at a time among its own only: an intent converted through two servers at once made two tokens,
        and a token id chosen through both was made twice, the second replacing the first unseen. (One holder
        per process, so the lock's pooled connection is one of the pool, however many calls wait.)"""
        async with self._lock, postgres.one_editor(self.sim.store.engine, "basistheory twin"):
            yield

    def _forget(self) -> None:
        """The store was emptied: the next read folds from the start."""
        self._seen = Cursor(-1, "")
        self._ahead.clear()
        self._standing_apps.clear()

    def authenticate(self, key: str | None) -> None:
        api.check_key(key, self.sim.provider_key)

    # -- reading ----------------------------------------------------------------------------------------

    async def sync(self, head: Cursor | None = None) -> None:
        """Fold in the events stored since the last call (nothing to do, the usual case, costs one query)."""
        if head is None:
            head = await self.tables.head()
        if head == self._seen:
            return
        more, after = True, 0
        while more:
            # Not the events of a run from the first that no delivery has started (`delivery.gate`): the
            # API shows what has been sent, not what is stored ahead of it. The rest are folded as they come.
            done = await self.tables.fold(
                api_state.changes, api_state.apply, held=self._held, ahead=self._ahead, after=after
            )
            self._ahead.difference_update(done.passed)
            self._ahead.update(done.ahead)
            more, after = done.more, done.last
        self._seen = done.cursor

    def _held(self, key: str) -> bool:
        return self.sim.engine.gate.held("basistheory", key)

    async def get(self, kind: str, obj_id: str, what: str) -> dict[str, Any]:
        """The live object, as the REST API shows it; a deleted, expired or converted one is a 404."""
        head, found = await self.tables.head_and_get(kind, obj_id)
        # Events arrived since the last fold: fold them, read again. With no event stored the joined read answers
        # no object at all, while the twin may hold one no event announced (a webhook's creator): read it alone.
        if head != self._seen or head == Cursor():
            await self.sync(head)
            found = await self.tables.get(kind, obj_id)
        if found is None or found.state != api_state.LIVE:
            raise api.not_found(what, obj_id)
        return api.view(kind, found.body)

    async def read_token(self, token_id: str, trace_id: str | None) -> dict[str, Any]:
        """`GET /tokens/{id}`: the token, and the `token.read` Basis Theory emits for each read. Not under the
        changing lock: a read changes no object, and its event folds in as nothing."""
        token = await self.get("token", token_id, "token")
        ctx = await self._context()
        event = api_events.token_read(ctx, token, app_actor(ctx, "private"), trace_id)
        await self._publish(ctx, "token.read", api_events.owned_by(event, token.get("tenant_id")))
        return token

    async def page(self, kind: str, start: str | None, size: str | None) -> dict[str, Any]:
        """A cursor page of live objects, newest `created_at` first: `{"pagination": {"page_size", "next"?},
        "data"}`."""
        limit, before = api.page_size(size), api.decode_place(start)
        await self.sync()
        found = await self.tables.page(kind, before, limit + 1)
        pagination: dict[str, Any] = {"page_size": limit}
        if len(found) > limit:
            found = found[:limit]
            pagination["next"] = api.encode_place(found[-1].created, found[-1].n)
        return {"pagination": pagination, "data": [api.view(kind, o.body) for o in found]}

    # -- tokens and intents -----------------------------------------------------------------------------

    async def create_intent(self, body: dict[str, Any], trace_id: str | None) -> dict[str, Any]:
        kind = api.token_type(body, api.INTENT_TYPES)
        data = api_data.checked_data(kind, body.get("data"))
        async with self._changing():
            await self.sync()  # what runs stored first is numbered first: lists are newest first
            ctx = await self._context()
            actor = app_actor(ctx, "public")
            intent = {
                "id": uuid4(ctx.rng),
                "tenant_id": tenant(ctx)["id"],
                "type": kind,
                **api.details(kind, data),
                "fingerprint": api.fingerprint(kind, data),
                "created_by": actor["id"],
                "created_at": iso_ms(ctx.now),
                "expires_at": iso_ms(add_seconds(ctx.now, api.INTENT_TTL)),
                "_data": data,
            }
            await self.tables.put("token_intent", intent["id"], intent["tenant_id"], api_state.LIVE, intent)
            await self._publish(ctx, "token-intent.created", api_events.intent_created(ctx, intent, actor, trace_id))
        return api.view("token_intent", intent)

    async def create_token(self, body: dict[str, Any], trace_id: str | None) -> dict[str, Any]:
        """`type` + `data` make a token; `token_intent_id` converts the intent (its CVC stays behind)."""
        options, chosen_id = api.token_options(body), api.token_id(body)
        intent_id = body.get("token_intent_id")
        if intent_id is None:
            kind = api.token_type(body)
            data = api_data.checked_data(kind, body.get("data"))
        elif not isinstance(intent_id, str) or not intent_id:
            raise api.invalid("token_intent_id", "must be a token intent's id")
        elif "\x00" in intent_id:  # no id holds one, and PostgreSQL's text refused it: the look-up was a 500
            raise api.invalid("token_intent_id", "must not contain a NUL character")
        elif body.get("type") is not None or body.get("data") is not None:
            # Basis Theory takes `type` and `data`, or `token_intent_id`: with both, one of them would be dropped.
            raise api.invalid("token_intent_id", "converts an intent: give it without type and data")
        async with self._changing():
            await self.sync()  # what runs stored first is numbered first: lists are newest first
            intent = await self._live_intent(intent_id) if intent_id is not None else None
            told: dict[str, Any] = {}  # what the token takes from an intent only events announced
            if intent is not None:
                kind, data, told = await self._intent_data(intent)
            api.shown_within(options, data)  # the intent's data, when it is converted
            ctx = await self._context()
            if chosen_id is not None and (taken := await self.tables.get("token", chosen_id)) is not None:
                # A deleted token's id stays its own: its events still name it, and the twin's objects are them.
                was = "already exists" if taken.state == api_state.LIVE else f"was a token's, now {taken.state}"
                raise api.ApiError(409, f"a token with id {chosen_id!r} {was}", {"id": [was]})
            actor = app_actor(ctx, "private")
            token = {**self._new_token(ctx, chosen_id, kind, data, options, actor), **told}
            # A run's intent is its tenant's, and so is the token it becomes: at Basis Theory only a key of that
            # tenant reaches the intent. The twin's own intents are its tenant's, as its tokens are.
            owner = intent.tenant_id if intent is not None and intent.tenant_id else token["tenant_id"]
            token["tenant_id"] = owner
            await self.tables.put("token", token["id"], owner, api_state.LIVE, token)
            event = api_events.token_created(ctx, token, actor, trace_id)
            await self._publish(ctx, "token.created", api_events.owned_by(event, owner))
            if intent is not None:
                await self.tables.put("token_intent", intent.id, intent.tenant_id, api_state.CONVERTED, intent.body)
                event = api_events.intent_converted(ctx, intent.body, token, actor, trace_id)
                await self._publish(ctx, "token-intent.converted", api_events.owned_by(event, owner))
        return api.view("token", token)

    async def _intent_data(self, intent: Obj) -> tuple[str, Any, dict[str, Any]]:
        """The token type and data a conversion of `intent` makes, and the fields the token takes from the
        intent over those its data gives. The twin's own intents hold their data (a card's CVC stays behind); an
        intent only events announced gets data made up to agree with them (`api_convert`), the brand of a 3DS
        session opened on it included, or a 422 when its type has none to make."""
        body = intent.body
        if "_data" in body:
            kind, data = body["type"], body["_data"]
            return kind, ({k: x for k, x in data.items() if k != "cvc"} if kind == "card" else data), {}
        session = None
        if body.get("type") in ("card", "card_number"):
            session = await self.tables.newest_naming("3ds_session", "token_intent_id", intent.id)
        made = api_convert.made({**body, "id": intent.id}, (session or {}).get("card_brand"))
        return made.kind, made.data, made.fields

    def _new_token(
        self,
        ctx: BuildContext,
        chosen_id: str | None,
        kind: str,
        data: Any,
        options: dict[str, Any],
        actor: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "id": chosen_id or uuid4(ctx.rng),
            "tenant_id": tenant(ctx)["id"],
            "type": kind,
            **api.details(kind, data),
            "mask": options["mask"] if "mask" in options else api_mask.default(kind),
            "metadata": options.get("metadata", {}),
            "containers": options.get("containers", [api.container(kind)]),
            "fingerprint": api.fingerprint(kind, data),
            "fingerprint_expression": options.get("fingerprint_expression") or api.fingerprint_expression(kind),
            "search_indexes": options.get("search_indexes", []),
            "created_by": actor["id"],
            "created_at": iso_ms(ctx.now),
            "expires_at": options.get("expires_at"),
            "_expires_at": options.get("expires_at_shown"),  # the REST answer's, in the creator's offset
            "_extras": {"deduplicated": False},
            "_data": data,
        }

    async def _live_intent(self, intent_id: str) -> Obj:
        await self.sync()
        found = await self.tables.get("token_intent", intent_id)
        if found is None or found.state != api_state.LIVE or await self._ended_unshown("token_intent", intent_id):
            raise api.not_found("token intent", intent_id)
        return found

    async def _ended_unshown(self, kind: str, obj_id: str) -> bool:
        """Whether a run's event that the twin does not show yet (held until it is sent) ends the object: converted
        again or deleted now, it was converted twice (two live tokens of one intent) or deleted twice. The caller
        is told it is gone, as when another caller converted it first."""
        unshown = await self.tables.unshown_changes(api_state.changes, obj_id)
        return any(c.kind == kind and c.id == obj_id and c.state not in (None, api_state.LIVE) for c in unshown)

    async def delete(self, kind: str, obj_id: str, trace_id: str | None) -> None:
        """Delete a token or a token intent (`token.deleted` / `token-intent.deleted`)."""
        async with self._changing():
            await self.sync()
            found = await self.tables.get(kind, obj_id)
            if found is None or found.state != api_state.LIVE or await self._ended_unshown(kind, obj_id):
                raise api.not_found("token" if kind == "token" else "token intent", obj_id)
            await self.tables.put(kind, obj_id, found.tenant_id, api_state.DELETED, found.body)
            ctx = await self._context()
            actor = app_actor(ctx, "private")
            if kind == "token":
                event = api_events.token_deleted(ctx, obj_id, actor, trace_id)
                await self._publish(ctx, "token.deleted", api_events.owned_by(event, found.tenant_id))
            else:
                event = api_events.intent_deleted(ctx, obj_id, actor, trace_id)
                await self._publish(ctx, "token-intent.deleted", api_events.owned_by(event, found.tenant_id))

    # -- webhooks ---------------------------------------------------------------------------------------

    def event_types(self) -> list[str]:
        return [e.name for e in catalog.event_types("basistheory")]

    async def webhooks(self) -> list[dict[str, Any]]:
        return [await self._webhook_view(row) for row in await self.tables.webhooks()]

    async def webhook(self, webhook_id: str) -> dict[str, Any]:
        return await self._webhook_view(await self._webhook_row(webhook_id))

    async def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = api.webhook_fields(body, self.event_types(), update=False)
        async with self._changing():
            ctx = await self._context()
            owner = tenant(ctx)["id"]
            if len(await self.tables.webhooks(owner)) >= api.MAX_WEBHOOKS:
                raise api.ApiError(422, f"a tenant may have at most {api.MAX_WEBHOOKS} webhooks")
            events = [f"basistheory:{e}" for e in fields["events"]]
            spec = _subscription(lambda: SubscriptionSpec(url=fields["url"], events=events, signing="basistheory"))
            sub = await _core(self.sim.create_subscription(spec))
            row = {
                "id": uuid4(ctx.rng),
                "subscription_id": sub.id,
                "tenant_id": owner,
                "name": fields["name"],
                "notify_email": fields["notify_email"],
                "created_by": (await self._manager(ctx))["id"],
                "created_at": iso_ms(ctx.now),
            }
            await self.tables.put_webhook(row)
            await self._save_tenant(ctx)
        return await self._webhook_view(row)

    async def update_webhook(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT: name, url, events and notify_email replaced; `status` enables or disables (and so resets the
        failure count that disabled it, as re-enabling a subscription does)."""
        fields = api.webhook_fields(body, self.event_types(), update=True)
        async with self._changing():
            row = await self._webhook_row(webhook_id)
            changes: dict[str, Any] = {"url": fields["url"], "events": [f"basistheory:{e}" for e in fields["events"]]}
            if "status" in fields:
                changes["enabled"] = fields["status"] == "enabled"
            patch = _subscription(lambda: SubscriptionPatch(**changes))
            await _core(self.sim.update_subscription(row["subscription_id"], patch))
            ctx = await self._context()
            row = {
                **row,
                "name": fields["name"],
                "notify_email": fields["notify_email"],
                "modified_by": (await self._manager(ctx))["id"],
                "modified_at": iso_ms(ctx.now),
            }
            await self.tables.put_webhook(row)
        return await self._webhook_view(row)

    async def delete_webhook(self, webhook_id: str) -> None:
        async with self._changing():
            row = await self._webhook_row(webhook_id)
            await _core(self.sim.delete_subscription(row["subscription_id"]))
            await self.tables.delete_webhook(webhook_id)

    async def _manager(self, ctx: BuildContext) -> dict[str, Any]:
        """The tenant's management application, which webhooks name as `created_by` / `modified_by`, held as its
        REST object: no event announces it (webhook calls emit none), and `GET /applications/{id}` was a 404."""
        return await self._standing(ctx, application(ctx, "management"))

    async def _standing(self, ctx: BuildContext, app: dict[str, Any]) -> dict[str, Any]:
        """An application of the twin's tenant, held as its REST object with that tenant. Known first from an event
        it acts in, it took that event's tenant: a read of a run's token is told by the run's tenant, and the
        twin's private application then answered as that other tenant's."""
        if app["id"] not in self._standing_apps and await self.tables.get("application", app["id"]) is None:
            body = {**{k: x for k, x in app.items() if not k.startswith("_")}, "tenant_id": tenant(ctx)["id"]}
            await self.tables.put("application", app["id"], body["tenant_id"], api_state.LIVE, body)
        self._standing_apps.add(app["id"])
        return app

    async def _webhook_row(self, webhook_id: str) -> dict[str, Any]:
        row = await self.tables.webhook(webhook_id)
        if row is None:
            raise api.not_found("webhook", webhook_id)
        return row

    async def _webhook_view(self, row: dict[str, Any]) -> dict[str, Any]:
        sub = await _core(self.sim.subscription(row["subscription_id"]))
        return api.webhook_view(row, sub.url, sub.status, _delivered_types(sub.events))

    # -- events made elsewhere -------------------------------------------------------------------------

    async def as_known(self, event: Event, overrides: Mapping[str, Any]) -> Event:
        """`event` (made by `POST /events`) as it tells of the objects its overrides name by id, where the twin
        holds them: what such an object was made as (`_KNOWN`: its tenant, type, creation, fingerprint, containers)
        is the twin's, not the made-up values around the id, unless an override sets that field too. A token made
        through the API and named in a `token.updated` is that token, and reading it back agrees with the event."""
        named = [(key, kind) for key, kind in _NAMED.items() if f"data.{key}.id" in overrides]
        if not named:
            return event
        body = copy.deepcopy(event.parsed())
        await self.sync()
        changed = False
        held: set[str] = set()  # the kinds of the named objects the twin holds
        for key, kind in named:
            obj = (body.get("data") or {}).get(key)
            if (kind == "3ds_session" and not event.type.startswith("3ds.session.")) or not isinstance(obj, dict):
                continue
            found = await self.tables.get(kind, str(obj.get("id")))
            if found is None:
                continue
            held.add(kind)
            known = _webhook_names(kind, found.body)
            for field in _KNOWN:
                if field in obj and field in known and f"data.{key}.{field}" not in overrides:
                    changed |= obj[field] != known[field]
                    obj[field] = known[field]
            if found.tenant_id and "tenant_id" not in overrides and body.get("tenant_id") != found.tenant_id:
                body["tenant_id"], changed = found.tenant_id, True
        if event.type == "token-intent.converted" and held & {"token_intent", "token"} == {"token_intent"}:
            changed |= _of_its_intents_type(body.get("data"), overrides)
        if not changed:
            return event
        return replace(event, data=body, json=compact_json(body, ensure_ascii=False, allow_nan=False))

    # -- the tenant and emitting --------------------------------------------------------------------------

    async def _context(self) -> BuildContext:
        """The twin's build context: its own world holding its tenant (kept in the settings), the time now."""
        if self._ctx is None:
            ctx = catalog.new_context(random.SystemRandom().randrange(2**63), now_utc())
            saved = await self.sim.store.get_setting(TENANT_SETTING)
            if saved is not None:
                ctx.world.put("tenant", json.loads(saved))
                self._saved_tenant = saved
            tenant(ctx)
            self._ctx = ctx
            await self._save_tenant(ctx)
        self._ctx = replace(self._ctx, now=now_utc())
        return self._ctx

    async def _save_tenant(self, ctx: BuildContext) -> None:
        """Keep the tenant, its actors and standing applications, so ids survive a restart."""
        kept = {k: x for k, x in tenant(ctx).items() if k not in ("_card", "_joining")}
        text = json.dumps(kept, sort_keys=True)
        if text != self._saved_tenant:
            await self.sim.store.set_setting(TENANT_SETTING, text)
            self._saved_tenant = text

    async def _publish(self, ctx: BuildContext, name: str, data: dict[str, Any]) -> None:
        """Deliver one event the API caused, as `POST /events` would, then fold it in."""
        if not self.sim.accepting:
            raise api.ApiError(503, "the simulator is shutting down")
        etype = catalog.resolve(name, "basistheory")
        told = data.get("data")
        actor = told.get("actor") if isinstance(told, dict) else None
        acting = actor.get("id") if isinstance(actor, dict) else None
        for app in tenant(ctx)["_apps"].values():
            if app["id"] == acting:
                await self._standing(ctx, app)
        event = catalog.get_provider("basistheory").finish(etype, data, ctx)
        subs = await self.sim.subscriptions.matching(etype)
        await self.sim.engine.publish(event, subs, speed=1.0)
        await self.sim.store.writer.barrier()
        await self._save_tenant(ctx)
        await self.sync()


def _of_its_intents_type(data: Any, overrides: Mapping[str, Any]) -> bool:
    """A conversion makes a token of its intent's type: the token a `token-intent.converted` made up beside an
    intent the twin holds takes that intent's type (a bank intent was told converted into a card token, and the
    twin served a card token), unless an override sets it. Whether the event changed."""
    intent, token = (data.get(k) if isinstance(data, dict) else None for k in ("token_intent", "token"))
    if "data.token.type" in overrides or not isinstance(intent, dict) or not isinstance(token, dict):
        return False
    if "type" not in intent or token.get("type") == intent["type"]:
        return False
    token["type"] = intent["type"]
    return True


def _webhook_names(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """An object's REST fields under the names its events give them (a 3DS session's `created_date` is
    `created_at` there)."""
    out = dict(body)
    if kind == "3ds_session":
        out.update({webhook: out[rest] for webhook, rest in api_state.SESSION_3DS_RENAMES if rest in out})
    return out


def _delivered_types(filters: Sequence[str]) -> list[str]:
    """The Basis Theory event types a subscription's filters deliver, in the filters' order. What the control API
    may set there (`basistheory:*`, `token.*`, another provider's type, none at all) was shown as it stood: names
    no Basis Theory webhook holds, which `PUT /webhooks/{id}` then refused when a client sent back what it read."""
    known = catalog.event_types("basistheory")
    if not filters:  # no filter delivers every type
        return [e.name for e in known]
    out: list[str] = []
    for flt in filters:
        for etype in known:
            if etype.name not in out and catalog.matches([flt], etype):
                out.append(etype.name)
    return out


def _subscription(make: Any) -> Any:
    """A subscription spec or patch; what pydantic refuses (a URL it cannot read) is the caller's 400."""
    try:
        return make()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "body"
        raise api.invalid(field, first.get("msg", "invalid")) from None


async def _core(call: Any) -> Any:
    """A core call whose refusals (a subscription removed meanwhile, a URL it refuses) are the caller's."""
    try:
        return await call
    except SimError as exc:
        status = 404 if exc.status == 404 else 400
        raise api.ApiError(status, exc.detail, {e.field or "body": [e.message] for e in exc.errors}) from None
