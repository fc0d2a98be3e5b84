"""A receiver made with `reject_invalid=True` answers 401 to a request whose signature does not verify, or that
carries none, as a consumer that checks signatures does: the provider's retry of a damaged request then shows."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from simulator.testing import WebhookSim, signing_secret
from simulator.testing.receiver import Receiver


@pytest.mark.parametrize(
    ("scenario", "scheme"), [("basistheory-token-lifecycle", None), ("syncfy-two-factor", "syncfy")]
)
def test_a_bad_signature_is_refused_with_401_and_its_intact_retry_taken(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver], scenario: str, scheme: str | None
) -> None:
    secret = signing_secret(scheme) if scheme else None
    verify = (scheme, secret) if scheme else ("basistheory", webhook_sim.public_key_pem)
    receiver = make_webhook_receiver(verify=verify, reject_invalid=True)
    handle = webhook_sim.run(scenario, seed=1, target=receiver.url, secret=secret, faults={"bad_signature": 1.0})
    final = handle.wait(30)
    assert final.status == "completed" and final.counts == {"succeeded": final.events}
    deliveries = handle.deliveries()
    assert [[a.status_code for a in d.attempt_log or ()] for d in deliveries] == [[401, 204]] * final.events
    refused = [r for r in receiver.requests if r.status == 401]
    assert len(refused) == final.events and not any(r.verified for r in refused)
    assert all(r.verified for r in receiver.requests if r.status == 204)


def test_an_unsigned_request_is_refused_and_a_receiver_without_the_option_takes_it(
    make_webhook_receiver: Callable[..., Receiver],
) -> None:
    strict = make_webhook_receiver(verify=("standard", signing_secret("standard")), reject_invalid=True)
    lenient = make_webhook_receiver(verify=("standard", signing_secret("standard")))
    assert httpx.post(strict.url, content=b"{}").status_code == 401
    assert httpx.post(lenient.url, content=b"{}").status_code == 204
    [request] = strict.requests
    assert (request.status, request.verified) == (401, False)
