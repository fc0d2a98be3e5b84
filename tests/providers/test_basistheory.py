"""Basis Theory's events: every documented type, one coherent story per run, the documented values."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from simulator import catalog, signing
from simulator.errors import InvalidInput
from simulator.models import BuildContext
from simulator.providers.basistheory import _values as values
from simulator.timeutil import add_seconds, parse_time

START = catalog.SAMPLE_TIME
SEEDS = range(40)
# Every type the spec documents (spec/004: the headings of the "Webhook Event Data" page).
DOCUMENTED = {
    "3ds.session.authenticated",
    "3ds.session.challenge-result-retrieved",
    "3ds.session.created",
    "3ds.session.decoupled-challenge-notification",
    "3ds.session.method-completed",
    "3ds.session.challenge-completed",
    "account-updater.job.completed",
    "account-updater.job.created",
    "account-updater.job.failed",
    "application.created",
    "application.updated",
    "application.deleted",
    "application.key.created",
    "application.key.deleted",
    "http.request",
    "proxy.created",
    "proxy.deleted",
    "proxy.invoked",
    "proxy.updated",
    "reactor.completed",
    "reactor.created",
    "reactor.deleted",
    "reactor.failed",
    "reactor.invoked",
    "reactor.updated",
    "session.authorized",
    "session.created",
    "tenant.created",
    "tenant.updated",
    "tenant.deleted",
    "tenant.invitation.accepted",
    "tenant.invitation.created",
    "tenant.invitation.deleted",
    "tenant.invitation.resent",
    "tenant.member.created",
    "tenant.member.deleted",
    "token.created",
    "token.deleted",
    "token.expired",
    "token.property.expired",
    "token.read",
    "token.updated",
    "token-intent.created",
    "token-intent.deleted",
    "token-intent.converted",
    "google-pay.created",
    "google-pay.deleted",
    "google-pay.retrieved",
}
# Nobody acted: time removed the token or its property.
NO_ACTOR = {"token.expired", "token.property.expired"}
# Requests without a key (a refused proxy call, a 401) have nobody to name.
SOMETIMES_ANONYMOUS = {"http.request", "proxy.invoked"}
MASKED = re.compile(r"^(?P<head>.{2})\*\*\*(?P<tail>.{2}) \(length (?P<length>\d+)\)$")
UUID_EXAMPLE = "0f777425-9080-4d82-b557-799f43aefcba"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Run:
    """One world, events emitted one after another with the clock moving on."""

    def __init__(self, seed: int, params: dict[str, Any] | None = None) -> None:
        self.ctx: BuildContext = catalog.new_context(seed, START, params)
        self.elapsed = 0.0

    def emit(
        self, name: str, after: float = 1.0, ref: str | None = None, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The `event` object a subscriber receives for one event of `name`, `after` seconds later."""
        self.elapsed += after
        moment = replace(self.ctx, now=add_seconds(START, self.elapsed), ref=ref)
        event = catalog.build_event(catalog.resolve(name, provider="basistheory"), moment, overrides)
        return json.loads(catalog.render([event]))["event"]


def data(event: dict[str, Any]) -> dict[str, Any]:
    return event["data"]


def many(name: str, seeds: range = SEEDS) -> list[dict[str, Any]]:
    return [Run(seed).emit(name) for seed in seeds]


def test_the_documented_types_are_exactly_the_registered_ones() -> None:
    registered = {e.name for e in catalog.event_types("basistheory")}
    assert len(DOCUMENTED) == 48
    assert registered == DOCUMENTED


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_every_event_carries_the_common_wrapper(name: str) -> None:
    event = Run(3).emit(name)
    assert event["type"] == name
    assert UUID.match(event["id"]) and UUID.match(event["trace_id"]) and UUID.match(event["tenant_id"])
    assert parse_time(event["timestamp"]) == add_seconds(START, 1.0).replace(microsecond=535000)
    if name in NO_ACTOR:
        assert "actor" not in data(event)
        return
    actor = data(event)["actor"]
    assert set(actor) == {"id", "type", "name"}
    assert actor["type"] in values.ACTOR_TYPES and actor["name"]


