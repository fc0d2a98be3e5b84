"""The Basis Theory API twin's data rules: auth, errors, pagination, and what a request may create. Pure: no HTTP,
no SQL; the core's `BasisTheoryBackend` applies them and the routes only parse and serialise.

Where the twin differs from Basis Theory:
- any non-empty `BT-API-KEY` is accepted unless the simulator is given a provider key; a key carries no
  permissions, so no request is refused with 403, and every key sees every tenant's objects;
- validation covers what a consumer usually sends wrong (type, card number by Luhn, expiry, bank numbers, page
  sizes, cursors, webhook fields); the messages are ours, the shape (`errors: {field: [message]}`) is theirs;
- token `data` always comes back through the token's mask (`api_mask`), as a key with a mask transform would see
  it; a token without a mask shows none of it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from simulator import json_input
from simulator.providers.basistheory import _values as v
from simulator.providers.basistheory import api_mask, api_times
from simulator.timeutil import iso_ms, now_utc

# At most five webhooks per tenant.
MAX_WEBHOOKS = 5
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Token intents live one day.
INTENT_TTL = 86400.0
TOKEN_TYPES = v.TOKEN_TYPES
# The single numbers Basis Theory takes with '-' delimiters, and whose fingerprint ignores them.
DELIMITED = ("social_security_number", "employer_id_number")
# The token types an intent may hold (`network_token` is not available for intents).
INTENT_TYPES = tuple(t for t in TOKEN_TYPES if t != "network_token")
WEBHOOK_STATUSES = ("enabled", "disabled")

_TITLES = {
    400: "One or more validation errors occurred.",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
    422: "Unprocessable Entity",
}
_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
    413: "https://tools.ietf.org/html/rfc7231#section-6.5.11",
    415: "https://tools.ietf.org/html/rfc7231#section-6.5.13",
    421: "https://tools.ietf.org/html/rfc7540#section-9.1.2",
    422: "https://tools.ietf.org/html/rfc4918#section-11.2",
}


class ApiError(Exception):
    """A refusal in Basis Theory's ProblemDetails shape: `{type, title, status, detail, errors: {field: [msg]}}`."""

    def __init__(self, status: int, detail: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = dict(errors or {})

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": _TYPES.get(self.status, "about:blank"),
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, f"{field}: {message}", {field: [message]})


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what} {ident!r} was not found")


# --- auth -----------------------------------------------------------------------------------------------


def check_key(given: str | None, required: str | None) -> None:
    """A missing or empty key is a 401; so is any key but `required` when the simulator has one."""
    if not given or not given.strip():
        raise ApiError(401, "a BT-API-KEY header is required")
    if required is not None and not hmac.compare_digest(given.encode(), required.encode()):
        raise ApiError(401, "the BT-API-KEY is not valid")


# --- pagination -----------------------------------------------------------------------------------------


