"""The data a token gets when the API twin converts a token intent that only events announced. Pure: no HTTP,
no SQL.

The twin holds the data of the intents its own `POST /token-intents` made. An intent that a run or `POST /events`
announced has none: `token-intent.created` tells its id, type, fingerprint and times, never the card. Yet a
consumer that receives that webhook converts the intent (`POST /tokens {"token_intent_id": …}`), as Basis
Theory's flow has it, so the conversion makes the data up, coherent with what the world told of the intent:

- the same intent always gets the same data: it is drawn from a generator seeded by the intent's id, type and
  fingerprint, never from a run's generator (a run's events stay byte for byte what its seed made);
- card details an event gave the intent (`bin`, `last4`, `expiration_month`/`_year`, `brand`) hold in the data,
  and the rest of them (`funding`, `issuer`, …) are kept as told; bank details alike; without a bin, the brand a
  3DS session opened on the intent named (`card_brand`) chooses the card's prefix;
- the token keeps the intent's fingerprint, as Basis Theory's does (the same data, the same fingerprint).

A generic `token` intent's data is of the caller's own shape, which no event tells, and `network_token` is no
type an intent holds: such intents are refused (`unconvertible`, a 422), as is an intent with no type at all.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.providers.basistheory import _values as v
from simulator.providers.basistheory import api
from simulator.providers.basistheory.api_data import aba_ok, luhn_ok
from simulator.timeutil import now_utc

# The card and bank fields the data determines (`api.details`); an event's other ones are kept as told.
_FROM_DATA = ("bin", "last4", "expiration_month", "expiration_year", "brand", "routing_number", "account_number_last4")
# A number's first digits by brand (as `api.card_brand` reads them back), and its length where not 16.
_PREFIXES: dict[str, Callable[[random.Random], str]] = {
    "visa": lambda rng: "4",
    "mastercard": lambda rng: f"5{rng.randint(1, 5)}",
    "american-express": lambda rng: rng.choice(("34", "37")),
    "discover": lambda rng: "6011",
    "jcb": lambda rng: f"35{rng.randint(28, 89)}",
    "diners-club": lambda rng: "36",
}
_LENGTHS = {"american-express": 15, "diners-club": 14}
_ALIASES = {"amex": "american-express", "diners": "diners-club", "master-card": "mastercard"}


@dataclass(frozen=True)
class Made:
    """A conversion's token type, its data, and the fields the token takes from the intent over those its data
    gives (`fingerprint`, and the card or bank details an event told)."""

    kind: str
    data: Any
    fields: dict[str, Any]


def unconvertible(intent_id: str, why: str) -> api.ApiError:
    return api.ApiError(422, f"token intent {intent_id!r} cannot be converted: {why}", {"token_intent_id": [why]})


def made(intent: Mapping[str, Any], session_brand: str | None = None) -> Made:
    """The token a conversion of `intent` (its REST body, without data) makes; `session_brand` is the
    `card_brand` a 3DS session on the intent named, if one did. An intent of a type no data can be made up for
    is `unconvertible`."""
    intent_id, kind = str(intent.get("id")), intent.get("type")
    if kind == "token":
        raise unconvertible(intent_id, "a generic token's data is the caller's own, and no event tells it")
    if kind == "network_token":
        raise unconvertible(intent_id, "a token intent cannot hold a network_token")
    if not isinstance(kind, str) or kind not in _MAKERS:
        raise unconvertible(intent_id, f"its type {_short(kind)} is not a token type")
    data = _MAKERS[kind](random.Random(_seed(intent)), intent, session_brand)
    fields = api.details(kind, data)
    for key, detail in fields.items():  # `card` or `bank`: what the event told beyond what the data determines
        told = _dict(intent.get(key))
        detail.update({k: x for k, x in told.items() if k not in _FROM_DATA})
    told_fingerprint = intent.get("fingerprint")
    if isinstance(told_fingerprint, str) and told_fingerprint and "\x00" not in told_fingerprint:
        fields["fingerprint"] = told_fingerprint
    return Made(kind, data, fields)


def _seed(intent: Mapping[str, Any]) -> int:
    what = [intent.get("id"), intent.get("type"), intent.get("fingerprint")]
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _digits(value: Any, low: int, high: int) -> str | None:
    """`value` when it is a string of `low` to `high` digits (what an event told, if it is usable)."""
    return value if isinstance(value, str) and re.fullmatch(rf"[0-9]{{{low},{high}}}", value) else None


def _whole(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _brand(value: Any) -> str | None:
    """A brand as the REST card object names it (`american-express`), from that or a 3DS session's `American
    Express`; None for what is no brand the twin knows."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower().replace(" ", "-")
    name = _ALIASES.get(name, name)
    return name if name in _PREFIXES else None


def _card_number(rng: random.Random, told: Mapping[str, Any], session_brand: str | None) -> str:
    """A Luhn-valid number starting with the told bin (else a prefix of the told brand, else of a brand drawn as
    cards are) and ending with the told last four."""
    bin_ = _digits(told.get("bin"), 6, 8)
    last4 = _digits(told.get("last4"), 4, 4) or f"{rng.randrange(10_000):04d}"
    if bin_ is not None:
        prefix = bin_
        # `api.card_details` shows an eight-digit bin only for a number of 16 digits or more.
        length = 16 if len(bin_) > 6 else _LENGTHS.get(api.card_brand(bin_), 16)
    else:
        brand = (
            _brand(told.get("brand"))
            or _brand(session_brand)
            or _brand(v.pick(rng, v.CARD_BRANDS, v.CARD_BRAND_WEIGHTS))
        )
        prefix = _PREFIXES[brand or "visa"](rng)
        length = _LENGTHS.get(brand or "visa", 16)
    middle = [rng.randrange(10) for _ in range(length - len(prefix) - 4)]
    # The last free digit makes the checksum: each of its ten values gives a different one.
    for digit in range(10):
        middle[-1] = digit
        number = prefix + "".join(map(str, middle)) + last4
        if luhn_ok(number):
            return number
    raise AssertionError("unreachable: one digit of ten completes a Luhn checksum")


def _year(intent: Mapping[str, Any]) -> int:
    created = intent.get("created_at")
    if isinstance(created, str) and re.match(r"[0-9]{4}-", created):
        return int(created[:4])
    return now_utc().year


def _card(rng: random.Random, intent: Mapping[str, Any], session_brand: str | None) -> dict[str, Any]:
    told = _dict(intent.get("card"))
    card: dict[str, Any] = {"number": _card_number(rng, told, session_brand)}
    card["expiration_month"] = _whole(told.get("expiration_month"), 1, 12) or rng.randint(1, 12)
    card["expiration_year"] = _whole(told.get("expiration_year"), 2000, 2099) or min(
        _year(intent) + rng.randint(1, 5), 2099
    )
    return card


def _routing(rng: random.Random) -> str:
    """A routing number whose ABA checksum holds, of a Federal Reserve district (01-12)."""
    head = f"{rng.randint(1, 12):02d}" + "".join(str(rng.randrange(10)) for _ in range(6))
    check = -sum(int(d) * w for d, w in zip(head, (3, 7, 1) * 3, strict=False)) % 10
    routing = head + str(check)
    assert aba_ok(routing)
    return routing


def _account(rng: random.Random, last4: str | None = None) -> str:
    head = "".join(str(rng.randrange(10)) for _ in range(rng.randint(6, 8)))
    return head + (last4 or f"{rng.randrange(10_000):04d}")


def _bank(rng: random.Random, intent: Mapping[str, Any], session_brand: str | None) -> dict[str, Any]:
    told = _dict(intent.get("bank"))
    routing = _digits(told.get("routing_number"), 9, 9)
    return {
        "routing_number": routing if routing is not None and aba_ok(routing) else _routing(rng),
        "account_number": _account(rng, _digits(told.get("account_number_last4"), 4, 4)),
    }


def _ssn(rng: random.Random) -> str:
    area = rng.randint(1, 898)
    area += area >= 666  # issued numbers' areas are 001-899 but 666
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


_MAKERS: dict[str, Callable[[random.Random, Mapping[str, Any], str | None], Any]] = {
    "card": _card,
    "card_number": lambda rng, intent, brand: _card_number(rng, _dict(intent.get("card")), brand),
    "bank": _bank,
    "us_bank_routing_number": lambda rng, intent, brand: _routing(rng),
    "us_bank_account_number": lambda rng, intent, brand: _account(rng),
    "social_security_number": lambda rng, intent, brand: _ssn(rng),
    "employer_id_number": lambda rng, intent, brand: f"{rng.randint(10, 99)}-{rng.randrange(10_000_000):07d}",
}