def test_one_tenant_per_world_and_tenant_events_describe_it() -> None:
    run = Run(5)
    events = [run.emit(name) for name in sorted(DOCUMENTED)]
    tenant_ids = {e["tenant_id"] for e in events}
    assert len(tenant_ids) == 1
    by_type = {e["type"]: e for e in events}
    for name in ("tenant.created", "tenant.updated", "tenant.deleted"):
        assert data(by_type[name])["tenant"]["id"] in tenant_ids
    assert Run(6).emit("token.created")["tenant_id"] not in tenant_ids


def test_tenant_created_first_is_created_now_and_updated_keeps_it() -> None:
    run = Run(8)
    created = run.emit("tenant.created")
    updated = run.emit("tenant.updated", after=300)
    tenant, later = data(created)["tenant"], data(updated)["tenant"]
    assert tenant["created_at"] == created["timestamp"]
    assert later["created_at"] == tenant["created_at"] and later["modified_at"] == updated["timestamp"]
    assert tenant["created_by"] == data(created)["actor"]["id"] == later["modified_by"]


@pytest.mark.parametrize("seed", range(10))
def test_token_intent_conversion_names_the_intent_and_the_token_lives_on(seed: int) -> None:
    run = Run(seed)
    intent = data(run.emit("token-intent.created"))["token_intent"]
    converted = data(run.emit("token-intent.converted", after=20))
    assert converted["token_intent"] == {"id": intent["id"], "type": intent["type"]}
    token = converted["token"]
    assert token["type"] == intent["type"] and token["id"] != intent["id"]
    updated = data(run.emit("token.updated", after=30))["token"]
    assert (updated["id"], updated["type"]) == (token["id"], token["type"])
    assert updated["fingerprint"] == intent["fingerprint"]
    assert data(run.emit("token.read"))["token"] == token
    assert data(run.emit("token.deleted"))["token"]["id"] == token["id"]
    # Deleted: the next token event concerns another token, and a converted intent is gone too.
    assert data(run.emit("token.read"))["token"]["id"] != token["id"]
    assert data(run.emit("token-intent.deleted"))["token_intent"]["id"] != intent["id"]


def test_steps_name_tokens_with_as() -> None:
    run = Run(2)
    first = data(run.emit("token.created", ref="a"))["token"]
    second = data(run.emit("token.created", ref="b"))["token"]
    assert data(run.emit("token.read", ref="a"))["token"]["id"] == first["id"]
    assert data(run.emit("token.read"))["token"]["id"] == second["id"]
    assert data(run.emit("token.expired", ref="a"))["token"]["id"] == first["id"]
    assert data(run.emit("token.read"))["token"]["id"] == second["id"]


def test_token_times_and_authorship() -> None:
    run = Run(4)
    created_event = run.emit("token.created")
    created = data(created_event)["token"]
    assert created["created_at"] == created_event["timestamp"] < created["expires_at"]
    assert created["created_by"] == data(created_event)["actor"]["id"]
    updated_event = run.emit("token.updated", after=600)
    updated = data(updated_event)["token"]
    assert updated["created_at"] == created["created_at"] and updated["modified_at"] == updated_event["timestamp"]
    assert updated["modified_by"] == data(updated_event)["actor"]["id"]


def test_an_override_of_an_entity_field_holds_for_that_entity_from_then_on() -> None:
    run = Run(9)
    created = run.emit("token.created", overrides={"data.token.metadata.plan": "gold", "data.token.type": "bank"})
    assert data(created)["token"]["metadata"]["plan"] == "gold"
    updated = data(run.emit("token.updated"))["token"]
    assert updated["metadata"]["plan"] == "gold" and updated["type"] == "bank"
    assert data(run.emit("token.read"))["token"]["type"] == "bank"


