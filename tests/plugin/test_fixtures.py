"""The plugin's fixtures as this project's own tests use them (the plugin is installed, so they are available)."""

import time
from pathlib import Path

import pytest

from simulator import signing
from simulator.client import ApiError
from simulator.scenarios.document import ScenarioInvalid
from simulator.testing import make_verifier, signing_secret

ONE_EVENT = """
name: plugin-one-event
provider: syncfy
description: One credential is created.
steps:
  - emit: credentials.created
"""


def test_subscribe_keeps_the_secret_and_emit_takes_overrides_both_ways(webhook_sim, make_webhook_receiver):
    sub = webhook_sim.subscribe("http://127.0.0.1:9/unused", signing="standard")
    receiver = make_webhook_receiver(verify=("standard", sub.secret))
    webhook_sim.client.update_subscription(sub.id, url=receiver.url, events=["syncfy:credentials.updated"])

    first = webhook_sim.emit("credentials.updated", payload__is_executing=0)
    second = webhook_sim.emit("syncfy:credentials.updated", {"payload.is_executing": 1})
    skipped = webhook_sim.emit("basistheory:token.created")

    received = receiver.wait_for(2)
    assert [r.json()["events"][0]["payload"]["is_executing"] for r in received] == [0, 1]
    assert [r.event_ids for r in received] == [[first.id], [second.id]]
    assert all(r.verified for r in received), [r.reason for r in received]
    assert skipped.deliveries == []
    assert sub.secret.startswith("whsec_") and sub["secret"] == sub.secret
    assert webhook_sim.secret(sub.id) == sub.secret
    assert webhook_sim.client.get_subscription(sub.id).secret != sub.secret  # the API masks it after creation


def test_a_run_to_a_target_gets_a_secret_the_test_can_verify_with(webhook_sim, webhook_receiver):
    handle = webhook_sim.run(
        "syncfy-credential-lifecycle", seed=4, params={"refreshes": 0}, target=webhook_receiver.url
    )
    final = handle.wait(timeout=30)
    assert final.status == "completed" and final.counts == {"succeeded": final.events}
    assert handle.secret is not None and webhook_sim.secret(final.subscriptions[0]) == handle.secret
    received = webhook_receiver.wait_for(final.events)
    assert [signing.verify("syncfy", r.headers, r.body, secret=handle.secret).ok for r in received] == [True] * 4
    assert webhook_receiver.event_ids() == [e.id for e in handle.events()]


def test_basis_theory_signatures_verify_with_the_public_key_and_tampering_shows(webhook_sim, make_webhook_receiver):
    receiver = make_webhook_receiver(verify=("basistheory", webhook_sim.public_key_pem))
    clean = webhook_sim.run("basistheory-token-lifecycle", seed=1, target=receiver.url).wait(timeout=30)
    assert clean.status == "completed"
    assert [r.verified for r in receiver.requests] == [True] * clean.events

    receiver.clear()
    tampered = webhook_sim.run(
        "basistheory-token-lifecycle", seed=1, target=receiver.url, faults={"bad_signature": 1.0}
    ).wait(timeout=30)
    assert tampered.status == "completed"
    assert [(r.verified, r.reason) for r in receiver.requests] == [(False, "signature mismatch")] * tampered.events


def test_a_failing_receiver_causes_retries_recorded_as_attempts(webhook_sim, make_webhook_receiver):
    receiver = make_webhook_receiver(fail=2, fail_status=503)
    handle = webhook_sim.run("syncfy-credential-lifecycle", seed=9, params={"refreshes": 0}, target=receiver.url)
    final = handle.wait(timeout=30)
    assert final.status == "completed"

    deliveries = webhook_sim.deliveries(run=final.id)
    codes = [[a.status_code for a in d.attempt_log] for d in deliveries]
    assert [d.attempts for d in deliveries] == [len(c) for c in codes]
    assert sum(len(c) for c in codes) == final.events + 2  # the two refused attempts were retried
    assert sorted(code for c in codes for code in c) == [204] * final.events + [503, 503]
    assert all(c[-1] == 204 for c in codes)
    assert [d.type for d in webhook_sim.deliveries(run=final.id, type="syncfy:credentials.created")] == [
        "credentials.created"
    ]
    assert webhook_sim.deliveries(run=final.id, status="dead") == []
    assert handle.deliveries(attempts=False)[0].attempt_log is None


async def test_a_run_is_awaited_in_an_async_test(webhook_sim, webhook_receiver):
    handle = webhook_sim.run(
        "syncfy-credential-lifecycle", seed=2, params={"refreshes": 1}, target=webhook_receiver.url
    )
    final = await handle
    assert final.status == "completed" and final.events == 5
    again = await handle.wait_async(timeout=5)
    assert again.finished_at == final.finished_at
    received = await webhook_receiver.wait_for_async(final.events)
    assert len(received) == final.events


