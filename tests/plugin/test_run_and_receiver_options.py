"""A run's `params` and `faults`, a receiver's options and a target's signing scheme are checked where they are
given: a TypeError or ValueError naming the argument, never a value dropped or taken with no effect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simulator.testing import WebhookSim, signing_secret
from simulator.testing.receiver import Receiver


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"params": [1]}, "params must be a dict, got [1]"),
        ({"faults": [("duplicate", 1.0)]}, "faults must be a dict, got [('duplicate', 1.0)]"),
        ({"faults": "duplicate"}, "faults must be a dict, got 'duplicate'"),
        # Falsy: each was dropped as if nothing had been given.
        ({"faults": ""}, "faults must be a dict, got ''"),
        ({"faults": 0}, "faults must be a dict, got 0"),
        ({"params": False}, "params must be a dict, got False"),
        ({"params": []}, "params must be a dict, got []"),
    ],
    ids=["params list", "faults pairs", "faults str", "faults ''", "faults 0", "params False", "params []"],
)
def test_a_runs_params_or_faults_that_are_no_mapping_are_refused_naming_them(
    webhook_sim: WebhookSim, given: dict[str, Any], said: str
) -> None:
    with pytest.raises(TypeError) as caught:
        webhook_sim.run("syncfy-two-factor", **given)
    assert str(caught.value) == said
    assert list(webhook_sim.client.iter_runs()) == []


def test_empty_params_and_faults_are_given_as_empty(webhook_sim: WebhookSim, webhook_receiver: Receiver) -> None:
    final = webhook_sim.run("syncfy-two-factor", params={}, faults={}, target=webhook_receiver.url).wait(30)
    assert final.status == "completed"


@pytest.mark.parametrize(
    ("options", "error", "said"),
    [
        ({"retry_after": 5}, ValueError, "retry_after=5 is sent with the answers of `fail`, and fail is 0"),
        ({"retry_after": 1.5}, TypeError, "retry_after must be seconds (an int) or the header's text"),
        ({"fail_status": 99}, ValueError, "fail_status must be an HTTP status from 200 to 599, got 99"),
        ({"fail": 1, "fail_status": 99}, ValueError, "fail_status must be an HTTP status from 200 to 599, got 99"),
        ({"fail_status": "503"}, TypeError, "fail_status must be an HTTP status (an int), got '503'"),
        ({"fail": "2"}, TypeError, "fail must be an integer, got '2'"),
        ({"reject_invalid": True}, ValueError, "reject_invalid needs verify=(scheme, secret_or_pem)"),
        ({"reject_invalid": "yes", "verify": "basistheory"}, TypeError, "reject_invalid must be True or False"),
    ],
    ids=[
        "retry_after without fail",
        "retry_after 1.5",
        "fail_status 99",
        "fail_status 99 with fail",
        "fail_status str",
        "fail str",
        "reject_invalid without verify",
        "reject_invalid str",
    ],
)
def test_a_receivers_option_is_checked_whether_or_not_it_fails(
    make_webhook_receiver: Callable[..., Receiver], options: dict[str, Any], error: type, said: str
) -> None:
    with pytest.raises(error) as caught:
        make_webhook_receiver(**options)
    assert said in str(caught.value)


def test_a_target_secret_of_a_scheme_not_known_is_refused_naming_it(
    webhook_sim: WebhookSim, webhook_receiver: Receiver
) -> None:
    with pytest.raises(ValueError, match=r"^signing must be one of standard, basistheory, syncfy, none, got 'nope'$"):
        webhook_sim.target_secret(webhook_receiver.url, "nope")
    with pytest.raises(ValueError, match=r"^scheme must be one of standard, basistheory, syncfy, none, got 'nope'$"):
        signing_secret("nope")
    with pytest.raises(ValueError, match=r"^signing must be one of"):
        webhook_sim.emit("credentials.updated", target=webhook_receiver.url, signing="nope")
    assert webhook_sim.target_secret(webhook_receiver.url, "none") is None  # a scheme known to have none
    assert webhook_receiver.requests == []


@pytest.mark.parametrize(
    ("given", "error", "said"),
    [
        ({"signing": "hmac"}, ValueError, "signing must be one of standard, basistheory, syncfy, none, got 'hmac'"),
        ({"signing": 5}, TypeError, "signing must be a signing scheme's name (a str), got 5"),
        ({"secret": 5}, TypeError, "secret must be a str, got 5"),
    ],
)
def test_subscribe_checks_its_scheme_and_secret_where_they_are_given(
    webhook_sim: WebhookSim, webhook_receiver: Receiver, given: dict[str, Any], error: type, said: str
) -> None:
    """As `emit` and `run` do: the server's refusal came back as an ApiError, which no ValueError catches."""
    with pytest.raises(error) as caught:
        webhook_sim.subscribe(webhook_receiver.url, **given)
    assert str(caught.value) == said
    assert webhook_sim.client.list_subscriptions().data == ()
