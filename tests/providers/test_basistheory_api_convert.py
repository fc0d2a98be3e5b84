"""The data the twin makes up when it converts a token intent only events announced (`api_convert`): valid as
Basis Theory checks a token's data, the same for the same intent, agreeing with what the events told (it is
drawn from a generator seeded by the intent, never from a run's)."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.providers.basistheory import api, api_convert, api_data

MADE_TYPES = [t for t in api.INTENT_TYPES if t != "token"]


def _intent(kind: Any, n: int, **told: Any) -> dict[str, Any]:
    return {
        "id": f"intent-{n}",
        "type": kind,
        "fingerprint": f"fp{n}",
        "created_at": "2026-05-01T10:00:00.000Z",
        **told,
    }


@pytest.mark.parametrize("kind", MADE_TYPES)
def test_made_data_is_valid_and_the_same_for_the_same_intent(kind: str) -> None:
    for n in range(200):
        made = api_convert.made(_intent(kind, n))
        assert made.kind == kind and made.fields["fingerprint"] == f"fp{n}"
        assert api_data.checked_data(kind, made.data) == made.data  # Luhn, ABA checksum, 9 digits, …
        assert api_convert.made(_intent(kind, n)) == made
    assert api_convert.made(_intent(kind, 1)).data != api_convert.made(_intent(kind, 2)).data


def test_the_told_card_holds_and_a_brand_alone_chooses_the_prefix() -> None:
    told = {"bin": "37828224", "last4": "0005", "expiration_month": 9, "expiration_year": 2030, "funding": "debit"}
    card = api_convert.made(_intent("card", 1, card=told))
    assert card.data["number"].startswith("37828224") and card.data["number"].endswith("0005")
    assert card.fields["card"] == {**told, "brand": "american-express"}
    for n in range(50):
        for brand, length in (("American Express", 15), ("Diners Club", 14), ("Mastercard", 16), ("JCB", 16)):
            number = api_convert.made(_intent("card_number", n), brand).data
            assert len(number) == length and api.card_brand(number) == brand.lower().replace(" ", "-")


@pytest.mark.parametrize(
    ("kind", "why"), [("token", "caller's own"), ("network_token", "cannot hold"), (None, "None"), ([1], "[1]")]
)
def test_an_intent_no_data_can_be_made_for_is_a_422(kind: Any, why: str) -> None:
    with pytest.raises(api.ApiError) as refused:
        api_convert.made(_intent(kind, 1))
    assert refused.value.status == 422 and why in refused.value.detail
    assert list(refused.value.errors) == ["token_intent_id"]