def test_reset_forgets_subscriptions_and_history(webhook_sim, webhook_receiver):
    sub = webhook_sim.subscribe(webhook_receiver.url)
    webhook_sim.emit("credentials.created")
    assert len(webhook_sim.wait_for_deliveries(1)) == 1
    webhook_sim.reset()
    assert list(webhook_sim.client.iter_subscriptions()) == []
    assert webhook_sim.deliveries() == []
    with pytest.raises(KeyError):
        webhook_sim.secret(sub.id)


def test_a_scenario_file_runs_by_its_path(webhook_sim, webhook_receiver, tmp_path: Path):
    path = tmp_path / "one.yaml"
    path.write_text(ONE_EVENT)
    final = webhook_sim.run(path, seed=1, target=webhook_receiver.url).wait(timeout=30)
    assert (final.scenario, final.status, final.events) == ("plugin-one-event", "completed", 1)
    assert webhook_sim.run("plugin-one-event", target=webhook_receiver.url).wait(timeout=30).status == "completed"


def test_a_scenario_file_named_like_another_is_refused_not_swapped(webhook_sim, webhook_receiver, tmp_path: Path):
    """The server plays a scenario by name: a file taking a built-in's name, or another file's, would play that."""
    (tmp_path / "a").mkdir()
    builtin_named = tmp_path / "a" / "mine.yaml"
    builtin_named.write_text(ONE_EVENT.replace("plugin-one-event", "syncfy-two-factor"))
    with pytest.raises(ScenarioInvalid, match="already used by the built-in scenario"):
        webhook_sim.run(builtin_named, seed=1, target=webhook_receiver.url)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "one.yaml").write_text(ONE_EVENT.replace("plugin-one-event", "dup-name"))
    two = ONE_EVENT.replace("plugin-one-event", "dup-name") + "  - emit: credentials.updated\n"
    (tmp_path / "b" / "two.yaml").write_text(two)
    for mine, other in (("one", "two"), ("two", "one")):  # the first read too: by name, neither is the server's
        with pytest.raises(ScenarioInvalid, match=f"'dup-name' is already used by the scenario in .*{other}.yaml"):
            webhook_sim.run(tmp_path / "b" / f"{mine}.yaml", seed=1, target=webhook_receiver.url)
    (tmp_path / "b" / "two.yaml").unlink()
    assert webhook_sim.run(tmp_path / "b" / "one.yaml", seed=1, target=webhook_receiver.url).wait(30).events == 1
    assert len(webhook_sim.client.list_runs().data) == 1  # nothing else was played


@pytest.mark.parametrize("signing", [None, "standard"])
def test_an_event_emitted_to_a_target_is_signed_with_a_secret_the_test_knows(
    webhook_sim, make_webhook_receiver, signing
):
    receiver = make_webhook_receiver()
    secret = webhook_sim.target_secret(receiver.url, signing)  # known before anything is sent
    scheme = signing or "syncfy"
    receiver.verifier = make_verifier(scheme, secret=secret)
    first = webhook_sim.emit("syncfy:credentials.created", target=receiver.url, signing=signing)
    second = webhook_sim.emit("syncfy:credentials.updated", target=receiver.url, signing=signing)
    received = receiver.wait_for(2)
    assert all(r.verified for r in received), [r.reason for r in received]
    assert [r.event_ids for r in received] == [[first.id], [second.id]]


def test_an_event_emitted_to_a_target_with_a_secret_given_is_signed_with_it(webhook_sim, make_webhook_receiver):
    secret = signing_secret("standard")
    receiver = make_webhook_receiver(verify=("standard", secret))
    webhook_sim.emit("basistheory:token.created", target=receiver.url, signing="standard", secret=secret)
    [request] = receiver.wait_for(1)
    assert request.verified, request.reason
    with pytest.raises(ApiError, match="secret"):
        webhook_sim.emit("token.created", target=receiver.url, signing="standard", secret="not-whsec")


def test_mistaken_helper_arguments_are_refused_saying_which(webhook_sim, make_webhook_receiver):
    with pytest.raises(ValueError, match="status must be an HTTP status"):
        make_webhook_receiver(status=999)
    with pytest.raises(ValueError, match="delay must be 0 or more"):
        make_webhook_receiver(delay=-1)
    with pytest.raises(TypeError, match=r"verify takes \(scheme, secret_or_pem\) or a scheme"):
        make_webhook_receiver(verify=("auto", "a", "b"))
    with pytest.raises(ValueError, match="count must be 1 or more"):
        webhook_sim.wait_for_deliveries(0)
    with pytest.raises(ValueError, match="timeout must be 0 or more"):
        webhook_sim.wait_for_deliveries(1, timeout=-1)