def test_an_override_of_what_only_the_event_says_stays_with_the_event() -> None:
    run = Run(9)
    first = run.emit("token.created", overrides={"data.actor.type": "admin", "trace_id": UUID_EXAMPLE})
    assert data(first)["actor"]["type"] == "admin" and first["trace_id"] == UUID_EXAMPLE
    later = run.emit("token.updated")
    assert data(later)["actor"]["type"] == "application" and later["trace_id"] != UUID_EXAMPLE


def test_an_override_of_the_tenant_or_an_actor_renames_them_for_later_events() -> None:
    run = Run(2)
    tenant_id = "11111111-2222-4333-8444-555555555555"
    run.emit("tenant.created", overrides={"tenant_id": tenant_id, "data.actor.name": "ops@example.com"})
    updated = run.emit("tenant.updated")
    assert updated["tenant_id"] == data(updated)["tenant"]["id"] == tenant_id
    assert data(updated)["actor"]["name"] == "ops@example.com"


CARD_KEYS = {"token_id", "token_intent_id"}


@pytest.mark.parametrize("seed", range(8))
def test_3ds_events_reuse_one_session_and_its_card(seed: int) -> None:
    run = Run(seed)
    created = data(run.emit("3ds.session.created"))["session"]
    later = [
        data(run.emit(name, after=10))["session"]
        for name in (
            "3ds.session.authenticated",
            "3ds.session.challenge-result-retrieved",
            "3ds.session.decoupled-challenge-notification",
        )
    ]
    assert {s["id"] for s in later} == {created["id"]}
    (key,) = created.keys() & CARD_KEYS  # a token or a token intent, as the API takes one or the other
    for session in later[:2]:
        assert session.keys() & CARD_KEYS == {key}
        assert (session[key], session["created_at"], session["card_brand"]) == (
            created[key],
            created["created_at"],
            created["card_brand"],
        )
    if key == "token_id":
        card = data(run.emit("token.read"))["token"]
        assert card == {"id": created["token_id"], "type": "card"}
    assert created["created_at"] < created["expires_at"]


def test_a_3ds_session_without_an_announced_card_is_for_a_token_or_an_intent_drawn() -> None:
    keys = [data(Run(seed).emit("3ds.session.created"))["session"].keys() & CARD_KEYS for seed in SEEDS]
    assert all(len(k) == 1 for k in keys)
    share = sum(k == {"token_intent_id"} for k in keys) / len(keys)
    assert 0.1 < share < 0.45, share


def test_3ds_session_uses_the_latest_card_token() -> None:
    run = Run(1, {"token_type": "card"})
    card = data(run.emit("token.created"))["token"]
    session = data(run.emit("3ds.session.created"))["session"]
    assert session["token_id"] == card["id"]
    assert "token_intent_id" not in session
    assert session["created_by"] == data(run.emit("session.created"))["session"]["created_by"]


@pytest.mark.parametrize("seed", range(4))
def test_3ds_session_for_a_live_card_intent_names_the_intent_and_after_conversion_its_token(seed: int) -> None:
    run = Run(seed, {"token_type": "card"})
    run.emit("token.created")  # a card token too: a live card intent goes first
    intent = data(run.emit("token-intent.created", overrides={"data.token_intent.type": "card"}))["token_intent"]
    session = data(run.emit("3ds.session.created"))["session"]
    assert session.keys() & CARD_KEYS == {"token_intent_id"}
    assert session["token_intent_id"] == intent["id"]
    converted = data(run.emit("token-intent.converted"))
    assert converted["token_intent"]["id"] == intent["id"]
    after = data(run.emit("3ds.session.created"))["session"]
    assert after.keys() & CARD_KEYS == {"token_id"}
    assert after["token_id"] == converted["token"]["id"]


def test_3ds_session_passes_over_a_bank_intent_for_the_card_token() -> None:
    run = Run(3, {"token_type": "card"})
    card = data(run.emit("token.created"))["token"]
    run.emit("token-intent.created", overrides={"data.token_intent.type": "bank"})
    session = data(run.emit("3ds.session.created"))["session"]
    assert session.keys() & CARD_KEYS == {"token_id"}
    assert session["token_id"] == card["id"]


