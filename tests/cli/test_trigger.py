"""`webhook-sim trigger`: one event now, in this process or through a server, with checked overrides."""

from __future__ import annotations

import base64
import json
import re

import pytest

from simulator.signing import new_secret
from simulator.testing import make_verifier
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually
from tests.ports import refused_port

SECRET = new_secret("syncfy")  # read as Syncfy's without --signing


def event_id(out: str) -> str:
    return re.search(r"^event (\S+) \(", out, re.M).group(1)


def test_in_process_trigger_delivers_one_event_with_its_overrides(main, receiver: Receiver):
    ran = main("trigger", "credentials.updated", "--target", receiver.url, "--override", "payload.is_executing=0")
    assert ran.code == 0, ran
    [request] = receiver.requests
    assert request.event_ids == [event_id(ran.out)]
    event = request.json()["events"][0]
    assert event["header"]["event"]["name"] == "credentials.updated"
    assert event["payload"]["is_executing"] == 0
    delivery = request.headers["request-signature"]  # Syncfy's own scheme by default
    assert delivery
    assert re.search(rf"^delivery \S+ → {re.escape(receiver.url)}: succeeded after 1 attempt, HTTP 204$", ran.out, re.M)


def test_trigger_signs_with_the_scheme_and_secret_given(main, receiver: Receiver):
    secret = new_secret("standard")
    ran = main("trigger", "token.created", "--target", receiver.url, "--signing", "standard", "--secret", secret)
    assert ran.code == 0, ran
    [request] = receiver.requests
    assert make_verifier("standard", secret)(request.headers, request.body) == (True, "ok")
    assert request.json()["event"]["type"] == "token.created"


def test_the_secret_made_for_a_trigger_is_said_only_where_it_signs(main, receiver: Receiver):
    # Syncfy's scheme signs with it: said, and it verifies what went out.
    ran = main("trigger", "credentials.updated", "--target", receiver.url)
    assert ran.code == 0, ran
    said = re.search(r"^signed with a generated secret: (\S+)$", ran.err, re.M)
    assert said is not None, ran.err
    assert make_verifier("syncfy", said.group(1))(receiver.requests[0].headers, receiver.requests[0].body)[0]
    # Basis Theory's own signs with the simulator's RSA key: a secret said for it was not the one used.
    ran = main("trigger", "token.created", "--target", receiver.url)
    assert ran.code == 0, ran
    assert "secret" not in ran.err, ran.err
    assert "bt-signature" in receiver.requests[1].headers


def test_an_override_the_schema_refuses_exits_2_before_sending(main, receiver: Receiver):
    ran = main("trigger", "credentials.updated", "--target", receiver.url, "--override", "payload.is_exec=0")
    assert ran.code == 2
    assert "did you mean payload.is_executing?" in ran.err
    ran = main("trigger", "credentials.updated", "--target", receiver.url, "--override", 'payload.is_executing="no"')
    assert ran.code == 2
    assert '"no" does not fit the schema of payload.is_executing: "no" is not of type integer' in ran.err
    ran = main("trigger", "credentials.updated", "--target", receiver.url, "--override", "payload=null")
    assert ran.code == 2  # in JSON's words, not Python's (`None is not of type 'object'`)
    assert "null does not fit the schema of payload: null is not of type object" in ran.err, ran.err
    ran = main("trigger", "credentials.updated", "--target", receiver.url, "--override", "payload.is_executing")
    assert ran.code == 2 and "expected PATH=VALUE" in ran.err
    assert receiver.requests == []


def test_an_unreachable_target_is_named_with_the_event_id(main):
    url = f"http://127.0.0.1:{refused_port()}/hooks"
    ran = main("trigger", "basistheory:token.created", "--target", url, "--max-attempts", "1")
    assert ran.code == 1, ran
    eid = event_id(ran.out)
    assert re.fullmatch(r"[0-9a-f-]{36}", eid)
    assert re.search(rf"^delivery \S+ → {re.escape(url)}: dead after 1 attempt: connection refused$", ran.out, re.M)


