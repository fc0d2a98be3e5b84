"""Fault injection against real receivers: what arrives for each fault, what is recorded, that the same seed
injects the same faults, validation, the `--fault` forms, the layering of faults and the chaos scenarios."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from simulator import catalog, signing
from simulator.core.simulator import Simulator
from simulator.delivery.faults import parse_cli_fault, validate
from simulator.delivery.faults_hold import CUT_EARLY
from simulator.delivery.faults_spec import FAULTS
from simulator.errors import InvalidInput
from simulator.models import Delivery, Event, Subscription
from simulator.models.inputs import EventSpec, RetrySpec, RunSpec, SubscriptionSpec
from simulator.scenarios import loader
from simulator.store import holds, tables
from simulator.testing.receiver import Receiver
from simulator.timeutil import iso_ms, parse_time

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NO_RETRY_WAIT = RetrySpec(delays=[0, 0], jitter=0)


def events_of(etype: str, n: int, seed: int = 1) -> list[Event]:
    """`n` coherent events of one type from one seeded context."""
    kind = catalog.resolve(etype)
    ctx = catalog.new_context(seed, catalog.SAMPLE_TIME)
    return [catalog.build_event(kind, ctx) for _ in range(n)]


async def subscribe(sim: Simulator, url: str, **kw: Any) -> Subscription:
    return await sim.create_subscription(SubscriptionSpec(url=url, **kw))


async def deliver(
    sim: Simulator,
    sub: Subscription,
    events: list[Event],
    faults: dict[str, Any] | None,
    *,
    seed: int = 7,
    speed: float = 0.0,
) -> list[Delivery]:
    """Publish `events` to `sub` with `faults`, let everything held go, and wait until all is settled."""
    for event in events:
        await sim.engine.publish(event, [sub], speed=speed, faults=faults, seed=seed)
    await sim.engine.release(None)
    assert await sim.engine.settled(None, timeout=15)
    return [d for _, d in await sim.store.list_deliveries(subscription_id=sub.id)]


async def due_at(sim: Simulator, delivery_id: str) -> float:
    """When a delivery sent at its first attempt was due: its row keeps it (the view shows it only while pending).
    Not its creation time, which a loaded machine can put milliseconds after the moment it was published for."""
    d = tables.deliveries.c
    async with sim.store.engine.connect() as conn:
        return float((await conn.execute(select(d.next_attempt_at).where(d.id == delivery_id))).scalar_one())


def injected(deliveries: list[Delivery], fault: str) -> set[str]:
    """The event ids of the deliveries (originals and copies) a fault was recorded on."""
    return {eid for d in deliveries if d.faults and fault in d.faults for eid in d.event_ids}


def fingerprint(deliveries: list[Delivery]) -> list[tuple[tuple[str, ...], str]]:
    """What was injected into which events, without the server-side message ids."""

    def scrub(faults: dict[str, Any] | None) -> str:
        out = json.loads(json.dumps(faults or {}))
        out.get("duplicate", {}).pop("of", None)
        return json.dumps(out, sort_keys=True)

    return sorted((d.event_ids, scrub(d.faults)) for d in deliveries)


def message(body: bytes) -> bytes:
    """`body` without Basis Theory's `delivered_at`: the real time of each attempt, so retries and copies of
    one delivery differ in it and in nothing else."""
    return re.sub(rb',"delivered_at":"[^"]*"', b"", body)


def standard_ok(secret: str, req: Any) -> bool:
    try:
        Webhook(secret).verify(req.body, req.headers)
    except WebhookVerificationError:
        return False
    return True


# --- validation and the command-line form -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "field", "says"),
    [
        ({"dupliate": 0.1}, "faults.dupliate", "did you mean duplicate"),
        ({"drop": 1.5}, "faults.drop", "between 0 and 1"),
        ({"drop": True}, "faults.drop", "probability"),
        ({"bad_signature": {"probability": -0.1}}, "faults.bad_signature.probability", "between 0 and 1"),
        ({"duplicate": {"probability": 0.1, "copys": 2}}, "faults.duplicate.copys", "did you mean copies"),
        ({"duplicate": {"copies": 2}}, "faults.duplicate.probability", "missing"),
        ({"duplicate": {"probability": 0.1, "copies": 0}}, "faults.duplicate.copies", "from 1 to"),
        ({"reorder": 1}, "faults.reorder", "from 2 to"),
        ({"reorder": {"window": 1}}, "faults.reorder.window", "from 2 to"),
        ({"burst": 0}, "faults.burst", "from 2 to"),
        ({"delay": {"uniform": ["5s", "8d"]}}, "faults.delay.uniform.1", "at most a week"),
        ({"delay": " 5s"}, "faults.delay", "not a duration"),
        ({"delay": {"lognormal": {"median": "1s", "sigma": 1, "max": 0}}}, "faults.delay.lognormal.max", "than 0"),
        ({"delay": {"gaussian": "1s"}}, "faults.delay", "exactly one of fixed, uniform"),
        ({"delay": "soon"}, "faults.delay", "not a duration"),
        ({"delay": {"exponential": {"mean": "0s"}}}, "faults.delay.exponential.mean", "greater than 0"),
        ({"delay": "${wait}"}, "faults.delay", "templates"),
        ({"stale_timestamp": {"probability": 0.1, "age": "yesterday"}}, "faults.stale_timestamp.age", "duration"),
        ({"malformed": {"probability": 0.1, "kind": "garbled"}}, "faults.malformed.kind", "truncated"),
        ({"schema_drift": {"probability": 0.1, "kind": "rename"}}, "faults.schema_drift.kind", "add, remove, any"),
    ],
)
def test_validate_names_the_field_and_what_was_expected(faults, field, says):
    with pytest.raises(InvalidInput) as info:
        validate(faults, "faults")
    assert [e.field for e in info.value.errors] == [field]
    assert says in info.value.errors[0].message


def test_validate_reports_every_problem_and_accepts_every_documented_form():
    with pytest.raises(InvalidInput) as info:
        validate({"drop": 2, "reorder": 1, "nope": 1})
    assert {e.field for e in info.value.errors} == {"faults.drop", "faults.reorder", "faults.nope"}
    validate(
        {
            "drop": 0.1,
            "duplicate": {"probability": 0.2, "copies": 2, "spacing": "500ms"},
            "reorder": 5,
            "delay": {"lognormal": {"median": "1s", "sigma": 0.5, "max": "10s"}},
            "bad_signature": 1,
            "stale_timestamp": {"probability": 0.1, "age": "10m"},
            "malformed": {"probability": 0.1},
            "schema_drift": {"probability": 0.1, "kind": "add"},
            "burst": {"size": 20},
        }
    )
    for delay in ("2s", 3, {"fixed": "2s"}, {"uniform": ["1s", "5s"]}, {"exponential": {"mean": "2s", "max": "20s"}}):
        validate({"delay": delay})


async def test_subscriptions_and_runs_refuse_bad_faults(sim, receiver, tmp_path):
    with pytest.raises(InvalidInput) as info:
        await subscribe(sim, receiver.url, faults={"drop": 2})
    assert info.value.errors[0].field == "faults.drop"
    with pytest.raises(InvalidInput) as info:
        await sim.runs.start(
            RunSpec(scenario="syncfy-credential-lifecycle", target=receiver.url, faults={"reorder": 1})
        )
    assert info.value.errors[0].field == "faults.reorder"
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nprovider: basistheory\nsteps:\n  - emit: token.created\n"
        "  - emit: token.read\n    faults: {malformed: {probability: 0.5, kind: weird}}\n"
    )
    with pytest.raises(InvalidInput) as info:
        await sim.runs.start(RunSpec(scenario="bad", target=receiver.url), scenario=loader.load_file(path))
    error = info.value.errors[0]
    assert (error.field, error.file, error.line) == ("steps[1].faults.malformed.kind", str(path), 6)
    assert await sim.runs.list() == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("duplicate=0.2", {"duplicate": 0.2}),
        ("duplicate=0.2:2:1s", {"duplicate": {"probability": 0.2, "copies": 2, "spacing": "1s"}}),
        ("drop=1", {"drop": 1.0}),
        ("delay=2s", {"delay": "2s"}),
        ("delay=fixed:2s", {"delay": {"fixed": "2s"}}),
        ("delay=uniform:1s:5s", {"delay": {"uniform": ["1s", "5s"]}}),
        ("delay=exponential:2s:20s", {"delay": {"exponential": {"mean": "2s", "max": "20s"}}}),
        ("delay=lognormal:1s:0.5:10s", {"delay": {"lognormal": {"median": "1s", "sigma": 0.5, "max": "10s"}}}),
        ("reorder=5", {"reorder": 5}),
        ("burst=20", {"burst": 20}),
        ("bad_signature=0.05", {"bad_signature": 0.05}),
        ("malformed=0.1:truncated", {"malformed": {"probability": 0.1, "kind": "truncated"}}),
        ("stale_timestamp=0.1:10m", {"stale_timestamp": {"probability": 0.1, "age": "10m"}}),
        ("schema_drift=0.3:add", {"schema_drift": {"probability": 0.3, "kind": "add"}}),
        ('delay={"uniform": ["1s", "2s"]}', {"delay": {"uniform": ["1s", "2s"]}}),
    ],
)
def test_parse_cli_fault_forms(spec, expected):
    assert parse_cli_fault(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "duplicate",
        "duplicate=",
        "=0.2",
        "dupe=0.2",
        "duplicate=lots",
        "drop=2",
        "reorder=1",
        "reorder=2.5",
        "delay=uniform:1s",
        "delay=uniform:5s:9d",
        "malformed=0.1:weird",
        "duplicate=0.2:2:1s:extra",
        'delay={"uniform": 1',
    ],
)
def test_parse_cli_fault_refuses_bad_input_naming_the_option(spec):
    with pytest.raises(InvalidInput) as info:
        parse_cli_fault(spec)
    assert [e.field for e in info.value.errors] == ["--fault"]
    assert spec in info.value.detail


# --- one fault at a time -----------------------------------------------------------------------------------


async def test_drop_never_sends_and_records_the_drop(sim, receiver):
    sub = await subscribe(sim, receiver.url)
    events = events_of("token.created", 30)
    deliveries = await deliver(sim, sub, events, {"drop": 0.3})
    dropped = [d for d in deliveries if d.status == "dropped"]
    assert 0 < len(dropped) < 30
    assert all(d.faults == {"drop": True} and d.attempts == 0 for d in dropped)
    # Ended when due, and never before it was made: at speed 0 it was due as it was published (ms before).
    assert all(d.finished_at is not None and d.finished_at >= d.created_at for d in dropped)
    assert [await sim.store.attempts(d.id) for d in dropped] == [[] for _ in dropped]
    lost = {d.event_ids[0] for d in dropped}
    assert receiver.event_ids() == [e.id for e in events if e.id not in lost]
    assert all(d.status == "succeeded" and d.faults is None for d in deliveries if d not in dropped)


async def test_duplicates_repeat_the_same_message_body_and_signature_inputs(sim, receiver):
    sub = await subscribe(sim, receiver.url, signing="standard")
    events = events_of("token.created", 3)
    deliveries = await deliver(
        sim, sub, events, {"duplicate": {"probability": 1, "copies": 2, "spacing": "1s"}}, speed=10
    )
    assert len(receiver.requests) == 9
    for event in events:
        got = [r for r in receiver.requests if r.event_ids == [event.id]]
        assert len(got) == 3
        assert len({r.headers["webhook-id"] for r in got}) == 1
        assert len({message(r.body) for r in got}) == 1  # the same message, not a re-render
        assert all(standard_ok(sub.secret, r) for r in got)
    by_id = {d.id: d for d in deliveries}
    for original in (d for d in deliveries if "~" not in d.id):
        assert original.faults == {"duplicate": {"copies": 2}}
        for k in (1, 2):
            copy = by_id[f"{original.id}~dup{k}"]
            assert copy.event_ids == original.event_ids and copy.status == "succeeded"
            assert copy.faults == {"duplicate": {"copy": k, "of": original.id, "after": float(k)}}
        # Copies go 1 simulated second apart (0.1 s at speed 10) from when the original was due; never
        # sooner, and later only by what a loaded machine adds (unscaled, the second copy would be 2 s late).
        due = await due_at(sim, original.id)
        starts = [
            (await sim.store.attempts(i))[0].started_at
            for i in (original.id, f"{original.id}~dup1", f"{original.id}~dup2")
        ]
        assert all(0.1 * k - 0.005 <= start - due <= 0.1 * k + 0.9 for k, start in enumerate(starts)), (due, starts)
    sent_ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert sent_ids == {d.id for d in deliveries if "~" not in d.id}


async def test_duplicates_keep_native_signatures_identical(sim, make_receiver):
    syncfy_rx, bt_rx = make_receiver(), make_receiver()
    syncfy_sub = await subscribe(sim, syncfy_rx.url)
    bt_sub = await subscribe(sim, bt_rx.url)
    await deliver(sim, syncfy_sub, events_of("credentials.created", 2), {"duplicate": 1})
    await deliver(sim, bt_sub, events_of("token-intent.created", 2), {"duplicate": 1})
    for rx in (syncfy_rx, bt_rx):
        assert len(rx.requests) == 4
        by_body = Counter(message(r.body) for r in rx.requests)
        assert sorted(by_body.values()) == [2, 2]
    claims = [
        jwt.decode(r.headers["request-signature"], base64.b64decode(syncfy_sub.secret), algorithms=["HS256"])
        for r in syncfy_rx.requests
    ]
    assert Counter(c["jti"] for c in claims).most_common()[0][1] == 2
    assert all(signing.verify("basistheory", r.headers, r.body).ok for r in bt_rx.requests)


async def test_a_syncfy_batch_is_one_delivery_to_faults_even_when_flushed_partial(sim, receiver):
    sub = await subscribe(sim, receiver.url, batch=3, events=["syncfy:*"])
    events = events_of("credentials.refreshed", 4)
    deliveries = await deliver(sim, sub, events, {"duplicate": 1})
    assert sorted(len(d.event_ids) for d in deliveries) == [1, 1, 3, 3]  # the last batch went at release
    assert len(receiver.requests) == 4
    assert sorted(Counter(r.body for r in receiver.requests).values()) == [2, 2]
    assert receiver.event_ids() == [e.id for e in events[:3]] * 2 + [events[3].id] * 2


async def test_reorder_shuffles_within_each_window(sim, receiver):
    sub = await subscribe(sim, receiver.url)
    events = events_of("token.created", 12)
    deliveries = await deliver(sim, sub, events, {"reorder": 4})
    emitted, arrived = [e.id for e in events], receiver.event_ids()
    assert arrived != emitted
    by_event = {d.event_ids[0]: d for d in deliveries}
    for window in range(3):
        assert sorted(arrived[4 * window : 4 * window + 4]) == sorted(emitted[4 * window : 4 * window + 4])
        for position, eid in enumerate(emitted[4 * window : 4 * window + 4]):
            record = by_event[eid].faults["reorder"]
            assert (record["window"], record["index"], record["position"]) == (4, window, position)
            assert arrived[4 * window + record["rank"]] == eid


async def test_reorder_order_is_the_seeds(sim, receiver):
    orders = []
    for seed in (5, 5, 6):
        receiver.clear()
        sub = await subscribe(sim, receiver.url)
        await deliver(sim, sub, events_of("token.created", 8), {"reorder": 8}, seed=seed)
        orders.append(receiver.event_ids())
    assert orders[0] == orders[1] != orders[2]


async def test_a_strict_subscription_keeps_its_order_and_records_no_reorder(sim, receiver):
    """`reorder` has no effect under `strict_order`; its record said otherwise (a `rank` nobody was sent by)."""
    sub = await subscribe(sim, receiver.url, strict_order=True)
    events = events_of("token.created", 8)
    deliveries = await deliver(sim, sub, events, {"reorder": 8, "drop": 0.0}, seed=5)
    assert receiver.event_ids() == [e.id for e in events]
    assert [d.faults for d in deliveries] == [None] * 8


async def test_delay_moves_the_first_attempt_and_delivered_at(sim, receiver):
    sub = await subscribe(sim, receiver.url)
    events = events_of("token.created", 3)
    deliveries = await deliver(sim, sub, events, {"delay": {"uniform": ["2s", "4s"]}}, speed=20)
    bodies = {r.event_ids[0]: r.json() for r in receiver.requests}
    for event, delivery in zip(events, deliveries, strict=True):
        delay = delivery.faults["delay"]
        assert 2 <= delay <= 4
        [attempt] = await sim.store.attempts(delivery.id)
        # Never early; the upper bound only tells scaled (0.1 to 0.2 s) from unscaled (2 to 4 s) with room
        # for a loaded machine, since a wall-clock bound any tighter fails when the cores are busy.
        assert delay / 20 - 0.02 <= attempt.started_at - delivery.created_at <= delay / 20 + 1.5
        # `delivered_at` is the real time of the (delayed) attempt.
        expected = datetime.fromtimestamp(attempt.started_at, UTC)
        assert bodies[event.id]["delivered_at"] == iso_ms(expected)


@pytest.mark.parametrize(
    ("scheme", "etype"),
    [("standard", "token.created"), ("basistheory", "token.created"), ("syncfy", "credentials.created")],
)
async def test_bad_signature_fails_verification_then_the_retry_is_intact(sim, scheme, etype):
    with Receiver() as receiver:
        receiver.fail(1, status=401)
        sub = await subscribe(sim, receiver.url, signing=scheme, retry=NO_RETRY_WAIT)
        [delivery] = await deliver(sim, sub, events_of(etype, 1), {"bad_signature": 1})
        first, retry = receiver.requests
    assert signing.verify(scheme, first.headers, first.body, secret=sub.secret).reason == "signature mismatch"
    assert signing.verify(scheme, retry.headers, retry.body, secret=sub.secret).ok
    assert message(first.body) == message(retry.body)
    assert delivery.status == "succeeded" and delivery.faults == {"bad_signature": True}
    assert [a.faults for a in await sim.store.attempts(delivery.id)] == [{"bad_signature": True}, None]


async def test_stale_timestamp_standard_fails_only_the_tolerance(sim, receiver):
    sub = await subscribe(sim, receiver.url, signing="standard")
    [delivery] = await deliver(
        sim, sub, events_of("token.created", 1), {"stale_timestamp": {"probability": 1, "age": "10m"}}
    )
    [req] = receiver.requests
    [attempt] = await sim.store.attempts(delivery.id)
    stamp = int(req.headers["webhook-timestamp"])
    assert stamp == int(attempt.started_at) - 600
    assert signing.verify("standard", req.headers, req.body, secret=sub.secret).reason == "timestamp too old"
    # Signed with that old timestamp: at its own time it verifies.
    assert signing.verify("standard", req.headers, req.body, secret=sub.secret, now=stamp).ok
    assert attempt.faults == delivery.faults == {"stale_timestamp": {"age": 600.0}}


async def test_stale_timestamp_syncfy_sends_an_expired_jwt(sim, receiver):
    sub = await subscribe(sim, receiver.url)
    [delivery] = await deliver(sim, sub, events_of("credentials.created", 1), {"stale_timestamp": 1})
    [req] = receiver.requests
    key = base64.b64decode(sub.secret)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(req.headers["request-signature"], key, algorithms=["HS256"])
    claims = jwt.decode(req.headers["request-signature"], key, algorithms=["HS256"], options={"verify_exp": False})
    [attempt] = await sim.store.attempts(delivery.id)
    assert claims["iat"] == int(attempt.started_at) - 600 and claims["exp"] == claims["iat"] + 300
    assert claims["body_sha256"] == hashlib.sha256(req.body).hexdigest()


async def test_stale_timestamp_basistheory_sends_an_old_delivered_at_validly_signed(sim, receiver):
    sub = await subscribe(sim, receiver.url, retry=NO_RETRY_WAIT)
    receiver.fail(1, status=400)
    [delivery] = await deliver(
        sim, sub, events_of("token.created", 1), {"stale_timestamp": {"probability": 1, "age": "1h"}}
    )
    stale, fresh = receiver.requests
    assert all(signing.verify("basistheory", r.headers, r.body).ok for r in (stale, fresh))
    attempts = await sim.store.attempts(delivery.id)
    # An hour before the attempt's real time; the retry is stamped with its own real time.
    for req, attempt, age in ((stale, attempts[0], 3600), (fresh, attempts[1], 0)):
        lag = attempt.started_at - parse_time(req.json()["delivered_at"]).timestamp()
        assert age - 1e-6 <= lag < age + 0.001
    assert stale.json()["event"] == fresh.json()["event"]
    assert [a.faults for a in attempts] == [{"stale_timestamp": {"age": 3600.0}}, None]


@pytest.mark.parametrize("kind", ["truncated", "content_type", "empty"])
async def test_malformed_first_attempt_then_an_intact_retry(sim, receiver, kind):
    sub = await subscribe(sim, receiver.url, signing="standard", retry=NO_RETRY_WAIT)
    receiver.fail(1, status=400)
    [delivery] = await deliver(sim, sub, events_of("token.created", 1), {"malformed": {"probability": 1, "kind": kind}})
    bad, good = receiver.requests
    assert good.headers["content-type"] == "application/json" and standard_ok(sub.secret, good)
    # Validly signed: only the body, or its type, is wrong.
    assert signing.verify("standard", bad.headers, bad.body, secret=sub.secret).ok
    if kind in ("truncated", "empty"):
        with pytest.raises(json.JSONDecodeError):  # the official library verifies, then fails to parse
            Webhook(sub.secret).verify(bad.body, bad.headers)
    if kind == "truncated":
        assert good.body.startswith(bad.body) and 0 < len(bad.body) < len(good.body)
    elif kind == "empty":
        assert bad.body == b""
    else:
        assert bad.headers["content-type"] == "text/plain" and message(bad.body) == message(good.body)
    attempts = await sim.store.attempts(delivery.id)
    assert attempts[0].faults["malformed"]["kind"] == kind and attempts[1].faults is None
    assert delivery.faults == {"malformed": {"kind": kind}}


@pytest.mark.parametrize("etype", ["credentials.created", "token.created"])
async def test_schema_drift_add_keeps_everything_else_and_verifies(sim, receiver, etype):
    sub = await subscribe(sim, receiver.url, retry=NO_RETRY_WAIT)
    receiver.fail(1, status=500)  # the retry carries the same drift
    [event] = events_of(etype, 1)
    [delivery] = await deliver(sim, sub, [event], {"schema_drift": {"probability": 1, "kind": "add"}})
    first, retry = receiver.requests
    assert message(first.body) == message(retry.body)
    drift = delivery.faults["schema_drift"]
    body, path = first.json(), drift["path"]
    node = body
    for part in path[:-1]:
        node = node[part]
    assert node.pop(path[-1]) == drift["value"]
    assert path[-2] in ("payload", "data")
    original = json.loads(catalog.render([event]))
    original.pop("delivered_at", None)
    body.pop("delivered_at", None)
    assert body == original
    scheme = "syncfy" if etype.startswith("credentials") else "basistheory"
    assert signing.verify(scheme, first.headers, first.body, secret=sub.secret).ok
    assert [a.faults for a in await sim.store.attempts(delivery.id)] == [{"schema_drift": drift}] * 2


async def test_schema_drift_remove_takes_out_one_optional_field(sim, receiver):
    sub = await subscribe(sim, receiver.url)
    events = events_of("credentials.created", 6)
    deliveries = await deliver(sim, sub, events, {"schema_drift": {"probability": 1, "kind": "remove"}})
    for req, delivery, event in zip(receiver.requests, deliveries, events, strict=True):
        drift = delivery.faults["schema_drift"]
        assert drift["kind"] == "remove" and drift["path"][:3] == ["events", 0, "payload"]
        sent, original = req.json()["events"][0], event.data
        if len(drift["path"]) == 4:
            assert set(original["payload"]) - set(sent["payload"]) == {drift["path"][3]}
        else:
            assert drift["path"][4] not in sent["payload"][drift["path"][3]]
        assert sent["header"] == original["header"]
        assert signing.verify("syncfy", req.headers, req.body, secret=sub.secret).ok


async def test_burst_holds_events_and_releases_them_together(sim, receiver):
    receiver.respond(status=204, delay=0.05)
    sub = await subscribe(sim, receiver.url, max_in_flight=5)
    events = events_of("token.created", 12)
    published: list[float] = []
    for event in events:
        published.append(time.time())
        await sim.engine.publish(event, [sub], speed=0, faults={"burst": 5}, seed=3)
    await sim.store.writer.barrier()
    released = time.time()
    await sim.engine.release(None)
    assert await sim.engine.settled(None, timeout=10)
    deliveries = [d for _, d in await sim.store.list_deliveries(subscription_id=sub.id)]
    starts = {d.event_ids[0]: (await sim.store.attempts(d.id))[0].started_at for d in deliveries}
    for i, (event, delivery) in enumerate(zip(events, deliveries, strict=True)):
        cut = {"cut": CUT_EARLY} if i >= 10 else {}  # the last group of 2 went as the run ended
        assert delivery.faults == {"burst": {"size": 5, "group": i // 5, **cut}}
        # Nothing of a group goes before its last event is published; the partial last group waits for the end.
        gate = released if i >= 10 else published[i // 5 * 5 + 4]
        assert starts[event.id] >= gate
    assert receiver.max_in_flight == 5  # each burst arrives as a spike
    assert sorted(receiver.event_ids()) == sorted(e.id for e in events)


async def test_held_deliveries_survive_a_restart(db_path, receiver):
    sim = await Simulator.open(str(db_path))
    sub = await subscribe(sim, receiver.url)
    events = events_of("token.created", 3)
    for event in events:
        await sim.engine.publish(event, [sub], speed=0, faults={"burst": 5}, seed=1)
    await sim.store.writer.barrier()
    assert await sim.store.delivery_counts(subscription_id=sub.id) == {"pending": 3}
    await sim.close(grace=1)
    assert receiver.requests == []  # a partial burst was still held
    sim = await Simulator.open(str(db_path))
    try:
        await receiver.wait_for_async(3)
        assert receiver.event_ids() == [e.id for e in events]
        # Their records say the burst was cut short, not that it went as a spike of five.
        recorded = [d.faults for _, d in await sim.store.list_deliveries(subscription_id=sub.id)]
        assert [f["burst"]["cut"] if f else None for f in recorded] == [holds.CUT] * 3, recorded
    finally:
        await sim.close(grace=1)


# --- layers and determinism ---------------------------------------------------------------------------------


async def test_subscription_faults_apply_to_all_it_receives_and_publications_override_them(sim, receiver):
    sub = await subscribe(sim, receiver.url, faults={"duplicate": {"probability": 1, "spacing": "10ms"}})
    event, [did, copy] = await sim.emit(EventSpec(type="token.created"))
    await receiver.wait_for_async(2)
    assert [r.event_ids for r in receiver.requests] == [[event.id]] * 2
    assert copy == f"{did}~dup1"
    assert (await sim.delivery(did)).faults == {"duplicate": {"copies": 1}}
    receiver.clear()
    await deliver(sim, sub, events_of("token.read", 1), {"duplicate": 0})
    assert len(receiver.requests) == 1


async def test_step_overrides_run_overrides_scenario(sim, receiver, tmp_path):
    path = tmp_path / "layers.yaml"
    path.write_text("""