def reactor_pair(seed: int, outcome: str, ran: float = 2.0) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    run = Run(seed)
    reactor = data(run.emit("reactor.created"))["reactor"]
    return reactor, run.emit("reactor.invoked", after=30), run.emit(outcome, after=ran)


@pytest.mark.parametrize("outcome", ["reactor.completed", "reactor.failed"])
def test_reactor_invocations_pair_up_and_only_async_ones_have_a_request_id(outcome: str) -> None:
    kinds = set()
    for seed in SEEDS:
        reactor, invoked, finished = reactor_pair(seed, outcome)
        request = data(invoked)["request"]
        assert data(invoked)["reactor"] == data(finished)["reactor"] == {"id": reactor["id"], "name": reactor["name"]}
        assert data(finished)["request"] == request
        assert invoked["trace_id"] == finished["trace_id"]
        kinds.add(request["invocation_type"])
        if request["invocation_type"] == "async":
            assert UUID.match(request["id"])
            assert data(finished)["actor"]["type"] == "system"
        else:
            assert request == {"invocation_type": "sync"}
            assert data(finished)["actor"] == data(invoked)["actor"]
        assert isinstance(data(finished)["elapsed_ms"], int) and data(finished)["elapsed_ms"] > 0
    assert kinds == {"sync", "async"}


def test_each_invocation_is_closed_once() -> None:
    run = Run(12)
    first = data(run.emit("reactor.invoked"))["request"]
    run.emit("reactor.completed")
    second = data(run.emit("reactor.invoked"))["request"]
    failed = data(run.emit("reactor.failed"))
    assert data(run.emit("reactor.invoked"))["reactor"] == failed["reactor"]
    assert failed["request"] == second
    assert first.get("id") is None or first.get("id") != second.get("id")


def test_an_async_invocation_failing_after_five_minutes_timed_out_and_a_quicker_one_did_not() -> None:
    late = [data(reactor_pair(seed, "reactor.failed", ran=300.5)[2]) for seed in range(40)]
    timeouts = [f for f in late if "timed out after 5 minutes" in f["error"]]
    assert timeouts and {f["request"]["invocation_type"] for f in timeouts} == {"async"}
    assert all(f["request"]["invocation_type"] == "sync" for f in late if f not in timeouts)
    assert all(300_000 <= f["elapsed_ms"] <= 300_500 for f in late)
    quick = [data(reactor_pair(seed, "reactor.failed", ran=2.0)[2]) for seed in range(40)]
    assert all("timed out" not in f["error"] and "timeout" not in f["error"] for f in quick)
    assert all(1_900 <= f["elapsed_ms"] <= 2_000 for f in quick)


def proxy_invocations(seeds: range) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    for seed in seeds:
        run = Run(seed)
        out.append((data(run.emit("proxy.created"))["proxy"], data(run.emit("proxy.invoked"))))
    return out


def test_proxy_invocations_mostly_succeed_without_error_objects() -> None:
    invocations = proxy_invocations(range(200))
    succeeded = [d for _, d in invocations if "error" not in d["proxy"]["response"]]
    assert 0.8 <= len(succeeded) / len(invocations) <= 0.95
    for invoked in succeeded:
        assert not {"request_transform", "response_transform"} & set(invoked)
        answered, destination = invoked["proxy"]["response"], invoked["destination"]["response"]
        assert list(answered) == ["elapsed_ms", "status"] and answered["status"] == destination["status"]
        # The proxy's time in all: the destination's, and its own few milliseconds.
        assert destination["elapsed_ms"] < answered["elapsed_ms"] <= destination["elapsed_ms"] + 40
    # The destination's own errors reach the caller as they are; its body says the same as its status.
    statuses = {d["destination"]["response"]["status"] for d in succeeded}
    assert 200 in statuses and statuses & {400, 402, 500}
    for invoked in succeeded:
        status, body = invoked["destination"]["response"]["status"], invoked["destination"]["response"]["body"]
        assert ('"status":"succeeded"' in body) == (status < 300)


