"""A token intent that only events announced (a run's, or `POST /events`'s `token-intent.created`) converts as
one made through the twin's `POST /token-intents` does: a consumer that receives the webhook and converts the
intent gets a token of the intent's type and fingerprint, whose card agrees with what the events told of it (a 3DS
session's brand, an event's card details), in the intent's tenant, and the same two events. A generic intent,
whose data no event could tell, is refused with a 422 naming why, never a 404 for an intent the twin serves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from basis_theory import BasisTheory
from basis_theory.errors.not_found_error import NotFoundError

from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.conftest import KEY, played

# Shown through the card's default mask: the number but its last four, and the expiry.
MASKED_CARD = {"number", "expiration_month", "expiration_year"}


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    """The 3DS session on an intent is found by a query of its own, which each backend runs."""
    return sim_on_each_store


@pytest.fixture
def sdk(sim: WebhookSim) -> Iterator[BasisTheory]:
    with httpx.Client(timeout=10.0) as http:
        yield BasisTheory(api_key=KEY, base_url=f"{sim.url}/basistheory", httpx_client=http)


def test_the_sdk_converts_an_intent_only_an_event_announced(
    sim: WebhookSim, sdk: BasisTheory, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    """It was a 404 `token intent '…' was not found`, while `GET /token-intents/{id}` answered the intent."""
    receiver = make_webhook_receiver()
    hook = sdk.webhooks.create(name="vault", url=receiver.url, events=["token.created", "token-intent.converted"])
    try:
        told = sim.emit("basistheory:token-intent.created", {"data.token_intent.type": "card"}).body
        intent = told["data"]["token_intent"]
        assert sdk.token_intents.get(id=intent["id"]).fingerprint == intent["fingerprint"]

        token = sdk.tokens.create(token_intent_id=intent["id"])
        read = sdk.tokens.get(id=token.id or "")
        assert (read.type, read.fingerprint, read.tenant_id) == ("card", intent["fingerprint"], told["tenant_id"])
        assert read.card is not None and isinstance(read.data, dict) and set(read.data) == MASKED_CARD
        number = read.data["number"]
        assert number == "X" * (len(number) - 4) + read.card.last4
        assert len(number) == {"american-express": 15, "diners-club": 14}.get(read.card.brand or "", 16)
        assert (read.data["expiration_month"], read.data["expiration_year"]) == (
            read.card.expiration_month,
            read.card.expiration_year,
        )
        assert read.card.bin is not None and read.card.brand == _brand_of(read.card.bin)
        with pytest.raises(NotFoundError):
            sdk.token_intents.get(id=intent["id"])  # converted: gone

        bodies = {r.json()["event"]["type"]: r.json()["event"] for r in receiver.wait_for(2)}
        assert bodies["token.created"]["data"]["token"]["id"] == token.id
        converted = bodies["token-intent.converted"]["data"]
        assert (converted["token_intent"]["id"], converted["token"]["id"]) == (intent["id"], token.id)
        assert {b["tenant_id"] for b in bodies.values()} == {told["tenant_id"]}
    finally:
        sdk.webhooks.delete(id=hook.id or "")


RUN_WITH_3DS = """name: twin-intent-3ds
provider: basistheory
steps:
  - emit: token-intent.created
    with: {data.token_intent.type: card}
  - emit: 3ds.session.created
    with: {data.session.card_brand: American Express}
"""


def test_a_run_intents_token_has_the_brand_its_3ds_session_named(
    sim: WebhookSim, bt: httpx.Client, tmp_path: Path
) -> None:
    """The checkout's flow: the run announces a card intent and a 3DS session on it; the backend converts."""
    created, session_created = played(sim, tmp_path, "intent-3ds", RUN_WITH_3DS)
    intent, session = created["data"]["token_intent"], session_created["data"]["session"]
    assert session["token_intent_id"] == intent["id"]

    answer = bt.post("/tokens", json={"token_intent_id": intent["id"]})
    assert answer.status_code == 201, answer.text
    token = answer.json()
    assert (session["card_brand"], token["card"]["brand"]) == ("American Express", "american-express")
    assert token["data"]["number"] == "X" * 11 + token["card"]["last4"]  # an Amex number's 15 digits
    assert (token["fingerprint"], token["tenant_id"]) == (intent["fingerprint"], created["tenant_id"])
    assert bt.get(f"/tokens/{token['id']}").json()["card"] == token["card"]


