"""What a Basis Theory event says about the objects the API serves, written from the provider's documents (not
from the twin's code): which object each event names, where the REST name differs, and which events end one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# data key -> (kind, REST path); `session` is a 3DS session only in `3ds.*` events (elsewhere an Elements one).
PATHS = {
    "token": "/tokens/{}",
    "token_intent": "/token-intents/{}",
    "3ds_session": "/3ds/sessions/{}",
    "application": "/applications/{}",
    "reactor": "/reactors/{}",
    "proxy": "/proxies/{}",
}
ENDS = {
    "token.deleted": "token",
    "token.expired": "token",
    "token-intent.deleted": "token_intent",
    "token-intent.converted": "token_intent",  # an intent expires once converted
    "application.deleted": "application",
    "reactor.deleted": "reactor",
    "proxy.deleted": "proxy",
}
# The REST object's names for what the webhook payload calls otherwise.
RENAMES = {
    "3ds_session": {
        "created_at": ("created_date",),
        "expires_at": ("expiration_date",),
        "authentication_status": ("authentication", "authentication_status"),
    },
    "proxy": {"require_authentication": ("require_auth",)},
}
# Per-invocation parts of a payload, not the object's state.
NOT_STATE = {"proxy.invoked": {"response"}, "token.property.expired": {"property_name"}}


@dataclass
class Named:
    kind: str
    id: str
    fields: dict[tuple[str, ...], Any]
    ends: bool

    @property
    def path(self) -> str:
        return PATHS[self.kind].format(self.id)


def named(event: dict[str, Any]) -> list[Named]:
    etype, data = event["type"], event["data"]
    out: list[Named] = []
    actor = data.get("actor") or {}
    if actor.get("type") == "application":
        out.append(Named("application", actor["id"], {("id",): actor["id"], ("name",): actor["name"]}, False))
    for key, value in data.items():
        kind = "3ds_session" if key == "session" and etype.startswith("3ds.") else key
        if kind not in PATHS or not isinstance(value, dict):
            continue
        renames = RENAMES.get(kind, {})
        skip = NOT_STATE.get(etype, set())
        fields = {renames.get(k, (k,)): x for k, x in value.items() if k not in skip}
        out.append(Named(kind, value["id"], fields, ENDS.get(etype) == kind))
    key = data.get("application_key")
    if key and key.get("application_id"):
        out.append(Named("application", key["application_id"], {("id",): key["application_id"]}, False))
    return out


def at(body: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        body = body[part]
    return body
