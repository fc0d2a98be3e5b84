"""What each Basis Theory event tells the API twin: the objects it announces, in their REST shape. Pure.

The twin folds every stored event through `changes` in the order the events were stored, so `GET /tokens/{id}`
answers with what the latest event about that token said, whoever emitted it (a run, `POST /events`, the twin
itself). An event that names an object creates it when the twin has not seen it yet.

Where the REST object and the webhook payload differ, the REST name wins, as at Basis Theory:
- a 3DS session's `created_at` / `expires_at` are `created_date` / `expiration_date`, and its
  `authentication_status` sits in `authentication`; the token id is also `pan_token_id` (deprecated there);
- a proxy's `require_authentication` is `require_auth`;
- an application that acts in an event (`actor.type == "application"`) exists with its id and name.
What an event cannot tell stays absent: a token that only `token-intent.converted` announced has no metadata,
a token never shows `data` unless the twin's own API created it.

What an object was made as (`FIXED`: its tenant, type, creation, fingerprint) is set once: a later event that
says otherwise (`POST /events` naming a token of the twin's by its id, its other fields made up) changes what it
can change (metadata, state), never those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("token", "token_intent", "3ds_session", "application", "reactor", "proxy")
LIVE, DELETED, EXPIRED, CONVERTED = "live", "deleted", "expired", "converted"
# A 3DS session's fields the REST object names otherwise than its webhooks: (webhook name, REST name).
SESSION_3DS_RENAMES = (("created_at", "created_date"), ("expires_at", "expiration_date"))
FIXED = (
    "id",
    "tenant_id",
    "type",
    "created_at",
    "created_date",
    "created_by",
    "fingerprint",
    "fingerprint_expression",
)
Body = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """Merge `fields` into the object (creating it), then set its `state` when given."""

    kind: str
    id: str
    tenant_id: str | None
    fields: Body = field(default_factory=dict)
    state: str | None = None


def changes(event: Any) -> list[Change]:
    """What one event (`{id, type, timestamp, tenant_id, data}`) announces; unknown kinds announce nothing.

    A scenario step marked `unchecked` may give an event any JSON: what is not of the kind the provider sends
    (an object as an id, a list as `data`) is skipped, never folded, or every read of the twin failed on it."""
    if not isinstance(event, dict):
        return []
    etype = _text(event.get("type")) or ""
    data = _dict(event.get("data"))
    tenant = _text(event.get("tenant_id"))
    out = _actor(data.get("actor"), tenant)
    rule = _RULES.get(etype) or _RULES.get(etype.rsplit(".", 1)[0] + ".*")
    if rule is not None:
        out.extend(rule(event, data, tenant))
    # Text holding NUL is no id Basis Theory sends, and PostgreSQL's text cannot hold it: the twin's state refused
    # the event, and every later read of the twin answered 500.
    return [change for change in out if isinstance(change.id, str) and change.id and "\x00" not in change.id]


def _dict(value: Any) -> Body:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and "\x00" not in value else None


def _actor(actor: Any, tenant: str | None) -> list[Change]:
    if isinstance(actor, dict) and actor.get("type") == "application" and actor.get("id"):
        return [Change("application", actor["id"], tenant, {"id": actor["id"], "name": actor.get("name")})]
    return []


def _with_tenant(obj: Body, tenant: str | None) -> Body:
    return {**obj, "tenant_id": obj.get("tenant_id", tenant)}


def _simple(kind: str, key: str, state: str | None = None, keep: tuple[str, ...] | None = None) -> Any:
    """A rule for events whose `data[key]` is the object of `kind` (fields as they are, or only `keep`)."""

    def rule(event: Body, data: Body, tenant: str | None) -> list[Change]:
        obj = data.get(key)
        if not isinstance(obj, dict) or not obj.get("id"):
            return []
        fields = {k: obj[k] for k in keep if k in obj} if keep is not None else dict(obj)
        return [Change(kind, obj["id"], tenant, _with_tenant(fields, tenant), state)]

    return rule


def _converted(event: Body, data: Body, tenant: str | None) -> list[Change]:
    """The intent is gone (converted, so `GET /token-intents/{id}` is a 404); the token it became exists, made
    by the actor at the event's time."""
    intent, token = _dict(data.get("token_intent")), _dict(data.get("token"))
    out = []
    if intent.get("id"):
        out.append(Change("token_intent", intent["id"], tenant, _with_tenant(dict(intent), tenant), CONVERTED))
    if token.get("id"):
        fields = {**token, "created_at": event.get("timestamp"), "created_by": _dict(data.get("actor")).get("id")}
        out.append(Change("token", token["id"], tenant, _with_tenant(fields, tenant), LIVE))
    return out


