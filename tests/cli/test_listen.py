"""`webhook-sim listen` tells the sender the truth: `--reject-invalid` answers 401 to a bad signature, so a
`bad_signature` fault is retried; its lines line up under their titles; a malformed or expired request says why."""

from __future__ import annotations

import asyncio
import time

import httpx

from simulator import signing
from simulator.cli import listen as listen_cli
from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, SubscriptionSpec
from simulator.testing import signing_secret
from tests.test_listen import listen  # the listener fixture: a `Listener` served on an ephemeral port


async def deliver_one(sim: Simulator, url: str, secret: str, **faults: float):
    """`token.created` to `url`, signed `standard` with `secret`, retried twice at once; the final delivery."""
    spec = SubscriptionSpec(
        url=url, signing="standard", secret=secret, retry={"delays": [0, 0]}, faults=dict(faults), disable_after=0
    )
    sub = await sim.create_subscription(spec)
    _, [delivery_id] = await sim.emit(EventSpec(type="token.created", subscriptions=[sub.id]))
    deadline = time.monotonic() + 30
    while (found := await sim.delivery(delivery_id)).status not in ("succeeded", "dead"):
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.02)
    return found


async def test_reject_invalid_answers_401_so_bad_signatures_are_retried(sim, listen):
    secret = signing_secret("standard")
    strict = listen(secret=secret, reject_invalid=True)
    delivery = await deliver_one(sim, strict.url, secret, bad_signature=1.0)
    # The fault damages the first attempt's signature; refused, it is retried, and the retry is signed well.
    assert (delivery.status, [a.status_code for a in delivery.attempt_log]) == ("succeeded", [401, 204])
    assert [a.status for a in strict.listener.arrivals] == [401, 204]
    refused, accepted = strict.lines()[-2:]
    assert " 401 " in refused and "✗ standard (signature mismatch)" in refused and refused.endswith("rejected")
    assert " 204 " in accepted and "✓ standard" in accepted and accepted.endswith("again")

    lenient = listen(secret=secret)  # without the option, what arrives is taken: nothing is retried
    delivery = await deliver_one(sim, lenient.url, secret, bad_signature=1.0)
    assert (delivery.status, [a.status_code for a in delivery.attempt_log]) == ("succeeded", [204])

    good = await deliver_one(sim, strict.url, secret)  # a good signature passes the strict listener
    assert (good.status, good.attempts) == ("succeeded", 1)


def test_reject_invalid_refuses_a_request_that_carries_no_signature(listen):
    body = b'{"event": {"id": "4f8c2a1e-0d57-4b1e-9c2f-6a0e3d9b7c15", "type": "token.created"}}'
    strict = listen(secret=signing_secret("standard"), reject_invalid=True)
    # Unsigned is not "not invalid": a consumer that checks signatures takes nothing that has none.
    assert httpx.post(strict.url, content=body).status_code == 401
    [line] = strict.lines()
    assert " 401 " in line and "unsigned" in line and line.endswith("rejected")
    lenient = listen(secret=signing_secret("standard"))
    assert httpx.post(lenient.url, content=body).status_code == 204


def test_the_titles_line_up_with_the_columns(listen):
    secret = signing_secret("standard")
    listening = listen(secret=secret)
    body = b'{"event": {"id": "4f8c2a1e-0d57-4b1e-9c2f-6a0e3d9b7c15", "type": "token.created"}}'
    headers = signing.sign("standard", msg_id="msg_1a22a6029cb8f3a5fdef4", timestamp=int(time.time()), body=body,
                           secret=secret)  # fmt: skip
    assert httpx.post(listening.url, content=body, headers=headers).status_code == 204
    [line] = listening.lines()
    header = listen_cli.header()
    values = {
        "provider": "basistheory",
        "type(s)": "token.created",
        "event id(s)": "4f8c2a1e-0d57-4b1e-9c2f-6a0e3d9b7c15",
        "delivery": "msg_1a22a6029cb8f3a5fdef4",
        "answer": "204",
        "signature": "✓ standard",
    }
    for title, value in values.items():
        # Read at the title's column: searched from the start, "204" was found in the clock at times (…:12.204).
        assert line[header.index(title) :].startswith(value), (title, header, line)


def test_a_malformed_or_expired_request_says_why(listen):
    secret = signing_secret("standard")
    listening = listen(secret=secret)
    body = b"{not json"
    headers = signing.sign("standard", msg_id="msg_x", timestamp=int(time.time()), body=body, secret=secret)
    assert httpx.post(listening.url, content=body, headers=headers).status_code == 204
    line = listening.lines()[-1]
    assert "✓ standard" in line
    assert line.endswith("malformed: the body is not JSON (Expecting property name enclosed in double quotes "
                         "(line 1, column 2))")  # fmt: skip

    good = b'{"event": {"id": "e1", "type": "token.created"}}'
    stale = signing.sign("standard", msg_id="msg_y", timestamp=int(time.time()) - 3600, body=good, secret=secret)
    assert httpx.post(listening.url, content=good, headers=stale).status_code == 204
    assert "✗ standard (timestamp too old)" in listening.lines()[-1]

    other = b'{"hello": "world"}'
    assert httpx.post(listening.url, content=other).status_code == 204
    assert listening.lines()[-1].endswith("malformed: neither a Syncfy nor a Basis Theory body")


__all__ = ["listen"]
