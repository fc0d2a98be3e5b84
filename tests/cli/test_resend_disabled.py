"""`webhook-sim resend` of a delivery whose subscription is disabled: the server's refusal, and exit 2."""

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