def _session_3ds(state: str | None = None) -> Any:
    def rule(event: Body, data: Body, tenant: str | None) -> list[Change]:
        session = data.get("session")
        if not isinstance(session, dict) or not session.get("id"):
            return []
        fields = dict(session)
        for webhook_name, rest_name in SESSION_3DS_RENAMES:
            if webhook_name in fields:
                fields[rest_name] = fields.pop(webhook_name)
        if "token_id" in fields:
            fields["pan_token_id"] = fields["token_id"]
        if "authentication_status" in fields:
            fields["authentication"] = {"authentication_status": fields.pop("authentication_status")}
        if event.get("type") != "3ds.session.created":
            fields["modified_date"] = event.get("timestamp")
            fields["modified_by"] = _dict(data.get("actor")).get("id")
        return [Change("3ds_session", session["id"], tenant, _with_tenant(fields, tenant), state)]

    return rule


def _proxy(state: str | None = None, keep: tuple[str, ...] | None = None) -> Any:
    inner = _simple("proxy", "proxy", state, keep)

    def rule(event: Body, data: Body, tenant: str | None) -> list[Change]:
        out = inner(event, data, tenant)
        for change in out:
            if "require_authentication" in change.fields:
                change.fields["require_auth"] = change.fields.pop("require_authentication")
        return out

    return rule


def _key_created(event: Body, data: Body, tenant: str | None) -> list[Change]:
    key = _dict(data.get("application_key"))
    if not key.get("application_id"):
        return []
    entry = {k: key[k] for k in ("id", "version", "created_at", "created_by") if k in key}
    return [Change("application", key["application_id"], tenant, {"id": key["application_id"], "_key": entry})]


def _key_deleted(event: Body, data: Body, tenant: str | None) -> list[Change]:
    key = _dict(data.get("application_key"))
    if not key.get("application_id"):
        return []
    fields = {"id": key["application_id"], "_key_deleted": key.get("id")}
    return [Change("application", key["application_id"], tenant, fields)]


_RULES: dict[str, Any] = {
    "token.created": _simple("token", "token", LIVE),
    "token.updated": _simple("token", "token"),
    "token.read": _simple("token", "token"),
    "token.property.expired": _simple("token", "token", keep=("id",)),
    "token.deleted": _simple("token", "token", DELETED),
    "token.expired": _simple("token", "token", EXPIRED),
    "token-intent.created": _simple("token_intent", "token_intent", LIVE),
    "token-intent.deleted": _simple("token_intent", "token_intent", DELETED),
    "token-intent.converted": _converted,
    "3ds.session.created": _session_3ds(LIVE),
    "3ds.session.*": _session_3ds(),
    "application.created": _simple("application", "application", LIVE),
    "application.updated": _simple("application", "application"),
    "application.deleted": _simple("application", "application", DELETED),
    "application.key.created": _key_created,
    "application.key.deleted": _key_deleted,
    "reactor.created": _simple("reactor", "reactor", LIVE),
    "reactor.updated": _simple("reactor", "reactor"),
    "reactor.deleted": _simple("reactor", "reactor", DELETED),
    "reactor.invoked": _simple("reactor", "reactor", keep=("id", "name")),
    "reactor.completed": _simple("reactor", "reactor", keep=("id", "name")),
    "reactor.failed": _simple("reactor", "reactor", keep=("id", "name")),
    "proxy.created": _proxy(LIVE),
    "proxy.updated": _proxy(),
    "proxy.deleted": _proxy(DELETED),
    "proxy.invoked": _proxy(keep=("id", "name", "type")),
}


def apply(obj: Body | None, change: Change) -> Body:
    """The object after `change`: fields merged; an application key joins (or leaves) the application's `keys`."""
    body = obj if obj is not None else {}
    fields = {k: x for k, x in change.fields.items() if k not in FIXED or body.get(k) is None}
    key, gone = fields.pop("_key", None), fields.pop("_key_deleted", None)
    # Each field replaced whole: an object an event carries is the whole of it (a token's `metadata`, a 3DS
    # session's `authentication`). Merged key by key, a key a `token.updated` no longer had stayed on the token.
    body.update(fields)
    if key is not None or gone is not None:
        drop = key.get("id") if key is not None else gone
        keys = [k for k in body.get("keys") or [] if k.get("id") != drop]
        body["keys"] = [*keys, key] if key is not None else keys
    if change.tenant_id is not None and body.get("tenant_id") is None:
        body["tenant_id"] = change.tenant_id
    return body
