"""What a Basis Theory event says about the objects the API serves, written from the provider's documents (not
from the twin's code): which object each event names, where the REST name differs, and which events end one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
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
# Times: the REST objects write them as .NET does (`2020-09-15T15:53:00+00:00`), the webhook payloads as
# `2024-04-09T13:56:37.864Z`; what must agree is the instant.
TIMES = {"created_at", "modified_at", "expires_at", "created_date", "modified_date", "expiration_date"}
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


def instant(value: Any) -> Any:
    """A time string as the moment it names (UTC); anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(UTC) if moment.tzinfo else moment


def agrees(path: tuple[str, ...], shown: Any, told: Any) -> bool:
    """The REST object's value at `path` says what the event told (a time by its instant)."""
    if path[-1] in TIMES:
        return instant(shown) == instant(told)
    return bool(shown == told)
