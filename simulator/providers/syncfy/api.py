"""The Syncfy API twin's data rules: the envelope, the site catalogue, V1 webhook event names, and a credential's
REST object folded from the events that announced it. Pure functions: no HTTP, no SQL.

Where the emulation differs from Syncfy (each a choice where nothing public says otherwise):
- A credential's `code` follows its events: `credentials.created` is 101 (starting); a `credentials.updated`
  still executing is 410 (waiting for a two-factor token) after a start, and 102 (running) otherwise, after a
  410 too (the token accepted, the job goes on: sync-py's README shows a job's codes as 100, 101, 410, 102, 200);
  an update that finished and a refresh are 200. An update naming a job no earlier
  event named starts a new pull (101 before it applies).
- `ready_in`, `can_sync` and `dt_ready` are computed as of the credential's latest event, not the wall clock, so
  the same events always give the same object: the next pull is allowed a day after the last authorization.
- Site names of the fiscal sites, and the organizations' countries, are plausible values, not Syncfy's own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.providers.syncfy._values import BANK, GOVERNMENT

# Job status codes [Syncfy widget status codes]. 103 (token received) is one of them, but no job Syncfy shows
# goes through it: after the token, its status list goes from 410 to 102.
REGISTER, STARTING, RUNNING = 100, 101, 102
FINISH = 200
WAITING = 410
# The login a credential at a tax authority shows where no registration gave one (a scenario's): an RFC.
FISCAL_LOGIN = "ACM010101ABC"
READY_AFTER = 86400  # seconds between an authorization and the next pull the credential may ask for

MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
}

# V1 webhook event names (`payload.event` of Webhooks V3) and the V3 event types they receive. Syncfy's V1
# documentation names the first three [Paybook/code-samples webhooks/README.md]; `documents` is the twin's own,
# so a V1 webhook can hear the documents downloads of the fiscal credentials the twin plays.
V1_EVENTS: dict[str, tuple[str, ...]] = {
    "credential_create": ("credentials.created",),
    "credential_update": ("credentials.updated",),
    "refresh": ("credentials.refreshed",),
    "documents": ("documents.completed", "documents.success", "documents.failed"),
}
# The V3 types whose payload Syncfy's V1 notification is: those a documented V1 name stands for.
V1_NOTIFIED = frozenset(t for name in ("credential_create", "credential_update", "refresh") for t in V1_EVENTS[name])


def digest(*parts: object, size: int = 16) -> bytes:
    """A fixed pseudo-random byte string for `parts` (blake2b: about a microsecond per row)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).digest()


def envelope(rid: str, code: int, response: Any = None, message: str | None = None) -> dict[str, Any]:
    """Syncfy's answer: `{rid, code, errors, status, message, response}`; an error has `status: false`, a
    message and a null response."""
    ok = code < 400
    return {
        "rid": rid,
        "code": code,
        "errors": None,
        "status": ok,
        "message": message if message is not None or ok else MESSAGES.get(code, "Error"),
        "response": response if ok else None,
    }


def v3_filters(names: Iterable[str]) -> list[str]:
    """Simulator event filters for V1 webhook `events`: legacy names (`credential_create`, `refresh`…) or V3
    types (`credentials.created`…). Raises ValueError naming the first unknown one."""
    filters: list[str] = []
    for name in names:
        if name in V1_EVENTS:
            filters.extend(f"syncfy:{t}" for t in V1_EVENTS[name])
        elif name.startswith(("credentials.", "documents.")):
            filters.append(f"syncfy:{name}")
        else:
            raise ValueError(f"unknown event {name!r}; use {', '.join(V1_EVENTS)} or a V3 type")
    return filters


def v1_notification(event: Mapping[str, Any]) -> bytes | None:
    """The body a V1 webhook receives for one V3 event (`{header, payload}`), or None when Syncfy documents no
    V1 body for it. The V1 notification is flat: the V3 payload itself, whose `event` already holds the V1 name
    (`credential_create`, `credential_update`, `refresh`), with keys sorted as Syncfy's samples print them
    [Paybook/code-samples webhooks/code/notification]. Serialised as the V3 envelope is (compact, ASCII)."""
    payload = event.get("payload")
    if not isinstance(payload, Mapping):
        return None
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# -- the site catalogue ---------------------------------------------------------------------------------------