def test_bad_combinations_exit_2(main, receiver: Receiver):
    assert main("trigger", "token.created").code == 2  # no target, no server
    ran = main("trigger", "token.created", "--subscription", "sub_x", "--target", receiver.url)
    assert ran.code == 2 and "not both" in ran.err
    ran = main("trigger", "token.created", "--subscription", "sub_x")
    assert ran.code == 2 and "--subscription needs --server" in ran.err
    ran = main("trigger", "token.craeted", "--target", receiver.url)
    assert ran.code == 2 and "token.created" in ran.err


def test_a_secret_for_a_basis_theory_event_without_signing_is_refused_as_a_server_refuses_it(main, receiver: Receiver):
    """Basis Theory's events are signed with its RSA key: the secret was dropped without a word (`listen` showed
    them verified with the key), where `--server`, `run` and the plugin refuse it."""
    ran = main("trigger", "token.created", "--target", receiver.url, "--secret", SECRET)
    assert ran.code == 2 and "--secret" in ran.err and "takes no secret" in ran.err, ran.err
    assert receiver.requests == []
    # With a scheme that takes one, it signs.
    ran = main("trigger", "token.created", "--target", receiver.url, "--signing", "syncfy", "--secret", SECRET)
    assert ran.code == 0, ran.err


def test_through_a_server_it_goes_to_the_matching_subscriptions(main, server, api, make_receiver):
    one, other = make_receiver(), make_receiver()
    secret = new_secret("syncfy")
    created = api.post("/subscriptions", json={"url": one.url, "events": ["syncfy:*"], "secret": secret}).json()
    api.post("/subscriptions", json={"url": other.url, "events": ["basistheory:*"]})
    ran = main("trigger", "credentials.created", "--server", server.url, "--seed", "4")
    assert ran.code == 0, ran
    [request] = one.requests
    assert other.requests == []
    assert request.event_ids == [event_id(ran.out)]
    assert make_verifier("syncfy", secret)(request.headers, request.body) == (True, "ok")
    [listed] = api.get("/deliveries", params={"subscription": created["id"]}).json()["data"]
    assert f"delivery {listed['id']}: succeeded after 1 attempt, HTTP 204" in ran.out

    ran = main("trigger", "documents.success", "--server", server.url, "--subscription", created["id"])
    assert ran.code == 0, ran
    assert len(one.requests) == 2


def test_through_a_server_a_target_with_a_secret_is_signed_with_it_and_leaves_no_subscription(
    main, server, api, receiver
):
    secret = new_secret("standard")
    ran = main(
        "trigger",
        "token.created",
        "--server",
        server.url,
        "--target",
        receiver.url,
        "--signing",
        "standard",
        "--secret",
        secret,
        "--override",
        'data.token.metadata={"plan": "gold"}',
    )
    assert ran.code == 0, ran
    [request] = receiver.requests
    assert make_verifier("standard", secret)(request.headers, request.body) == (True, "ok")
    assert request.json()["event"]["data"]["token"]["metadata"] == {"plan": "gold"}
    assert api.get("/subscriptions").json()["data"] == []  # the event's own target: no subscription
    delivery_id = re.search(r"^delivery (\S+) ", ran.out, re.M).group(1)
    assert api.get(f"/deliveries/{delivery_id}").json()["status"] == "succeeded"


def test_through_a_server_nothing_subscribed_exits_1(main, server):
    ran = main("trigger", "token.created", "--server", server.url)
    assert ran.code == 1
    assert "not sent: no enabled subscription receives basistheory:token.created" in ran.err
    assert event_id(ran.out)


def test_through_a_server_a_named_disabled_subscription_is_said_to_be_sent_nothing(main, server, api, receiver):
    made = api.post("/subscriptions", json={"url": receiver.url, "enabled": False}).json()
    ran = main("trigger", "token.created", "--server", server.url, "--subscription", made["id"])
    assert ran.code == 1, ran
    assert f"not sent to {made['id']}: disabled" in ran.err
    # Not as if the server had looked at every other subscription.
    assert "not sent: none of the subscriptions named receives basistheory:token.created" in ran.err
    assert "no enabled subscription" not in ran.err
    assert receiver.requests == []


def test_a_server_that_is_not_there_is_said_plainly(main):
    url = f"http://127.0.0.1:{refused_port()}"
    ran = main("trigger", "token.created", "--server", url)
    assert ran.code == 1
    assert f"cannot reach the control API at {url}: connection refused" in ran.err