def test_a_scheme_alone_verifies_basis_theory_with_the_development_key(webhook_sim, make_webhook_receiver):
    receiver = make_webhook_receiver(verify="basistheory")
    webhook_sim.emit("basistheory:token.created", target=receiver.url)
    [request] = receiver.wait_for(1)
    assert request.verified, request.reason


def test_a_wait_that_times_out_says_what_the_receiver_answered(webhook_sim, make_webhook_receiver):
    receiver = make_webhook_receiver(status=401)
    webhook_sim.subscribe(receiver.url)
    [delivery] = webhook_sim.emit("token.created").deliveries
    deadline = time.monotonic() + 20
    while webhook_sim.client.get_delivery(delivery).attempts < 1:  # the answer recorded: the next try is seconds off
        assert time.monotonic() < deadline, "the first attempt was not recorded"
        time.sleep(0.02)
    with pytest.raises(AssertionError, match=r"failed after 1 attempt \(last: HTTP 401\), next attempt due in"):
        webhook_sim.wait_for_deliveries(1, timeout=0.5)


def test_a_wait_that_times_out_says_what_holds_a_delivery_back(webhook_sim, webhook_receiver):
    """A delivery held by its reorder window was named only `pending`."""
    webhook_sim.subscribe(webhook_receiver.url, faults={"reorder": 3})
    webhook_sim.emit("token.created")
    with pytest.raises(AssertionError, match=r"pending, held back by its reorder of 3 until it is full"):
        webhook_sim.wait_for_deliveries(1, timeout=0.5)


def test_closing_twice_does_nothing_the_second_time():
    from simulator.testing import webhook_sim

    with webhook_sim() as sim:
        sim.close()
    sim.close()


def test_api_errors_reach_the_test_as_api_errors(webhook_sim):
    with pytest.raises(ApiError) as caught:
        webhook_sim.run("no-such-scenario")
    assert caught.value.status == 404 and caught.value.errors[0]["field"] == "scenario"


@pytest.mark.parametrize("scheme", ["standard", "syncfy", "basistheory"])
def test_make_verifier_detects_the_scheme_from_the_headers(scheme):
    body = b'{"event":{"id":"e1"}}'
    secret = signing_secret(scheme)
    headers = signing.sign(scheme, msg_id="msg_1", timestamp=int(time.time()), body=body, secret=secret)
    verify = make_verifier("auto", secret=secret)
    assert verify(headers, body) == (True, "ok")
    assert verify(signing.corrupt(headers), body)[0] is False
    assert verify(headers, body.replace(b"e1", b"e2"))[0] is False


def test_make_verifier_refuses_what_cannot_verify():
    body = b"{}"
    old = signing.sign("syncfy", msg_id="m", timestamp=1_700_000_000, body=body, secret=signing_secret("syncfy"))
    assert make_verifier("auto")(old, body) == (False, "syncfy signature, but no secret to verify it")
    assert make_verifier("standard", secret=signing_secret("standard"))(old, body) == (
        False,
        "missing header webhook-id",
    )
    unsigned = (False, "unsigned: no signature header (the scheme `none` takes unsigned requests)")
    assert make_verifier("auto", secret=signing_secret("syncfy"))({}, body) == unsigned
    assert make_verifier("none")({}, body) == (True, "ok")
    with pytest.raises(signing.InvalidInput):
        make_verifier("standard", secret="not-a-whsec-secret")


def test_a_basis_theory_target_has_no_secret_as_it_is_signed_with_the_key(webhook_sim, webhook_receiver):
    """Its requests carry BT-SIGNATURE (the RSA key), yet `handle.secret` and `target_secret` gave a Syncfy one."""
    handle = webhook_sim.run("basistheory-token-lifecycle", target=webhook_receiver.url, seed=1)
    assert handle.secret is None
    run = handle.wait(30)
    assert webhook_sim.secret(run.subscriptions[0]) is None
    assert "bt-signature" in webhook_receiver.requests[0].headers
    assert webhook_sim.target_secret(webhook_receiver.url, "basistheory") is None
    before = len(webhook_receiver.requests)
    webhook_sim.emit("token.created", target=webhook_receiver.url)  # signed with the key, as the run's were
    assert "bt-signature" in webhook_receiver.wait_for(before + 1)[-1].headers
    syncfy = webhook_sim.run("syncfy-credential-lifecycle", target=webhook_receiver.url, params={"refreshes": 0})
    assert syncfy.secret  # Syncfy's own scheme takes one