_ORGANIZATIONS: dict[str, tuple[str, str]] = {  # id_site_organization -> (name, id_country)
    "56cf4ff5784806152c8b4567": ("Acme Bank", "51ad44b83b8e7763120003c4"),
    "56cf4ff5784806152c8b4568": ("SAT", "51ad44b83b8e7763120003c4"),
    "56cf4ff5784806152c8b456a": ("Banamex", "51ad44b83b8e7763120003c4"),
    "5c65e306f9de2a080b61bb31": ("SAT", "51ad44b83b8e7763120003c4"),
}
_SITE_NAMES: dict[str, str] = {
    "56cf5728784806f72b8b4568": "Normal",
    "56cf5728784806f72b8b4569": "Token",
    "572ba390784806060f8b458b": "Token & captcha",
    "5da784f1f9de2a06483abec1": "SAT",
    "56cf5728784806f72b8b456f": "SAT CIEC",
    "59aefe28056f29793a58c091": "SAT Declaraciones Anuales",
    "59aefe28056f29793a58c092": "SAT Constancia de Situación Fiscal",
    "63ae0c7be5d6f1905cb9d3dd": "SAT e.firma",
    "56cf5728784806f72b8b456c": "BancaNet Personal",
    "571175467848062d698b4568": "BancaNet Empresarial",
}
_SITE_TYPE = "5b285177056f2911c13dbce1"
_TIME_ZONE = "America/Mexico_City"


@dataclass(frozen=True)
class SiteRef:
    """The three ids every Syncfy object repeats for its site."""

    id_site: str
    id_site_organization: str
    id_site_organization_type: str

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> SiteRef:
        return cls(
            str(fields.get("id_site")),
            str(fields.get("id_site_organization")),
            str(fields.get("id_site_organization_type")),
        )

    def ids(self) -> dict[str, str]:
        return {
            "id_site": self.id_site,
            "id_site_organization": self.id_site_organization,
            "id_site_organization_type": self.id_site_organization_type,
        }

    @property
    def name(self) -> str:
        return _SITE_NAMES.get(self.id_site, f"Site {self.id_site[-6:]}")

    @property
    def organization(self) -> str:
        return _ORGANIZATIONS.get(self.id_site_organization, (f"Organization {self.id_site_organization[-6:]}",))[0]

    @property
    def fiscal(self) -> bool:
        return self.id_site_organization_type == GOVERNMENT


def _field(name: str, kind: str, label: str, username: bool) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "label": label,
        "required": True,
        "username": username,
        "token": False,
        "validation": None,
    }


def _assets(org: str) -> dict[str, str]:
    return {"avatar": f"/assets/{org}/avatar", "cover": f"/assets/{org}/cover", "small_cover": f"/assets/{org}/small"}


# The longest login a registration may give, in characters. Syncfy documents none (its catalogue's login fields
# are `"type": "text", "validation": null`); 255 holds any real user name, card, client number or RFC, and keeps a
# login of megabytes out of every credential's answer and of the store.
MAX_LOGIN = 255


def login_field(site: SiteRef) -> str:
    """The credentials field a registration at `site` names its login with: a tax authority's is the RFC (Syncfy's
    recorded SAT CIEC registration sends `{"rfc": …, "password": …}` and is answered its masked RFC as `username`)."""
    return "rfc" if site.fiscal else "username"


def site_object(site: SiteRef) -> dict[str, Any]:
    """A `/catalogues/sites` entry."""
    login = "RFC" if site.fiscal else "Username"
    secret = "CIEC" if site.fiscal else "Password"
    return {
        **site.ids(),
        "id_site_type": _SITE_TYPE,
        "is_business": 1,
        "is_personal": 1,
        "version": 1,
        "name": site.name,
        "credentials": [
            _field(login_field(site), "text", login, True),
            _field("password", "password", secret, False),
        ],
        "endpoint": "/v1/credentials",
    }


def account_site(site: SiteRef) -> dict[str, Any]:
    """The `site` object an account embeds."""
    return {
        **site.ids(),
        "name": site.name,
        "organization": site.organization,
        **_assets(site.id_site_organization),
        "time_zone": _TIME_ZONE,
    }


def organizations_sites(sites: Sequence[SiteRef]) -> list[dict[str, Any]]:
    """`/catalogues/organizations/sites`: the sites grouped by organization, in the order first seen."""
    groups: dict[str, list[SiteRef]] = {}
    for site in sites:
        groups.setdefault(site.id_site_organization, []).append(site)
    out = []
    for org, members in groups.items():
        first = members[0]
        name, country = _ORGANIZATIONS.get(org, (first.organization, "51ad44b83b8e7763120003c4"))
        entry = {
            "id_site_organization": org,
            "id_site_organization_type": first.id_site_organization_type,
            "id_country": country,
            "name": name,
            **_assets(org),
            "sites": [{k: v for k, v in site_object(s).items() if not k.startswith("id_site_org")} for s in members],
        }
        out.append(entry)
    return out