def test_a_refusal_of_the_server_exits_2_naming_the_field(main, server):
    ran = main("trigger", "token.created", "--server", server.url, "--subscription", "sub_nope")
    assert ran.code == 2, ran
    assert "sub_nope" in ran.err


def test_waiting_ends_with_the_state_so_far(main, server, api, make_receiver):
    slow = make_receiver()
    slow.respond(204, delay=3)
    api.post("/subscriptions", json={"url": slow.url, "events": ["token.*"]})
    ran = main("trigger", "token.created", "--server", server.url, "--wait", "1")
    assert ran.code == 1
    assert re.search(r"^delivery \S+: still pending after [0-9.]+ s", ran.out, re.M), ran
    eventually(lambda: slow.requests, timeout=20, what="the slow receiver's request")
    assert json.loads(slow.requests[0].body)["event"]["type"] == "token.created"


def test_through_a_server_an_override_the_schema_refuses_exits_2(main, server):
    ran = main("trigger", "credentials.updated", "--server", server.url, "--override", "payload.is_exec=0")
    assert ran.code == 2, ran
    assert "422" in ran.err and "did you mean payload.is_executing?" in ran.err


def test_through_a_server_a_refused_override_leaves_no_subscription_behind(main, server, api, receiver):
    secret = new_secret("standard")
    target = ["--target", receiver.url, "--signing", "standard", "--secret", secret]
    ran = main("trigger", "token.created", "--server", server.url, *target, "--override", "data.nope=1")
    assert ran.code == 2, ran
    assert "no field 'nope' here" in ran.err
    assert api.get("/subscriptions").json()["data"] == []
    assert receiver.requests == []


@pytest.mark.parametrize(
    "given",
    [
        ["--max-attempts", "1"],
        ["--retry-delays", "0,1s"],
        ["--signing", "standard"],
        ["--secret", SECRET],
        ["--subscription", "SUB", "--max-attempts", "1"],  # SUB: the subscription's id
    ],
    ids=["max-attempts", "retry-delays", "signing", "secret", "with-subscription"],
)
def test_through_a_server_the_options_of_a_target_need_one(exit_2, server, api, receiver, given: list[str]):
    """Without --target the event goes to the subscriptions, which sign and retry as each was made: the option was
    ignored without a word, and the event sent on the subscription's own schedule."""
    sub = api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"]}).json()["id"]
    err = exit_2("trigger", "token.created", "--server", server.url, *[sub if w == "SUB" else w for w in given])
    option = next(word for word in given if word.startswith("--") and word != "--subscription")
    assert err.startswith(f"error: {option} needs --target: through --server without it"), err
    assert len(err.splitlines()) == 1, err
    assert api.get("/deliveries").json()["data"] == [] and receiver.requests == []


def test_through_a_server_several_options_of_a_target_are_named_together(exit_2, server):
    err = exit_2("trigger", "token.created", "--server", server.url, "--signing", "standard", "--max-attempts", "2")
    assert err.startswith("error: --signing and --max-attempts need --target"), err


def test_through_a_server_the_options_of_a_target_from_the_environment_are_left_alone(
    main, server, api, receiver, monkeypatch: pytest.MonkeyPatch
):
    """`run` and `listen` read the same variables: a shell exporting them for those still triggers to its
    subscriptions, as with a token from WEBHOOK_SIM_TOKEN."""
    api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"]})
    monkeypatch.setenv("WEBHOOK_SIM_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("WEBHOOK_SIM_SECRET", SECRET)
    ran = main("trigger", "token.created", "--server", server.url)
    assert ran.code == 0, ran
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_password_in_the_target_is_sent_as_basic_auth_and_never_printed(main, receiver: Receiver, fmt: str):
    """Each line of `trigger` named the target as given, its password included."""
    target = receiver.url.replace("http://", "http://ci:hunter2@")
    ran = main("trigger", "credentials.updated", "--target", target, "--format", fmt)
    assert ran.code == 0, ran
    [request] = receiver.requests
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"ci:hunter2").decode()
    assert "hunter2" not in ran.out + ran.err
    assert receiver.url.replace("http://", "http://ci:***@") in ran.out