def test_proxy_failures_come_only_in_combinations_that_can_happen() -> None:
    kinds = set()
    for proxy, invoked in proxy_invocations(range(200)):
        assert (invoked["proxy"]["id"], invoked["proxy"]["name"]) == (proxy["id"], proxy["name"])
        response = invoked["proxy"]["response"]
        if "error" not in response:
            continue
        error = response["error"]
        failed = [k for k in ("request_transform", "response_transform") if k in invoked]
        assert len(failed) <= 1, "one failure per invocation"
        if failed:
            assert invoked[failed[0]] == {"response": {"error": error}}
        if failed == ["request_transform"]:
            # The request never left: no destination call, no deprecated request/response blocks.
            assert not {"destination", "request", "response"} & set(invoked)
        elif failed == ["response_transform"]:
            assert invoked["destination"]["response"]["status"] == 200
        else:  # the proxy refused an unauthenticated caller before anything ran
            assert proxy["require_authentication"] and "destination" not in invoked and "actor" not in invoked
            assert response["status"] == error["status"] == 401
        if "status" in error:
            assert response["status"] == error["status"]
        kinds.add((failed[0] if failed else "proxy", "problem" if "errors" in error else "custom"))
    assert {("request_transform", "problem"), ("response_transform", "custom"), ("proxy", "problem")} <= kinds
    assert ("proxy", "custom") not in kinds  # custom errors come from reactor code, i.e. transforms


def test_proxy_invoked_keeps_the_deprecated_blocks_beside_the_destination() -> None:
    for proxy, invoked in proxy_invocations(range(20)):
        if "destination" not in invoked:
            continue
        destination = invoked["destination"]
        assert destination["request"]["url"] == proxy["destination_url"] == invoked["request"]["url"]
        assert invoked["response"]["status_code"] == str(destination["response"]["status"])
        assert invoked["response"]["elapsed_ms"] == destination["response"]["elapsed_ms"]
        assert json.loads(invoked["request"]["headers"]) == destination["request"]["headers"]


def test_http_request_masks_secrets_like_the_logs() -> None:
    for seed in range(30):
        event = Run(seed).emit("http.request")
        request, response = data(event)["request"], data(event)["response"]
        for headers in (request["headers"], response["headers"]):
            assert all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in headers.values())
        if "BT-API-KEY" in request["headers"]:
            key = MASKED.match(request["headers"]["BT-API-KEY"][0])
            assert key and key["head"] == "ke" and key["length"] == "75"
        date = MASKED.match(response["headers"]["Date"][0])
        weekday = parse_time(event["timestamp"]).strftime("%a")
        assert date and date["head"] == weekday[:2] and date["tail"] == "MT" and date["length"] == "29"
        if "Location" in response["headers"]:
            location = MASKED.match(response["headers"]["Location"][0])
            assert location and location["head"] == "ht" and int(location["length"]) > 36
        assert response["headers"]["Server"] == ["*******"]
        assert request["headers"]["BT-TRACE-ID"] == response["headers"]["BT-TRACE-ID"] == [event["trace_id"]]


def test_http_requests_vary_method_and_status_like_api_traffic() -> None:
    run = Run(4)
    seen: set[tuple[str, int]] = set()
    for _ in range(300):
        event = run.emit("http.request")
        request, response = data(event)["request"], data(event)["response"]
        method, status, sent, answered = request["method"], response["status"], request["headers"], response["headers"]
        seen.add((method, status))
        assert ("Content-Type" in sent) == ("Content-Length" in sent) == (method in ("POST", "PATCH", "PUT"))
        assert ("Location" in answered) == (status == 201)
        assert ("Content-Type" in answered) == (status != 204)
        if status >= 400:
            assert answered["Content-Type"] == ["application/problem+json; charset=utf-8"]
        # Without a key nobody is known to have called: no key header, no actor.
        assert ("BT-API-KEY" in sent) == ("actor" in data(event)) == (status != 401)
        if status == 404:
            assert request["path"].count("/") == 2  # only a request for one resource finds none
    methods = {m for m, _ in seen}
    statuses = {s for _, s in seen}
    assert {"GET", "POST", "PATCH", "DELETE"} <= methods
    assert {200, 201, 204} <= statuses and len(statuses & {400, 401, 403, 404, 422, 429}) >= 4
    assert sum(s >= 400 for _, s in seen) < len(seen)