name: fault-layers
provider: basistheory
faults: {drop: 1, bad_signature: 1}
steps:
  - emit: token.created
  - emit: token.read
    faults: {drop: 0}
""")
    run = await sim.runs.start(
        RunSpec(
            scenario="fault-layers", target=receiver.url, speed=0, seed=1, faults={"bad_signature": 0, "duplicate": 1}
        ),
        scenario=loader.load_file(path),
    )
    run = await asyncio.wait_for(sim.runs.wait(run.id), 15)
    assert run.status == "completed"
    created, read, copy = [d for _, d in await sim.store.list_deliveries(run_id=run.id)]
    assert created.status == "dropped" and created.faults == {"drop": True}
    assert read.faults == {"duplicate": {"copies": 1}} and copy.id == f"{read.id}~dup1"
    assert len(receiver.requests) == 2
    assert all(signing.verify("basistheory", r.headers, r.body).ok for r in receiver.requests)


@pytest.mark.parametrize(
    "faults",
    [
        {"drop": 0.3},
        {"duplicate": 0.3},
        {"bad_signature": 0.3},
        {"stale_timestamp": 0.3},
        {"malformed": 0.3},
        {"schema_drift": 0.3},
        {"delay": {"exponential": {"mean": "2s"}}},
    ],
)
async def test_the_same_seed_injects_the_same_faults(sim, receiver, faults):
    (name,) = faults
    events = events_of("token.created", 20)
    runs = []
    for seed in (11, 11, 12):
        sub = await subscribe(sim, receiver.url)  # the same URL: draws depend on it, not on the subscription id
        runs.append(await deliver(sim, sub, events, faults, seed=seed))
    affected = [injected(r, name) for r in runs]
    assert affected[0] == affected[1] and fingerprint(runs[0]) == fingerprint(runs[1])
    assert fingerprint(runs[0]) != fingerprint(runs[2])
    if name != "delay":
        assert 0 < len(affected[0]) < 20 and affected[0] != affected[2]


# --- the chaos scenarios ----------------------------------------------------------------------------------


async def chaos_run(
    tmp_path: Any, name: str, seed: int, url: str, secret: str | None, start: Any = START
) -> tuple[Any, list[Delivery]]:
    sim = await Simulator.open(str(tmp_path / f"{name}-{seed}-{time.monotonic_ns()}.db"))
    try:
        scheme = "syncfy" if secret else None
        run = await sim.runs.start(
            RunSpec(scenario=name, target=url, speed=0, seed=seed, start_time=start, signing=scheme, secret=secret)
        )
        run = await asyncio.wait_for(sim.runs.wait(run.id), 30)
        deliveries = [d for _, d in await sim.store.list_deliveries(run_id=run.id)]
        logs = {d.id: await sim.store.attempts(d.id) for d in deliveries}
    finally:
        await sim.close(grace=1)
    return run, [d for d in deliveries], logs


@pytest.mark.parametrize("name", ["syncfy-chaos", "basistheory-chaos"])
async def test_chaos_scenario_injects_every_fault_and_every_kept_event_arrives_intact(tmp_path, name):
    assert loader.find(name).faults, "the chaos scenarios carry their own faults"
    secret = signing.new_secret("syncfy") if "syncfy" in name else None
    scheme = "syncfy" if secret else "basistheory"

    def check(headers: dict[str, str], body: bytes) -> tuple[bool, str]:
        result = signing.verify(scheme, headers, body, secret=secret)
        return result.ok, result.reason

    with Receiver(verifier=check) as receiver:
        # Take the first seed that draws every fault (the scenario is short; not every seed draws all nine).
        for seed in range(1, 16):
            receiver.clear()
            run, deliveries, logs = await chaos_run(tmp_path, name, seed, receiver.url, secret)
            assert run.status == "completed"
            if {fault for d in deliveries for fault in d.faults or {}} == set(FAULTS):
                break
        else:
            pytest.fail("no seed in 1-15 drew every fault")
        requests = list(receiver.requests)
    attempts = [a for log in logs.values() for a in log]
    assert len(requests) == len(attempts)
    assert sum(not r.verified for r in requests) == sum(unverifiable(a, scheme) for a in attempts) > 0
    # The receiver accepts everything, so a damaged first attempt is not retried; every other one is intact.
    kept = {eid for d in deliveries if d.status != "dropped" for eid in d.event_ids}
    expected = {eid for d in deliveries if d.status != "dropped" and not damaged(logs[d.id][0]) for eid in d.event_ids}
    intact = {
        eid
        for r in requests
        if r.verified and r.headers.get("content-type") == "application/json"
        for eid in r.event_ids
    }
    assert expected <= intact <= kept
    assert all(d.status in ("succeeded", "dropped") for d in deliveries)


def damaged(attempt: Any) -> bool:
    return bool(attempt.faults and {"bad_signature", "stale_timestamp", "malformed"} & set(attempt.faults))


def unverifiable(attempt: Any, scheme: str) -> bool:
    """Whether `signing.verify` rejects what this attempt sent: a bad signature; an expired JWT (a stale Basis
    Theory `delivered_at` is validly signed); a Basis Theory body that is no longer JSON (it signs parsed JSON)."""
    faults = attempt.faults or {}
    if "bad_signature" in faults or (scheme == "syncfy" and "stale_timestamp" in faults):
        return True
    return scheme == "basistheory" and faults.get("malformed", {}).get("kind") in ("truncated", "empty")


async def test_chaos_runs_repeat_with_their_seed(tmp_path):
    with Receiver() as receiver:
        results = [await chaos_run(tmp_path, "basistheory-chaos", seed, receiver.url, None) for seed in (4, 4, 5)]
    prints = [fingerprint(deliveries) for _, deliveries, _ in results]
    assert prints[0] == prints[1] != prints[2]
    for fault in ("drop", "duplicate", "bad_signature", "malformed", "schema_drift"):
        assert injected(results[0][1], fault) == injected(results[1][1], fault)


async def test_a_seed_replays_its_faults_whatever_the_start_time(tmp_path):
    """The ids of a run change with its start time (by default, now); the faults its seed draws do not. They
    were keyed on the event ids, so `--seed 3` run twice injected different faults."""
    placed, ids = [], []
    with Receiver() as receiver:
        for start in (START, START + timedelta(days=40, seconds=7)):
            sim = await Simulator.open(str(tmp_path / f"{start:%s}.db"))
            try:
                spec = RunSpec(scenario="basistheory-chaos", target=receiver.url, speed=0, seed=4, start_time=start)
                run = await asyncio.wait_for(sim.runs.wait((await sim.runs.start(spec)).id), 30)
                seq = {e.id: e.seq for e in await sim.store.run_events(run.id)}
                deliveries = [d for _, d in await sim.store.list_deliveries(run_id=run.id)]
            finally:
                await sim.close(grace=1)
            where = [(tuple(seq[i] for i in d.event_ids), fingerprint([d])[0][1]) for d in deliveries]
            placed.append(sorted(where))
            ids.append(set(seq))
    assert any(faults != "{}" for _, faults in placed[0])
    assert placed[0] == placed[1]
    assert not ids[0] & ids[1]  # other ids, the same faults in the same places
