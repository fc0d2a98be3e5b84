"""The Syncfy API twin's account side: users, session tokens and V1 webhooks.

A V1 webhook is a real simulator subscription (signed with the native `syncfy` scheme, visible and editable in
the control API); the twin keeps only the fields Syncfy has and the simulator does not (`id_user`, `delay` as
given, the event names as given, the dates). Its `url`, `is_disabled` and `ct_failed` are read from the
subscription, so a change made through the control API shows here too, and a subscription deleted there is a
webhook gone here.

Where the emulation differs from Syncfy: `delay` (seconds) becomes a `delay` fault of the subscription; a
webhook may carry `key`, the secret its deliveries are signed with (Syncfy's dashboard sets it for Webhooks V3;
without it the subscription gets a generated one, readable only through the control API at creation). Syncfy
documents the `POST` of `url`, `events`, `id_user`, `delay` and `headers` only: `PUT` takes the same fields and
`key`, and `POST` takes `is_disabled` as `GET` shows it, so that every field a webhook has can be set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from simulator.core.syncfy_api import Caller, bad_input, flag, not_found, paging, without_nul
from simulator.core.syncfy_flows import CredentialFlows, new_object_id
from simulator.errors import InvalidInput, NotFound, Unauthorized
from simulator.models.inputs import M, SubscriptionPatch, SubscriptionSpec, parse
from simulator.models.records import Subscription
from simulator.providers.syncfy import api
from simulator.store import postgres

if TYPE_CHECKING:
    from simulator.core.syncfy_api import SyncfyBackend


class Accounts:
    def __init__(self, backend: SyncfyBackend) -> None:
        self.backend = backend
        self.sim = backend.sim
        self.tables = backend.tables
        self._webhook_edits = asyncio.Lock()  # see `_editing`

    # -- users --------------------------------------------------------------------------------------------

    async def users(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The users the API created and those the events named, oldest first (`id_external` filters)."""
        await self.backend.catch_up()
        rows = {r["id_user"]: r for r in await self.tables.api_users()}
        out = [_user_body(r) for r in rows.values() if not r["deleted"]]
        for event in await self.tables.users(self.backend.hidden_from()):
            id_user = str(event.user.get("id_user"))
            if id_user not in rows:
                out.append(_user_body({"id_user": id_user, "id_external": event.user.get("id_external")}))
        wanted = params.get("id_external")
        chosen = [u for u in out if wanted in (None, "") or u["id_external"] == wanted]
        skip, limit = paging(params) if params.get("limit") or params.get("skip") else (0, api.PAGE_LIMIT)
        return chosen[skip : skip + limit]

    async def create_user(self, params: Mapping[str, Any]) -> dict[str, Any]:
        name = _name(params.get("name"))
        row = {
            "id_user": new_object_id(),
            "id_external": _external(params.get("id_external")),
            "name": name,
            "dt_create": int(time.time()),
            "dt_modify": None,
            "deleted": False,
        }
        await self.tables.put_user(row)
        return _user_body(row)

    async def update_user(self, id_user: str, params: Mapping[str, Any]) -> dict[str, Any]:
        row = await self._user_row(id_user)
        # Checked as `create_user` checks them: `str()` of a list or object was stored as Python wrote it.
        if "name" in params:
            row["name"] = _name(params["name"])
        if "id_external" in params:
            row["id_external"] = _external(params["id_external"])
        row["dt_modify"] = int(time.time())
        await self.tables.put_user(row)
        return _user_body(row)

    async def delete_user(self, id_user: str, flows: CredentialFlows) -> None:
        """The user, their credentials with the data they hold (as a credential's DELETE takes its own) and their
        sessions: a user deleted whose accounts and transactions were still served, to a token made before."""
        row = await self._user_row(id_user)
        async with flows.user_lock(id_user):  # no credential of theirs registered meanwhile
            row["deleted"] = True
            await self.tables.put_user(row)
            # Those the events named (indexed up to now), and those the API registered.
            await self.backend.catch_up()
            named = await self.tables.credentials(id_user)
            ids = dict.fromkeys([*named, *await self.tables.api_credentials_of(id_user)])
            for id_credential in ids:
                with contextlib.suppress(NotFound):  # already deleted
                    await flows.delete_held(Caller(True, id_user), id_credential)
        await self.tables.delete_sessions_of(id_user)

    async def _user_row(self, id_user: str) -> dict[str, Any]:
        for row in await self.tables.api_users():
            if row["id_user"] == id_user and not row["deleted"]:
                return row
        for user in await self.users({}):
            if user["id_user"] == id_user:
                return {**user, "dt_create": int(id_user[:8], 16), "deleted": False}
        raise not_found("id_user", id_user)

    # -- sessions -----------------------------------------------------------------------------------------

    async def create_session(self, params: Mapping[str, Any]) -> dict[str, str]:
        id_user = params.get("id_user")
        if not isinstance(id_user, str) or not id_user:
            raise bad_input("id_user is required", "id_user")
        await self._user_row(id_user)
        token = secrets.token_hex(32)
        await self.tables.put_session(token, id_user, time.time())
        return {"token": token}

    async def verify_session(self, token: str) -> bool:
        found = await self.tables.session(token)
        if found is None or time.time() - found[1] > api.SESSION_IDLE:
            raise Unauthorized("the session token is not valid or has expired")  # as Syncfy answers (recorded)
        await self.tables.touch_session(token, time.time())
        return True

    async def delete_session(self, token: str) -> bool:
        if await self.tables.session(token) is None:
            raise Unauthorized("the session token is not valid or has expired")
        await self.tables.delete_session(token)
        return True

    # -- webhooks -----------------------------------------------------------------------------------------

    async def create_webhook(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A webhook: a `syncfy`-signed subscription to the named events, for every user or `id_user`'s."""
        events = params.get("events")
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            raise bad_input("events must be a list of event names", "events")
        filters = _filters(events)
        delay = _delay(params.get("delay", 0))
        id_user = await self._owner(params.get("id_user"))
        # As `GET` shows it and `PUT` changes it: a webhook may be made disabled, and is then sent nothing.
        disabled = flag(params["is_disabled"], "is_disabled") if "is_disabled" in params else False
        spec = {
            "url": params.get("url"),
            "events": filters,
            "signing": "syncfy",
            "secret": params.get("key"),
            "headers": params.get("headers") or {},
            "faults": {"delay": f"{delay}s"} if delay else {},
            # Enabled once its row says it is a V1 webhook's: no event reaches it before its body's form is known
            # (see `simulator.core.syncfy_v1`).
            "enabled": False,
        }
        sub = await self.sim.create_subscription(_as_webhook(SubscriptionSpec, spec))
        row = {
            "id_webhook": new_object_id(),
            "subscription_id": sub.id,
            "id_user": id_user,
            "events": json.dumps(events),
            "delay": delay,
            "dt_created": int(time.time()),
            "dt_modified": None,
        }
        await self.tables.put_webhook(row)
        if not disabled:
            sub = await self.sim.update_subscription(sub.id, parse(SubscriptionPatch, {"enabled": True}))
        return _webhook_body(row, sub, listed=False)

    async def _owner(self, id_user: Any) -> str | None:
        """A webhook's `id_user`: None for every user's credentials (none given, or empty), else a user's id."""
        if id_user in (None, ""):
            return None
        if not isinstance(id_user, str):
            raise bad_input("id_user must be a user's id", "id_user")
        await self._user_row(id_user)  # a webhook for nobody would never be called: refused, as sessions are
        return id_user

    async def webhooks(self, id_webhook: str | None = None) -> list[dict[str, Any]]:
        """The webhooks whose subscriptions still exist, as `GET /webhooks` shows them."""
        out = []
        for row in await self.tables.webhooks(id_webhook):
            sub = await self.sim.store.get_subscription(row["subscription_id"])
            if sub is not None:
                out.append(_webhook_body(row, sub, listed=True))
        return out

    async def update_webhook(self, id_webhook: str, params: Mapping[str, Any]) -> dict[str, Any]:
        async with self._editing(id_webhook):
            return await self._update_webhook(id_webhook, params)

    @contextlib.asynccontextmanager
    async def _editing(self, id_webhook: str) -> AsyncIterator[None]:
        """Held while a PUT changes a webhook's subscription, then its row: in this process, and on a shared store
        in every process. Two PUTs at once each wrote both in turn, and the row could end with one's `events`
        while the subscription kept the other's filters (the webhook showed events it was not sent)."""
        async with self._webhook_edits, postgres.one_editor(self.sim.store.engine, f"syncfy webhook {id_webhook}"):
            yield

    async def _update_webhook(self, id_webhook: str, params: Mapping[str, Any]) -> dict[str, Any]:
        row = await self._webhook_row(id_webhook)
        patch: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        if "url" in params:
            patch["url"] = params["url"]
        if "events" in params:
            if not isinstance(params["events"], list) or not params["events"]:
                raise bad_input("events must be a list of event names", "events")
            patch["events"] = _filters(params["events"])
            changes["events"] = json.dumps(params["events"])
        if "is_disabled" in params:
            patch["enabled"] = not flag(params["is_disabled"], "is_disabled")
        if "headers" in params:
            patch["headers"] = params["headers"] or {}
        if "delay" in params:
            changes["delay"] = _delay(params["delay"])
            patch["faults"] = {"delay": f"{changes['delay']}s"} if changes["delay"] else {}
        if "key" in params:
            # The secret its deliveries are signed with from now on, checked as `POST` checks it (null: a new one
            # is generated, as for a webhook made without a key). A V1 webhook's signature is Syncfy's.
            patch.update({"signing": "syncfy", "secret": params["key"]})
        if "id_user" in params:
            changes["id_user"] = await self._owner(params["id_user"])
        sub = await self.sim.update_subscription(row["subscription_id"], _as_webhook(SubscriptionPatch, patch))
        changes["dt_modified"] = int(time.time())
        # One statement, of the fields this request changes: the row never leaves the table (a reader meanwhile
        # saw a 404), and a concurrent PUT of other fields keeps its own.
        if not await self.tables.update_webhook(id_webhook, changes):
            raise not_found("id_webhook", id_webhook)  # deleted meanwhile
        return _webhook_body({**row, **changes}, sub, listed=True)

    async def delete_webhook(self, id_webhook: str) -> None:
        row = await self._webhook_row(id_webhook)
        with contextlib.suppress(NotFound):  # deleted through the control API meanwhile
            await self.sim.delete_subscription(row["subscription_id"])
        await self.tables.delete_webhook(id_webhook)

    async def _webhook_row(self, id_webhook: str) -> dict[str, Any]:
        rows = await self.tables.webhooks(id_webhook)
        if not rows or await self.sim.store.get_subscription(rows[0]["subscription_id"]) is None:
            raise not_found("id_webhook", id_webhook)
        return rows[0]


def _user_body(row: Mapping[str, Any]) -> dict[str, Any]:
    created = row.get("dt_create") or int(str(row["id_user"])[:8], 16)
    return {
        "id_user": row["id_user"],
        "id_external": row.get("id_external"),
        "name": row.get("name"),
        "dt_create": created,
        "dt_modify": row.get("dt_modify"),
    }


def _filters(events: list[Any]) -> list[str]:
    try:
        return api.v3_filters(str(e) for e in events)
    except ValueError as exc:
        raise bad_input(str(exc), "events") from None


def _delay(value: Any) -> int:
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, int | str) or not (text.isascii() and text.isdigit()):
        raise bad_input("delay must be a whole number of seconds", "delay")
    if int(value) > 86400:
        raise bad_input("delay must be at most a day (86400 seconds)", "delay")
    return int(value)