def test_http_request_key_belongs_to_the_acting_application() -> None:
    run = Run(3)
    by_actor: dict[str, set[str]] = {}
    for _ in range(30):
        event = run.emit("http.request")
        if "actor" in data(event):
            by_actor.setdefault(data(event)["actor"]["id"], set()).add(
                data(event)["request"]["headers"]["BT-API-KEY"][0]
            )
    assert len(by_actor) > 1 and all(len(keys) == 1 for keys in by_actor.values())


def test_mask_keeps_two_characters_each_side_and_the_length() -> None:
    assert values.mask("key_test_us_pvt_" + "x" * 57 + "f2") == "ke***f2 (length 75)"
    assert values.mask("Fri, 14 Mar 2025 15:09:26 GMT") == "Fr***MT (length 29)"
    assert values.mask("Kestrel") == "*******"


def collect(name: str, pick: Any, seeds: range = SEEDS) -> set[Any]:
    return {pick(data(event)) for event in many(name, seeds)}


def test_enumerations_hold_over_many_seeds() -> None:
    assert collect("application.created", lambda d: d["application"]["type"]) == set(values.APPLICATION_TYPES)
    token_types = collect("token.created", lambda d: d["token"]["type"], range(80))
    assert len(token_types) > 4 and token_types <= set(values.TOKEN_TYPES)
    assert collect("3ds.session.created", lambda d: d["session"]["type"]) == set(values.SESSION_TYPES)
    assert collect("3ds.session.created", lambda d: d["session"]["device"]) == set(values.DEVICES)
    statuses = collect("3ds.session.authenticated", lambda d: d["session"]["authentication_status"], range(80))
    assert len(statuses) > 3 and statuses <= set(values.AUTHENTICATION_STATUSES)
    assert collect("3ds.session.created", lambda d: d["session"]["card_brand"]) <= set(values.CARD_BRANDS)
    actor_types = set()
    for name in DOCUMENTED - NO_ACTOR:
        actor_types |= collect(name, lambda d: d["actor"]["type"] if "actor" in d else None, range(6))
    assert actor_types - {None} <= set(values.ACTOR_TYPES) and {"application", "user", "system"} <= actor_types


def test_the_actor_is_there_only_when_someone_acted() -> None:
    """The envelope documents `data.actor` "if available": absent where nobody acted, present elsewhere."""
    for name in sorted(DOCUMENTED):
        present = {"actor" in data(event) for event in many(name, range(6))}
        assert present == ({False} if name in NO_ACTOR else {True} if name not in SOMETIMES_ANONYMOUS else present)
    assert any("actor" not in data(e) for e in many("http.request", range(40)))


def test_tokens_live_in_the_container_of_their_type() -> None:
    for event in many("token.created", range(60)):
        token = data(event)["token"]
        assert token["containers"] == [values.TOKEN_SHAPES[token["type"]][0]]
        if token["type"] == "card":
            assert token["containers"] == ["/pci/high/"] and "data.number" in token["fingerprint_expression"]
        if token["type"] == "token":
            assert token["containers"] == ["/general/high/"]
        assert token["metadata"] and all(isinstance(v, str) for v in token["metadata"].values())
        assert token["search_indexes"] and all(i.startswith("{{ ") for i in token["search_indexes"])
        assert len(token["fingerprint"]) == 44