TOLD = """name: twin-intent-told
provider: basistheory
steps:
  - emit: token-intent.created
    unchecked: true
    with:
      data.token_intent.type: card
      data.token_intent.card:
        {bin: "51051051", last4: "5100", expiration_month: 3, expiration_year: 2031, brand: mastercard,
         funding: debit}
  - emit: token-intent.created
    unchecked: true
    with:
      data.token_intent.type: bank
      data.token_intent.bank: {routing_number: "021000021", account_number_last4: "6789"}
  - emit: token-intent.created
    unchecked: true
    with:
      data.token_intent.type: card
      data.token_intent.card: {bin: 42, last4: "12\\0a", expiration_month: true, brand: [1]}
      data.token_intent.fingerprint: "f\\0p"
"""


def test_what_events_told_of_an_intents_card_or_bank_holds_in_its_token(
    sim: WebhookSim, bt: httpx.Client, tmp_path: Path
) -> None:
    """Details an event gave the intent (here through unchecked steps) hold; values of the wrong JSON type, or
    holding NUL, are not taken, and the conversion still makes a card of its own."""
    card_intent, bank_intent, odd_intent = (
        e["data"]["token_intent"]["id"] for e in played(sim, tmp_path, "told", TOLD)
    )

    card = bt.post("/tokens", json={"token_intent_id": card_intent}).json()
    assert card["card"] == {
        "bin": "51051051",
        "last4": "5100",
        "expiration_month": 3,
        "expiration_year": 2031,
        "brand": "mastercard",
        "funding": "debit",
    }, card
    assert card["data"] == {"number": "XXXXXXXXXXXX5100", "expiration_month": 3, "expiration_year": 2031}

    bank = bt.post("/tokens", json={"token_intent_id": bank_intent}).json()
    assert bank["bank"] == {"routing_number": "021000021", "account_number_last4": "6789"}, bank
    assert bank["data"]["routing_number"] == "021000021" and bank["data"]["account_number"].endswith("6789")

    odd = bt.post("/tokens", json={"token_intent_id": odd_intent})
    assert odd.status_code == 201, odd.text
    shown = odd.json()
    assert shown["card"]["bin"].isdigit() and shown["card"]["last4"].isdigit() and "\x00" not in shown["fingerprint"]
    assert 1 <= shown["card"]["expiration_month"] <= 12


@pytest.mark.parametrize(("kind", "why"), [("token", "the caller's own"), ("network_token", "cannot hold")])
def test_an_intent_whose_data_cannot_be_made_is_a_422_and_stays(
    sim: WebhookSim, bt: httpx.Client, kind: str, why: str
) -> None:
    intent = sim.emit("basistheory:token-intent.created", {"data.token_intent.type": kind}).body
    intent_id = intent["data"]["token_intent"]["id"]
    refused = bt.post("/tokens", json={"token_intent_id": intent_id})
    problem = refused.json()
    assert refused.status_code == 422 and problem["status"] == 422, problem
    assert why in problem["detail"] and intent_id in problem["detail"], problem
    assert problem["errors"]["token_intent_id"], problem
    assert bt.get(f"/token-intents/{intent_id}").status_code == 200  # not converted: still there


@pytest.mark.parametrize(
    "kind", ["card_number", "us_bank_account_number", "us_bank_routing_number", "social_security_number"]
)
def test_each_single_number_intent_converts(sim: WebhookSim, bt: httpx.Client, kind: str) -> None:
    intent = sim.emit("basistheory:token-intent.created", {"data.token_intent.type": kind}).body
    answer = bt.post("/tokens", json={"token_intent_id": intent["data"]["token_intent"]["id"]})
    assert answer.status_code == 201, answer.text
    token = answer.json()
    assert token["type"] == kind and isinstance(token["data"], str), token
    if kind == "card_number":
        assert token["data"].endswith(token["card"]["last4"]) and "expiration_month" not in token["card"]


def _brand_of(bin_: str) -> str:
    return {"4": "visa", "5": "mastercard", "2": "mastercard", "6": "discover"}.get(bin_[0]) or {
        "34": "american-express",
        "37": "american-express",
        "35": "jcb",
        "36": "diners-club",
    }[bin_[:2]]