SITE_FILTERS = ("id_site", "id_site_organization", "id_site_organization_type")


def site_matches(site: SiteRef, filters: Mapping[str, str]) -> bool:
    """Whether `site` passes the catalogue's `id_site…` filters (`SITE_FILTERS`, each given as text)."""
    return all(filters.get(k) in (None, v) for k, v in site.ids().items())


# -- credentials ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Announced:
    """One indexed event about a credential: its type, its time (Unix seconds), its header user and payload."""

    type: str
    at: float
    user: Mapping[str, Any]
    payload: Mapping[str, Any]


def mask(username: str) -> str:
    """Syncfy's masked username: first and last character, stars between (`test` -> `t**t`)."""
    if len(username) <= 2:
        return "*" * len(username)
    return username[0] + "*" * (len(username) - 2) + username[-1]


def next_code(code: int | None, event: Announced) -> int:
    """A credential's job status after `event` (see the module docstring)."""
    if event.type == "credentials.created":
        return STARTING
    if event.type == "credentials.refreshed":
        return FINISH
    if event.type != "credentials.updated":
        return code if code is not None else FINISH
    if not event.payload.get("is_executing"):
        return FINISH
    if code in (REGISTER, STARTING):
        return WAITING
    return RUNNING


def fold_credential(
    id_credential: str, events: Sequence[Announced], username: str | None = None, disabled_at: int | None = None
) -> dict[str, Any]:
    """The REST object of a credential whose events (oldest first) are `events`; `username` as registered
    through the API (else a sandbox-style `test`), `disabled_at` once deleted. Field order as Syncfy's."""
    last = events[-1]
    code: int | None = None
    twofa = False
    authorized: int | None = None
    executed = refreshed = None
    job = None
    for event in events:
        if event.type == "credentials.updated" and event.payload.get("id_job") != job and code is not None:
            code = STARTING  # an update naming a job no earlier event named: a new pull began
        job = event.payload.get("id_job", job)
        before, code = code, next_code(code, event)
        twofa = twofa or code == WAITING
        # Authorized once the token is taken (410 -> 102), or once the job finished without asking for one.
        if authorized is None and ((before == WAITING and code == RUNNING) or code == FINISH):
            authorized = int(event.at)
        if event.type in ("credentials.created", "credentials.refreshed"):
            executed = int(event.at)
        if code == FINISH and event.type.startswith("credentials."):
            refreshed = int(event.at)
    site = SiteRef.of(last.payload)
    ready = authorized + READY_AFTER if authorized is not None else None
    ready_in = max(0, ready - int(last.at)) if ready is not None else 0
    out = {
        "id_credential": id_credential,
        "id_user": last.user.get("id_user"),
        "id_environment": last.user.get("id_environment"),
        "id_external": last.user.get("id_external") or "",
        **site.ids(),
        "id_organization": site.id_site_organization,
        "is_authorized": int(authorized is not None),
        "is_disabled": int(disabled_at is not None),
        "is_locked": 0,
        "is_twofa": int(twofa),
        "can_sync": int(authorized is not None and ready_in == 0),
        "ready_in": ready_in,
        "username": mask(username or ("test" if site.id_site_organization_type == BANK else FISCAL_LOGIN)),
        "code": code,
        "keywords": None,
        "dt_authorized": authorized,
        "dt_execute": executed,
        "dt_ready": ready,
        "dt_refresh": refreshed,
        "dt_disable": disabled_at,
    }
    return out


def public_credential(credential: Mapping[str, Any], with_disabled: bool) -> dict[str, Any]:
    """`/credentials` omits `is_disabled` and `dt_disable`; `/credentials/all` has them."""
    if with_disabled:
        return dict(credential)
    return {k: v for k, v in credential.items() if k not in ("is_disabled", "dt_disable")}


# -- auth and paging ------------------------------------------------------------------------------------------

PAGE_LIMIT = 5000
SESSION_IDLE = 300.0  # seconds: a session token expires after five minutes without use


@dataclass(frozen=True)
class Given:
    """What a request offered to authenticate with: an API key (with the user it acts for, when the header names
    one), a session token, or neither."""

    key: str | None = None
    token: str | None = None
    id_user: str | None = None