def test_permissions_and_rules_are_basis_theory_ones() -> None:
    for event in many("application.created"):
        app = data(event)["application"]
        assert app["permissions"] and set(app["permissions"]) <= set(values.PERMISSIONS[app["type"]])
        for priority, rule in enumerate(app["rules"], start=1):
            assert rule["priority"] == priority and rule["transform"] in ("mask", "redact", "reveal")
            assert rule["conditions"] and all(p.count(":") == 1 for p in rule["permissions"])


def test_token_type_parameter_chooses_the_type_and_rejects_unknown_ones() -> None:
    assert collect("token.created", lambda d: d["token"]["type"], range(5)) != {"bank"}
    for seed in range(5):
        assert data(Run(seed, {"token_type": "bank"}).emit("token.created"))["token"]["type"] == "bank"
    with pytest.raises(InvalidInput):
        Run(0, {"token_type": "diamond"}).emit("token.created")


@pytest.mark.parametrize("outcome", ["completed", "failed"])
def test_account_updater_job_status_follows_the_event(outcome: str) -> None:
    run = Run(7)
    created = data(run.emit("account-updater.job.created"))
    finished = data(run.emit(f"account-updater.job.{outcome}", after=3600))
    assert created["job"]["status"] == "pending" and finished["job"]["status"] == outcome
    assert created["job"]["id"] == finished["job"]["id"]
    assert created["actor"]["type"] == "application" and finished["actor"]["type"] == "system"
    assert data(run.emit("account-updater.job.created"))["job"]["id"] != created["job"]["id"]


def test_invitation_to_membership() -> None:
    run = Run(11)
    created = data(run.emit("tenant.invitation.created", ref="dev"))["invitation"]
    data(run.emit("tenant.invitation.created", ref="other"))
    resent = data(run.emit("tenant.invitation.resent", after=86400, ref="dev"))["invitation"]
    assert resent["id"] == created["id"] and resent["expires_at"] > created["expires_at"]
    accepted = data(run.emit("tenant.invitation.accepted", after=3600, ref="dev"))
    assert accepted["invitation"]["id"] == created["id"]
    assert accepted["actor"]["type"] == "user" and accepted["actor"]["name"] == created["email"]
    member = data(run.emit("tenant.member.created", after=2))
    assert member["member"]["user_id"] == accepted["actor"]["id"] == member["actor"]["id"]
    assert member["member"]["role"] == created["role"]
    another = data(run.emit("tenant.member.created"))["member"]
    assert another["user_id"] != member["member"]["user_id"]
    assert data(run.emit("tenant.member.deleted"))["member"]["id"] == another["id"]


def test_application_keys_belong_to_the_application() -> None:
    run = Run(13)
    app = data(run.emit("application.created"))["application"]
    updated = data(run.emit("application.updated", after=60))["application"]
    assert updated["id"] == app["id"] and updated["created_at"] == app["created_at"]
    key = data(run.emit("application.key.created", ref="k2"))["application_key"]
    newer = data(run.emit("application.key.created", ref="k3"))["application_key"]
    assert key["application_id"] == newer["application_id"] == app["id"]
    assert (key["version"], newer["version"]) == ("2", "3")
    assert data(run.emit("application.key.deleted", ref="k2"))["application_key"] == {
        "id": key["id"],
        "application_id": app["id"],
    }
    assert data(run.emit("application.deleted"))["application"]["id"] == app["id"]


def test_session_authorized_grants_the_created_session_access_to_a_token() -> None:
    run = Run(14)
    token = data(run.emit("token.created"))["token"]
    created = data(run.emit("session.created", ref="s"))
    authorized = data(run.emit("session.authorized", ref="s"))
    session = authorized["session"]
    assert session["id"] == created["session"]["id"]
    assert session["issued_to_application"] == created["session"]["issued_to_application"]
    assert created["actor"]["id"] == session["created_by"] != authorized["actor"]["id"]
    assert session["created_at"] < session["expires_at"]
    assert session["rules"][0]["conditions"] == [{"attribute": "id", "operator": "equals", "value": token["id"]}]


