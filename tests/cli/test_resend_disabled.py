"""`webhook-sim resend` of a delivery whose subscription is disabled: the server's refusal, and exit 1 (a state
conflict, not bad input); of one that fails again: the answer, at once."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer, eventually
from tests.cli.conftest import Ran


def test_resend_to_a_disabled_subscription_says_to_enable_it(
    main: Callable[..., Ran], server: ApiServer, api: httpx.Client, receiver: Receiver
) -> None:
    sub = api.post("/subscriptions", json={"url": receiver.url, "events": ["token.created"]}).json()["id"]
    [delivery] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "succeeded", what="delivered")
    assert api.patch(f"/subscriptions/{sub}", json={"enabled": False}).status_code == 200

    for args in ([delivery], ["--dead", "--subscription", sub]):
        ran = main("resend", *args, "--server", server.url, "--wait", "5")
        assert ran.code == 1, ran  # a 409: the record's state, not the input
        assert "409" in ran.err and f"subscription {sub} is disabled; enable it first" in ran.err, ran
        assert "still pending" not in ran.out + ran.err, ran
    assert len(receiver.requests) == 1


def test_resend_of_a_delivery_that_fails_again_says_the_answer_at_once(
    main: Callable[..., Ran], server: ApiServer, api: httpx.Client, receiver: Receiver
) -> None:
    """The resent attempt's outcome is what was asked: `resend` waited out its whole --wait for a delivery that was
    being retried on its schedule, then said only "still failed"."""
    receiver.respond(500)
    api.post(
        "/subscriptions", json={"url": receiver.url, "events": ["token.created"], "retry": {"delays": [3600, 3600]}}
    )
    [delivery] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "failed", what="the first attempt")
    ran = main("resend", delivery, "--server", server.url, "--wait", "60")
    assert ran.code == 1, ran
    assert f"delivery {delivery} (token.created): failed again (last: HTTP 500; next retry at" in ran.out, ran