def page_size(raw: str | None) -> int:
    if raw is None:
        return PAGE_SIZE
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise invalid("size", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def encode_cursor(position: int, listed: str = "n") -> str:
    """The opaque `start` cursor of `position` in one list (`listed`: `n` for the objects' lists, `w` for the
    webhooks'): a cursor of one list is refused by the other, whose positions mean something else."""
    return _opaque(f"{listed}:{position}")


def decode_cursor(raw: str | None, listed: str = "n") -> int | None:
    """The position an opaque `start` cursor names (None: the first page); a cursor we did not make for this list
    is a 400."""
    text = _read_opaque(raw, rf"{listed}:[0-9]{{1,18}}")
    return None if text is None else int(text.partition(":")[2])


def encode_place(created: int, n: int) -> str:
    """The opaque `start` cursor of a place in a list ordered by `created_at`: the last object's time and position."""
    return _opaque(f"c:{created}:{n}")


def decode_place(raw: str | None) -> tuple[int, int] | None:
    """The (created, n) place an `encode_place` cursor names (None: the first page); any other is a 400."""
    text = _read_opaque(raw, r"c:-?[0-9]{1,18}:[0-9]{1,18}")
    if text is None:
        return None
    _, created, n = text.split(":")
    return int(created), int(n)


def _opaque(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_opaque(raw: str | None, form: str) -> str | None:
    """What an `_opaque` cursor says, when it is of `form` (None: no cursor); any other is a 400."""
    if raw is None:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not re.fullmatch(form, text):
        raise invalid("start", "not a cursor this API returned")
    return text


# --- request bodies -------------------------------------------------------------------------------------


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json_input.loads(raw, json_input.finite_float) if raw else None
    except json_input.NotJson as exc:
        raise invalid("body", f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    return body


def _text(body: Mapping[str, Any], field: str, *, required: bool = True, limit: int = 2000) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "is required" if value is None else "must be a non-empty string")
    if len(value) > limit:
        raise invalid(field, f"must be at most {limit} characters")
    if "\x00" in value:  # a webhook's name and email are stored as text, which PostgreSQL refuses NUL in
        raise invalid(field, "must not contain a NUL character")
    return value


def token_type(body: Mapping[str, Any], allowed: Iterable[str] = TOKEN_TYPES) -> str:
    allowed = tuple(allowed)
    value = body.get("type")
    if value not in allowed:
        raise invalid("type", f"must be one of {', '.join(allowed)}")
    return str(value)


# --- what a token's data shows --------------------------------------------------------------------------

_BRANDS = (
    (r"4", "visa"),
    (r"5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720)", "mastercard"),
    (r"3[47]", "american-express"),
    (r"6011|65|64[4-9]", "discover"),
    (r"35(2[89]|[3-8]\d)", "jcb"),
    (r"3(0[0-5]|[689])", "diners-club"),
)


def card_brand(number: str) -> str:
    for prefix, brand in _BRANDS:
        if re.match(prefix, number):
            return brand
    return "unknown"


def card_details(card: Mapping[str, Any]) -> dict[str, Any]:
    """The `card` object Basis Theory derives from a card number (no issuer lookup here: `funding` is credit); the
    expiry where the card has one."""
    number = card["number"]
    details = {"bin": number[:8] if len(number) >= 16 else number[:6], "last4": number[-4:]}
    details.update({k: card[k] for k in ("expiration_month", "expiration_year") if k in card})
    return {**details, "brand": card_brand(number), "funding": "credit"}


def bank_details(bank: Mapping[str, Any]) -> dict[str, Any]:
    return {"routing_number": bank["routing_number"], "account_number_last4": bank["account_number"][-4:]}


def details(kind: str, data: Any) -> dict[str, Any]:
    """`card` / `bank` details of a token or intent holding `data`."""
    if kind == "card":
        return {"card": card_details(data)}
    if kind == "card_number":  # a card number alone: the same card object, without an expiry
        return {"card": card_details({"number": data})}
    if kind == "bank":
        return {"bank": bank_details(data)}
    if kind == "network_token":
        return {"network_token": card_details(data)}
    return {}


def _base58(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = v.BASE58[rem] + out
    return out


def fingerprint(kind: str, data: Any) -> str:
    """The same data of the same type gives the same fingerprint (a card by its number, a bank account by its
    numbers), as Basis Theory's default fingerprint expressions do."""
    if kind == "card":
        material: Any = data["number"]
    elif kind == "bank":
        material = [data["routing_number"], data["account_number"]]
    elif kind in DELIMITED:
        material = data.replace("-", "")  # `{{ data | remove: '-' }}`: 123-45-6789 is 123456789
    else:
        material = data
    digest = hashlib.sha256(json.dumps([kind, material], sort_keys=True).encode()).digest()
    return _base58(digest)


def container(kind: str) -> str:
    return v.TOKEN_SHAPES[kind][0] if kind in v.TOKEN_SHAPES else "/general/high/"


def fingerprint_expression(kind: str) -> str:
    """Basis Theory's default for the type: a generic token's is `{{ data | stringify }}`, whatever the events'
    samples (made with expressions of their own) show."""
    if kind == "token" or kind not in v.TOKEN_SHAPES:
        return "{{ data | stringify }}"
    return v.TOKEN_SHAPES[kind][1]


# --- tokens ---------------------------------------------------------------------------------------------


def shown_within(options: Mapping[str, Any], data: Any) -> None:
    """A 400 naming `mask` when the token's `data` (given, or its intent's) shown through its mask would be far
    larger than the data (see `api_mask.bounded`)."""
    if options.get("mask") is not None:
        try:
            api_mask.bounded(options["mask"], data)
        except api_mask.MaskError as exc:
            raise invalid("mask", str(exc)) from None


def token_options(body: Mapping[str, Any]) -> dict[str, Any]:
    """The optional attributes of `POST /tokens`: mask, metadata, containers, search_indexes, expires_at (as
    the events write it, and `expires_at_shown` as the REST object answers it), and fingerprint_expression (kept
    as given, not applied; others ignored)."""
    options: dict[str, Any] = {}
    if body.get("mask") is not None:
        try:
            options["mask"] = api_mask.checked(body["mask"])
        except api_mask.MaskError as exc:
            raise invalid("mask", str(exc)) from None
    if body.get("deduplicate_token") is not None and not isinstance(body["deduplicate_token"], bool):
        raise invalid("deduplicate_token", "must be true or false")
    expression = _text(body, "fingerprint_expression", required=False)
    if expression is not None:
        options["fingerprint_expression"] = expression
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(x, str) for x in metadata.values()):
            raise invalid("metadata", "must be an object of string values")
        options["metadata"] = dict(metadata)
    for field in ("containers", "search_indexes"):
        value = body.get(field)
        if value is not None:
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise invalid(field, "must be an array of strings")
            options[field] = list(value)
    for i, path in enumerate(options.get("containers", ())):
        if not re.fullmatch(r"/([a-z0-9_-]+/)+", path):
            raise invalid(f"containers[{i}]", "must be a path like /pci/high/")
    expires = _text(body, "expires_at", required=False, limit=64)
    if expires is not None:
        options["expires_at"], options["expires_at_shown"] = _expiry(expires)
    return options


# A date-time with its offset as Basis Theory documents them: `…T13:24:28Z`, `…T13:24:28.123-04:00`.
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?([Zz]|[+-]\d\d:?\d\d)?", re.ASCII)
# .NET's general form, which the docs' own request examples send (`8/26/2030 7:23:57 PM -07:00`) and their answer
# echoes in ISO 8601 (`2030-08-26T19:23:57-07:00`).
_DOTNET_TIME = re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d:\d\d [AP]M [+-]\d\d:\d\d", re.ASCII)
_ISO_EXAMPLE = "must be an ISO 8601 date-time, like 2030-04-23T13:24:28Z"


def _expiry(text: str) -> tuple[str, str]:
    """`expires_at` as the events write it (`2030-04-23T13:24:28.000Z`) and as the REST object echoes it (in
    the offset given: `2030-04-23T09:24:28-04:00`), from ISO 8601 in UTC or with an offset, the formats Basis
    Theory documents, or the form its examples send; a time that is not one, or is past, is refused."""
    when = _given_time(text)
    if when.tzinfo is None:
        raise invalid("expires_at", "must carry its offset or Z, like 2030-04-23T13:24:28Z")
    try:
        moment = when.astimezone(UTC)
    except OverflowError:  # an offset that takes it past the year 9999 or before the year 1
        raise invalid("expires_at", "is out of range") from None
    if moment <= now_utc():
        raise invalid("expires_at", "must be in the future")
    return iso_ms(moment), api_times.rest_time(when)


def _given_time(text: str) -> datetime:
    if _DOTNET_TIME.fullmatch(text):
        try:
            return datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p %z")
        except ValueError:  # 2/30/2030, 13:00:00 PM, an offset past a day
            raise invalid("expires_at", _ISO_EXAMPLE) from None
    if not _ISO_TIME.fullmatch(text):  # Python's own parser also takes a NUL between the time and its offset
        raise invalid("expires_at", _ISO_EXAMPLE)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid("expires_at", _ISO_EXAMPLE) from None


def token_id(body: Mapping[str, Any]) -> str | None:
    """A caller-chosen token id (an alias), when given."""
    value = _text(body, "id", required=False, limit=400)
    if value is not None and not re.fullmatch(r"[A-Za-z0-9_.:-]+", value):
        raise invalid("id", "may hold letters, digits and _ . : - only")
    if value is not None and not value.strip("."):  # `/tokens/..` is a path's parent to every client
        raise invalid("id", "must hold a letter, a digit, or one of _ : -")
    return value


# --- webhooks -------------------------------------------------------------------------------------------


def webhook_fields(body: Mapping[str, Any], known_events: Iterable[str], *, update: bool) -> dict[str, Any]:
    """`name`, `url`, `events` (required), `notify_email` and, on update, `status`, checked."""
    fields: dict[str, Any] = {"name": _text(body, "name", limit=200), "url": _text(body, "url", limit=2048)}
    if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", fields["url"]):
        raise invalid("url", "must be an absolute http or https URL")
    email = _text(body, "notify_email", required=False, limit=320)
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", email):
        raise invalid("notify_email", "must be an email address")
    fields["notify_email"] = email
    fields["events"] = webhook_events(body.get("events"), set(known_events))
    if update and body.get("status") is not None:
        if body["status"] not in WEBHOOK_STATUSES:
            raise invalid("status", "must be enabled or disabled")
        fields["status"] = body["status"]
    return fields


def webhook_events(value: Any, known: set[str]) -> list[str]:
    """Event type names, at least one. `token:created` (the SDK samples' spelling) is read as `token.created`."""
    if not isinstance(value, list) or not value:
        raise invalid("events", "must be a non-empty array of event types")
    out: list[str] = []
    for i, name in enumerate(value):
        spelled = name.replace(":", ".") if isinstance(name, str) else None
        if spelled not in known:
            raise invalid(f"events[{i}]", "is not an event type; see GET /webhooks/event-types")
        if spelled not in out:
            out.append(spelled)
    return out


# --- what the API shows ---------------------------------------------------------------------------------


def view(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The REST object of a stored object: its public fields, times in the REST style (`api_times`); a token's
    `data` through its mask (`api_mask`), its `expires_at` in the offset its creator gave."""
    out = api_times.restyled({k: x for k, x in body.items() if not k.startswith("_") or k == "_extras"})
    if kind != "token":
        return out
    if "_data" in body:
        # A token stored before tokens kept their mask has none: it was made with the type's default, as now.
        mask = body["mask"] if "mask" in body else api_mask.default(str(body.get("type")))
        out["mask"] = mask
        out["data"] = api_mask.apply(mask, body["_data"])
    shown = body.get("_expires_at")
    # Only while it is the expiry the token holds: an event may have set another since.
    if shown is not None and api_times.instant(shown) == api_times.instant(body.get("expires_at")):
        out["expires_at"] = shown
    return out


def webhook_view(row: Mapping[str, Any], url: str, status: str, events: Iterable[str]) -> dict[str, Any]:
    """A webhook: its own fields, and the url, status and event types of the subscription behind it."""
    out = {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "status": status,
        "name": row["name"],
        "url": url,
        "notify_email": row["notify_email"],
        "events": list(events),
        "created_by": row["created_by"],
        "created_at": row["created_at"],
    }
    if row.get("modified_at"):
        out["modified_by"], out["modified_at"] = row["modified_by"], row["modified_at"]
    return out
