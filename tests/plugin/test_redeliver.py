"""`redeliver` sends a finished delivery again and waits for that attempt, whatever its outcome."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver


@pytest.mark.parametrize(
    ("down", "answers", "status"),
    [(False, [204, 204], "succeeded"), (True, [204, 503], "failed")],
    ids=["accepted", "refused"],
)
def test_redeliver_returns_the_delivery_once_its_new_attempt_has_ended(
    webhook_sim: WebhookSim, make_webhook_receiver: Callable[..., Receiver], down: bool, answers: list, status: str
) -> None:
    """A consumer that refuses the redelivery is what such a test looks for: it was said "not redelivered"
    after the whole timeout, or came back as the later retry's success."""
    receiver = make_webhook_receiver()
    # A refused attempt's retry is an hour off: what comes back is the redelivery's own outcome.
    sub = webhook_sim.subscribe(receiver.url, retry={"delays": [3600], "jitter": 0})
    webhook_sim.emit("credentials.updated", subscriptions=[sub.id])
    [delivered] = webhook_sim.wait_for_deliveries(1, subscription=sub.id)
    if down:
        receiver.fail(1, status=503)
    again = webhook_sim.redeliver(delivered.id, timeout=10)
    assert again.id == delivered.id and again.status == status
    assert [a.status_code for a in again.attempt_log or ()] == answers
    assert [r.status for r in receiver.requests] == answers
