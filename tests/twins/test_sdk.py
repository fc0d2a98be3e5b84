"""Basis Theory's own Python SDK (`basistheoryclient`) as an independent client of the twin: it registers a
webhook, creates a token intent, converts it, reads the token; the webhooks reach a real receiver and verify with
the public key the twin serves at Basis Theory's path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from basis_theory import BasisTheory
from basis_theory.errors.not_found_error import NotFoundError
from basis_theory.errors.unauthorized_error import UnauthorizedError

from simulator import testing
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.conftest import KEY

CARD = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2031, "cvc": "123"}


@contextmanager
def sdk(sim: WebhookSim, key: str = KEY) -> Iterator[BasisTheory]:
    """The SDK pointed at the twin with its `base_url` setting (on an HTTP client closed afterwards)."""
    with httpx.Client(timeout=10.0) as http:
        yield BasisTheory(api_key=key, base_url=f"{sim.url}/basistheory", httpx_client=http)


def test_the_sdk_converts_an_intent_and_the_webhooks_verify(
    sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver]
) -> None:
    pem = httpx.get(f"{sim.url}/basistheory/keys/webhooks.v1.key").text
    receiver = make_webhook_receiver(verify=("basistheory", pem))
    with sdk(sim) as client:
        _convert(client, receiver)


def _convert(client: BasisTheory, receiver: Receiver) -> None:
    events = ["token-intent.created", "token.created", "token-intent.converted"]
    hook = client.webhooks.create(name="orders", url=receiver.url, events=events, notify_email="ops@example.com")
    try:
        assert (hook.status, hook.notify_email, list(hook.events)) == ("enabled", "ops@example.com", events)
        intent = client.token_intents.create(type="card", data=CARD)
        assert intent.card is not None and intent.card.last4 == "4242"
        token = client.tokens.create(token_intent_id=intent.id)
        read = client.tokens.get(id=token.id)
        assert (read.id, read.type, read.fingerprint) == (token.id, "card", intent.fingerprint)
        assert read.data == {"number": "XXXXXXXXXXXX4242", "expiration_month": 12, "expiration_year": 2031}
        with pytest.raises(NotFoundError):
            client.token_intents.get(id=intent.id)  # converted: gone

        received = receiver.wait_for(3)
        assert all(r.verified for r in received), [r.reason for r in received]
        bodies = {r.json()["event"]["type"]: r.json()["event"] for r in received}
        assert set(bodies) == set(events)
        assert bodies["token-intent.created"]["data"]["token_intent"]["id"] == intent.id
        assert bodies["token.created"]["data"]["token"]["id"] == token.id
        converted = bodies["token-intent.converted"]["data"]
        assert (converted["token_intent"]["id"], converted["token"]["id"]) == (intent.id, token.id)
        assert {b["tenant_id"] for b in bodies.values()} == {read.tenant_id}
        # The SDK sends no BT-TRACE-ID: the one call that converted still has one trace for both its events.
        assert bodies["token.created"]["trace_id"] == bodies["token-intent.converted"]["trace_id"]
        assert bodies["token.created"]["trace_id"] != bodies["token-intent.created"]["trace_id"]
    finally:
        client.webhooks.delete(id=hook.id)


def test_with_a_provider_key_the_sdk_with_another_key_is_refused() -> None:
    with testing.webhook_sim(provider_key="key_the_only_one") as served:
        with sdk(served, "key_some_other") as other, pytest.raises(UnauthorizedError):
            other.token_intents.create(type="card", data=CARD)
        with sdk(served, "key_the_only_one") as allowed:
            assert allowed.token_intents.create(type="card", data=CARD).id