def _iso(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def _webhook_body(row: Mapping[str, Any], sub: Subscription, *, listed: bool) -> dict[str, Any]:
    """`POST` answers Unix seconds; `GET` adds `is_disabled` and `ct_failed` and shows ISO dates (as Syncfy)."""
    body: dict[str, Any] = {"id_webhook": row["id_webhook"], "id_user": row["id_user"]}
    if listed:
        body["is_disabled"] = int(not sub.enabled)
    body.update({"events": json.loads(row["events"]), "url": sub.url, "delay": row["delay"]})
    if listed:
        body["ct_failed"] = sub.consecutive_dead
        body.update({"dt_created": _iso(row["dt_created"]), "dt_modified": _iso(row["dt_modified"])})
    else:
        body.update({"dt_created": row["dt_created"], "dt_modified": row["dt_modified"]})
    return body


def _name(value: Any) -> str:
    """A user's `name`: text that is not blank."""
    if value is not None and not isinstance(value, str):
        raise bad_input(f"name must be text, not {api.json_kind(value)}", "name")
    if not value or not value.strip():
        raise bad_input("name is required", "name")
    return without_nul(value, "name")


# A V1 webhook's fields by the names of the subscription behind it, where they differ.
_WEBHOOK_FIELDS = {"secret": "key", "enabled": "is_disabled", "faults": "delay"}


def _as_webhook(model: type[M], spec: Mapping[str, Any]) -> M:
    """`spec` checked as the subscription behind a V1 webhook; a refusal names the webhook's own fields (`key`,
    not the subscription's `secret`) and speaks of the webhook."""
    try:
        return parse(model, spec)
    except InvalidInput as exc:
        first = exc.errors[0] if exc.errors else None
        if first is None:
            raise bad_input(f"invalid webhook: {exc}") from None
        field = _WEBHOOK_FIELDS.get(first.field.split(".")[0], first.field)
        raise bad_input(f"invalid webhook: {field}: {first.message}", field) from None


def _external(value: Any) -> str | None:
    """An `id_external` as stored: text, a number as its text (Syncfy keeps it a string), or none."""
    if value is None or isinstance(value, str):
        return value if value is None else without_nul(value, "id_external")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise bad_input(f"id_external must be text, not {api.json_kind(value)}", "id_external")
