"""What a token's `data` must be, type by type, as Basis Theory checks it: card numbers by Luhn, routing numbers by
their ABA checksum, the delimited nine-digit numbers, and a size limit on the rest. Pure: no HTTP, no SQL."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from simulator.providers.basistheory.api import DELIMITED, invalid

# The fields of Basis Theory's card and bank objects ("Token Data Validations"); a network token's details are a
# card's (the token object's `network_token`: "See Card Details").
CARD_FIELDS = ("number", "expiration_month", "expiration_year", "cvc")
BANK_FIELDS = ("routing_number", "account_number")


def _digits(data: Mapping[str, Any], field: str, low: int, high: int, name: str | None = None) -> str:
    """A string of digits, as the docs type every number but the expiry: a JSON number loses a cvc's leading
    zero, and one of 19 digits its last ones in any client that reads JSON numbers as doubles."""
    value = data.get(field)
    if not isinstance(value, str) or not re.fullmatch(rf"[0-9]{{{low},{high}}}", value):
        raise invalid(name or f"data.{field}", f"must be a string of {low} to {high} digits")
    return value


def _only(data: Mapping[str, Any], fields: tuple[str, ...], what: str) -> None:
    """Refuse what the object does not have: dropped, it would be data the caller sent and never got back."""
    for key in data:
        if key not in fields:
            raise invalid(f"data.{key}", f"is not a field of {what} (its fields: {', '.join(fields)})")


def _whole(data: Mapping[str, Any], field: str, low: int, high: int) -> int:
    value = data.get(field)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,4}", value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise invalid(f"data.{field}", f"must be a whole number from {low} to {high}")
    return value


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def aba_ok(routing: str) -> bool:
    """An ABA routing number's checksum: 3, 7 and 1 times its digits in turn sum to a multiple of 10."""
    return sum(int(d) * w for d, w in zip(routing, (3, 7, 1) * 3, strict=True)) % 10 == 0


def _card_number(data: Mapping[str, Any], field: str, name: str) -> str:
    number = _digits(data, field, 12, 19, name)
    if not luhn_ok(number):
        raise invalid(name, "is not a valid card number")
    return number


def card_data(data: Any) -> dict[str, Any]:
    """A card's data, checked: number (Luhn); expiration month and year, and cvc, each optional, as Basis Theory's
    card object has them."""
    if not isinstance(data, dict):
        raise invalid("data", "a card is an object with number, expiration_month, expiration_year")
    _only(data, CARD_FIELDS, "a card")
    card: dict[str, Any] = {"number": _card_number(data, "number", "data.number")}
    if data.get("expiration_month") is not None:
        card["expiration_month"] = _whole(data, "expiration_month", 1, 12)
    if data.get("expiration_year") is not None:
        card["expiration_year"] = _whole(data, "expiration_year", 2000, 2099)
    if data.get("cvc") is not None:
        card["cvc"] = _digits(data, "cvc", 3, 4)
    return card


def _routing(data: Mapping[str, Any], field: str, name: str) -> str:
    routing = _digits(data, field, 9, 9, name)
    if not aba_ok(routing):
        raise invalid(name, "is not a valid ABA routing number (its checksum fails)")
    return routing


def bank_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise invalid("data", "a bank account is an object with routing_number and account_number")
    _only(data, BANK_FIELDS, "a bank account")
    return {
        "routing_number": _routing(data, "routing_number", "data.routing_number"),
        "account_number": _digits(data, "account_number", 3, 17),
    }


def _number_text(token_type: str, data: Any) -> str:
    """The data of a token type that holds one number as a string, checked as Basis Theory checks it."""
    if token_type in DELIMITED:
        # "Numeric with optional delimiter of '-'", 9 digits not counting the delimiters (the token types page).
        if (
            not isinstance(data, str)
            or not re.fullmatch(r"[0-9]+(?:-[0-9]+)*", data)
            or data.count("-") + 9 != len(data)
        ):
            raise invalid("data", f"{token_type} data is 9 digits, optionally delimited by '-' (123-45-6789)")
        return data
    if not isinstance(data, str):
        raise invalid("data", f"a {token_type} token's data is a string of digits")
    given = {"data": data}
    if token_type == "card_number":
        return _card_number(given, "data", "data")
    if token_type == "us_bank_routing_number":
        return _routing(given, "data", "data")
    return _digits(given, "data", 3, 17, "data")  # us_bank_account_number


def checked_data(token_type: str, data: Any) -> Any:
    """`data` as the token type requires it (card and bank field by field, the single numbers as numbers; others
    as given)."""
    if data is None:
        raise invalid("data", "is required")
    if token_type in ("card", "network_token"):
        return card_data(data)
    if token_type == "bank":
        return bank_data(data)
    if token_type in ("card_number", "us_bank_routing_number", "us_bank_account_number", *DELIMITED):
        return _number_text(token_type, data)
    if len(json.dumps(data)) > 32_768:
        raise invalid("data", "is larger than 32 KiB")
    return data