def test_proxy_and_reactor_lifecycles_name_one_resource() -> None:
    run = Run(15)
    proxy = data(run.emit("proxy.created"))["proxy"]
    updated = run.emit("proxy.updated", after=60)
    assert data(updated)["proxy"]["id"] == proxy["id"] and data(updated)["proxy"]["modified_at"] == updated["timestamp"]
    assert data(run.emit("proxy.deleted"))["proxy"]["id"] == proxy["id"]
    reactor = data(run.emit("reactor.created"))["reactor"]
    assert data(run.emit("reactor.updated"))["reactor"]["created_at"] == reactor["created_at"]
    assert data(run.emit("reactor.deleted"))["reactor"]["id"] == reactor["id"]


def story(seed: int) -> list[bytes]:
    run = Run(seed)
    out = []
    for name in sorted(DOCUMENTED):
        moment = replace(run.ctx, now=add_seconds(START, len(out)))
        out.append(catalog.render([catalog.build_event(catalog.resolve(name), moment)]))
    return out


def test_a_whole_story_replays_byte_for_byte() -> None:
    assert story(21) == story(21)
    other = story(22)
    assert all(a != b for a, b in zip(story(21), other, strict=True))


def test_schemas_are_strict_where_the_spec_is() -> None:
    def errors(name: str, path: tuple[str, ...], value: Any) -> list[str]:
        body = json.loads(catalog.sample(name, 0))
        node = body["event"]["data"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        validator = Draft202012Validator(catalog.schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)
        return [e.message for e in validator.iter_errors(body)]

    assert errors("reactor.invoked", ("request",), {"invocation_type": "sync", "id": "x"})
    assert errors("reactor.invoked", ("request",), {"invocation_type": "async"})
    assert not errors("reactor.invoked", ("request",), {"invocation_type": "sync"})
    assert errors("account-updater.job.completed", ("job", "status"), "pending")
    assert errors("token.created", ("token", "type"), "gift_card")
    assert errors("token.created", ("token", "metadata"), "plan=pro")
    assert errors("token.created", ("token", "id"), "not-a-uuid")
    assert errors("application.created", ("actor", "type"), "robot")
    assert errors("http.request", ("request", "headers", "BT-API-KEY"), ["key_test_us_pvt_plaintext"])
    assert errors("proxy.invoked", ("proxy", "response", "error"), {"message": "neither shape"})
    assert not errors("token.created", ("token", "metadata"), {})


def schema_order_problems(value: Any, node: dict[str, Any], path: str = "$") -> list[str]:
    """Where `value`'s keys are not in the order its schema lists them (the documents' example order)."""
    problems: list[str] = []
    if isinstance(value, dict):
        branches = [b for b in node.get("oneOf", [node]) if set(value) <= set(b.get("properties", {}))] or [node]
        properties = branches[0].get("properties", {})
        if properties:
            expected = [k for k in properties if k in value]
            if list(value) != expected:
                problems.append(f"{path}: {list(value)} != {expected}")
        for key, item in value.items():
            child = properties.get(key) or branches[0].get("additionalProperties")
            if isinstance(child, dict):
                problems += schema_order_problems(item, child, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            problems += schema_order_problems(item, node["items"], f"{path}[{i}]")
    return problems


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_bodies_go_out_in_the_documents_field_order_not_the_signed_one(name: str) -> None:
    for seed in range(4):
        body = catalog.sample(f"basistheory:{name}", seed)
        assert schema_order_problems(json.loads(body), catalog.schema(f"basistheory:{name}")) == []
        assert body != signing.canonical_json(body)


def test_a_failed_invocation_says_how_long_the_proxy_took_too() -> None:
    """`proxy.response.elapsed_ms` is in the stored docs' table: it was never sent."""
    failed = [d for _, d in proxy_invocations(range(200)) if "error" in d["proxy"]["response"]]
    assert failed and all(list(d["proxy"]["response"]) == ["error", "elapsed_ms", "status"] for d in failed)
    assert all(3 <= d["proxy"]["response"]["elapsed_ms"] < 40 for d in failed if "destination" not in d)