def parse_authorization(value: str) -> Given:
    """The styles Syncfy's SDKs and samples send: `api_key api_key=K`, `API_KEY api_key=K`, either with the user
    after a comma (`api_key api_key=K,id_user=U` in Syncfy's webhook sample, `API_KEY api_key=K, id_user=U` in
    its PHP SDK), `Bearer T`, `TOKEN token=T`, or a bare `api_key=K` / `token=T`."""
    scheme, _, rest = value.strip().partition(" ")
    if not rest and "=" in scheme:
        scheme, rest = "", scheme
    scheme = scheme.lower()
    if scheme == "bearer":
        return Given(token=rest.strip() or None)
    pairs = _pairs(rest)
    if "api_key" in pairs and scheme in ("", "api_key"):
        return Given(key=pairs["api_key"] or None, id_user=pairs.get("id_user") or None)
    if "token" in pairs and scheme in ("", "token"):
        return Given(token=pairs["token"] or None)
    return Given()


def _pairs(text: str) -> dict[str, str]:
    """The `name=value` pairs of a header's parameters, comma-separated (names lower-cased, the first of a name
    kept). A value is what follows the first `=`: taken whole, `K,id_user=U` was the key."""
    out: dict[str, str] = {}
    for part in text.split(","):
        name, eq, value = part.strip().partition("=")
        if eq:
            out.setdefault(name.strip().lower(), value.strip())
    return out


def key_accepted(key: str, required: str | None) -> bool:
    """Any non-empty key when no provider key is configured; else that key only."""
    return bool(key) and (required is None or hmac.compare_digest(key.encode(), required.encode()))


def paging(params: Mapping[str, Any]) -> tuple[int, int]:
    """`skip` (default 0) and `limit` (default and maximum 5,000); ValueError names what is wrong."""
    skip, limit = params.get("skip", 0), params.get("limit", PAGE_LIMIT)
    try:
        skip, limit = _whole(skip), _whole(limit)
    except ValueError:
        raise ValueError("skip and limit must be whole numbers") from None
    if skip < 0:
        raise ValueError("skip must be 0 or more")
    if not 1 <= limit <= PAGE_LIMIT:
        raise ValueError(f"limit must be between 1 and {PAGE_LIMIT}")
    return skip, limit


def unix(params: Mapping[str, Any], name: str) -> int | None:
    """An optional Unix-seconds parameter; ValueError when it is not one."""
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return _whole(value)
    except ValueError:
        raise ValueError(f"{name} must be Unix seconds") from None


# ASCII digits, as a URL's number is written: `int()` also takes `1_000` and other scripts' digits (`٥`).
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)


def _whole(value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not _WHOLE.fullmatch(text):
        raise ValueError(f"not a whole number: {text!r}")
    return int(text)


def index_row(key: str, etype: str, at: float, body: Mapping[str, Any]) -> dict[str, Any]:
    """What the twin's index keeps of one stored event: the ids it is looked up by."""
    # A scenario step marked `unchecked` may give any JSON: what is not of the kind Syncfy sends is not indexed.
    payload, header = _mapping(body.get("payload")), _mapping(body.get("header"))
    user, event = _mapping(header.get("user")), _mapping(header.get("event"))
    webhook = None
    if etype.startswith("documents."):
        endpoints = payload.get("endpoints")
        for url in endpoints if isinstance(endpoints, list) else ():
            _, _, value = str(url).partition("id_job_webhook=")
            webhook = _text(value.split("&")[0]) or None
    tag = None
    if etype == "credentials.refreshed":
        tag = digest(event.get("eid", key), size=5).hex()
    return {
        "event_key": key,
        "type": etype,
        "at": at,
        "id_user": _text(user.get("id_user") or payload.get("id_user")),
        "id_credential": _text(payload.get("id_credential")),
        "id_job": _text(payload.get("id_job")),
        "id_job_webhook": webhook,
        "tag": tag,
        "id_site": _text(payload.get("id_site")),
        "id_site_organization": _text(payload.get("id_site_organization")),
        "id_site_organization_type": _text(payload.get("id_site_organization_type")),
    }


def _text(value: Any) -> str | None:
    """An id as text; None for none, for an object or a list (no id Syncfy sends is one), or for text holding NUL
    (PostgreSQL's text cannot: the index refused the event, and every later read of the twin answered 500)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return None if "\x00" in text else text


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words (for a message about a parameter of the wrong kind)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "text" if isinstance(value, str) else "null"
