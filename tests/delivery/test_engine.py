"""The delivery engine against real receivers: filters, signatures, retries, ordering, batching, disabling."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import sqlite3
import time
from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from simulator import catalog
from simulator.core import runs
from simulator.core.simulator import Simulator
from simulator.errors import InvalidInput
from simulator.models.inputs import EventSpec, RetrySpec, RunSpec, SubscriptionPatch, SubscriptionSpec
from simulator.scenarios import load_text
from simulator.store import tables
from simulator.testing.receiver import Receiver
from simulator.timeutil import now_utc
from tests.conftest import silent_receiver, until


async def subscribe(sim: Simulator, url: str, **kw: object):
    return await sim.create_subscription(SubscriptionSpec(url=url, **kw))


async def emit_n(sim: Simulator, etype: str, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        event, _ = await sim.emit(EventSpec(type=etype))
        ids.append(event.id)
    return ids


async def attempts_of(sim: Simulator, delivery_id: str):
    return await sim.store.attempts(delivery_id)


async def test_filters_route_each_event_to_matching_subscriptions(sim, make_receiver):
    everything, tokens, syncfy, exact = (make_receiver() for _ in range(4))
    await subscribe(sim, everything.url)
    await subscribe(sim, tokens.url, events=["token.*"])
    await subscribe(sim, syncfy.url, events=["syncfy:*"])
    await subscribe(sim, exact.url, events=["documents.fail", "basistheory:token-intent.created"])
    types = [
        "token.created",
        "token.property.expired",
        "token-intent.created",
        "credentials.created",
        "documents.failed",
    ]
    for t in types:
        await sim.emit(EventSpec(type=t))
    await everything.wait_for_async(5)
    await tokens.wait_for_async(2)
    await syncfy.wait_for_async(2)
    await exact.wait_for_async(2)

    def kinds(r: Receiver) -> list[str]:
        out = []
        for req in r.requests:
            body = req.json()
            out += (
                [e["header"]["event"]["name"] for e in body["events"]] if "events" in body else [body["event"]["type"]]
            )
        return sorted(out)

    assert kinds(everything) == sorted(types)
    assert kinds(tokens) == ["token.created", "token.property.expired"]
    assert kinds(syncfy) == ["credentials.created", "documents.failed"]
    assert kinds(exact) == ["documents.failed", "token-intent.created"]


async def test_unknown_filter_is_rejected_with_suggestions(sim, receiver):
    with pytest.raises(InvalidInput, match=r"events\.0.*credentials\.created"):
        await subscribe(sim, receiver.url, events=["credentials.craeted"])


async def test_standard_signature_verifies_with_the_official_library(sim, receiver):
    sub = await subscribe(sim, receiver.url, signing="standard")
    assert sub.secret.startswith("whsec_")
    await sim.emit(EventSpec(type="token.created"))
    req = (await receiver.wait_for_async(1))[0]
    payload = Webhook(sub.secret).verify(req.body, req.headers)
    assert payload["event"]["type"] == "token.created"
    assert req.headers["user-agent"].startswith("webhook-sim/")
    assert req.headers["content-type"] == "application/json"


async def test_basistheory_signature_verifies_with_cryptography(sim, receiver):
    await subscribe(sim, receiver.url)  # native scheme for a Basis Theory event
    await sim.emit(EventSpec(type="token-intent.created"))
    req = (await receiver.wait_for_async(1))[0]
    assert req.headers["bt-signature-version"] == "v1"
    public = serialization.load_pem_public_key(sim.public_key_pem.encode())
    canonical = json.dumps(json.loads(req.body), separators=(",", ":"), sort_keys=True).encode()
    assert list(json.loads(req.body)) == ["event", "delivered_at"]  # the documented order, not the signed one
    assert canonical != req.body
    public.verify(
        base64.b64decode(req.headers["bt-signature"]),
        canonical,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
        hashes.SHA256(),
    )


async def test_syncfy_signature_verifies_with_pyjwt(sim, receiver):
    sub = await subscribe(sim, receiver.url)
    await sim.emit(EventSpec(type="credentials.created"))
    req = (await receiver.wait_for_async(1))[0]
    claims = jwt.decode(req.headers["request-signature"], base64.b64decode(sub.secret), algorithms=["HS256"])
    import hashlib

    assert claims["body_sha256"] == hashlib.sha256(req.body).hexdigest()
    assert claims["rid"] == req.json()["rid"]


async def test_extra_headers_are_sent(sim, receiver):
    await subscribe(sim, receiver.url, headers={"X-Tenant": "acme"})
    await sim.emit(EventSpec(type="token.created"))
    assert (await receiver.wait_for_async(1))[0].headers["x-tenant"] == "acme"


async def test_a_subscriptions_header_replaces_the_senders_of_the_same_name_in_any_case(sim, receiver):
    """Header names are case-insensitive: `content-type` sent beside `Content-Type` was two headers."""
    await subscribe(sim, receiver.url, signing="standard", headers={"content-type": "text/xml", "user-agent": "mine"})
    _, [delivery_id] = await sim.emit(EventSpec(type="token.created"))
    [request] = await receiver.wait_for_async(1)
    assert (request.headers["content-type"], request.headers["user-agent"]) == ("text/xml", "mine")
    await until(lambda: receiver.requests)
    await sim.engine.settled(None, timeout=5)
    [attempt] = (await sim.delivery(delivery_id)).attempt_log
    assert attempt.request is not None
    names = [name.lower() for name in attempt.request.headers]
    assert names.count("content-type") == names.count("user-agent") == 1
    assert {"webhook-id", "webhook-signature"} <= set(names)


async def test_a_signature_header_of_a_subscriptions_own_is_refused_naming_it():
    for name in ("webhook-id", "BT-Signature", "Request-Signature"):
        with pytest.raises(ValueError, match=f"{name} is a signature header"):
            SubscriptionSpec(url="http://127.0.0.1:9/", headers={name: "x"})


async def test_retry_schedule_is_scaled_and_jittered_within_bounds(sim, receiver):
    receiver.fail(3, status=503)
    delays = [1.0, 2.0, 4.0]
    await subscribe(sim, receiver.url, retry=RetrySpec(delays=delays, jitter=0.2))
    # Emitted events use speed 1; a run would scale. Use the engine's speed through a run-less publish.
    etype = catalog.resolve("token.created")
    event = catalog.build_event(etype, catalog.new_context(1, catalog.SAMPLE_TIME))
    subs = await sim.subscriptions.matching(etype)
    [delivery_id] = await sim.engine.publish(event, subs, speed=10.0)
    await receiver.wait_for_async(4, timeout=10)
    await until(lambda: receiver.requests and len(receiver.requests) == 4)
    await sim.engine.settled(None, timeout=5)
    attempts = await attempts_of(sim, delivery_id)
    assert [a.status_code for a in attempts] == [503, 503, 503, 204]
    gaps = [b.started_at - a.started_at for a, b in itertools.pairwise(attempts)]
    for gap, base in zip(gaps, delays, strict=True):
        # Never sooner than the jitter allows; the upper slack is for a loaded machine and still tells
        # scaled gaps from unscaled ones (1 s and more).
        assert base / 10 * 0.8 - 0.01 <= gap <= base / 10 * 1.2 + 0.6, (gaps, delays)
    # delivered_at is each attempt's own real time.
    stamps = [json.loads(r.body)["delivered_at"] for r in receiver.requests]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    delivery = await sim.delivery(delivery_id)
    assert delivery.status == "succeeded" and delivery.attempts == 4


async def test_retry_jitter_replays_with_the_run_whatever_its_ids(sim, receiver):
    """Jitter is drawn per delivery from its events' places in the run: a replay whose start time (and so whose
    ids) differs retries at the same simulated times. It was drawn from the message id, new in every run."""
    await subscribe(sim, receiver.url, retry=RetrySpec(delays=[1.0, 2.0, 4.0], jitter=0.2))
    etype = catalog.resolve("token.created")
    subs = await sim.subscriptions.matching(etype)
    offsets = []
    for seed, run_id in ((1, "run_first"), (2, "run_replay")):
        receiver.fail(3, status=503)
        event = catalog.build_event(etype, catalog.new_context(seed, catalog.SAMPLE_TIME)).numbered(7, run_id)
        [delivery_id] = await sim.engine.publish(event, subs, speed=0)
        await receiver.wait_for_async(4 * len(offsets) + 4, timeout=10)
        await sim.engine.settled(None, timeout=5)
        async with sim.store.engine.connect() as conn:
            query = select(tables.deliveries.c.sim_offset).where(tables.deliveries.c.id == delivery_id)
            offsets.append((await conn.execute(query)).scalar_one())  # the simulated time its retries took
    assert offsets[0] == offsets[1] and offsets[0] != pytest.approx(7.0)


async def test_deleting_a_subscription_ends_what_it_had_yet_to_deliver(sim, receiver):
    """Its retries would never be made: they end `dead`, saying why. They stayed `failed` with a retry due for
    good (after a restart too), and a redelivery was refused as still under way."""
    receiver.fail(5, status=500)
    sub = await subscribe(sim, receiver.url, events=["token.*"], retry=RetrySpec(delays=[3600.0], jitter=0))
    keep = await subscribe(sim, receiver.url, events=["syncfy:*"])
    ids = []
    for _ in range(2):
        _, [delivery_id] = await sim.emit(EventSpec(type="token.created"))
        ids.append(delivery_id)
    await until(lambda: len(receiver.requests) == 2)
    for _ in range(500):  # both answers recorded: each waits an hour for its retry
        if [(await sim.delivery(i)).status for i in ids] == ["failed", "failed"]:
            break
        await asyncio.sleep(0.02)
    assert [(await sim.delivery(i)).status for i in ids] == ["failed", "failed"]
    _, [other] = await sim.emit(EventSpec(type="credentials.created"))
    await sim.delete_subscription(sub.id)
    for delivery_id in ids:
        ended = await sim.delivery(delivery_id)
        assert (ended.status, ended.last_error) == ("dead", "its subscription was deleted")
        assert ended.next_attempt_at is None and ended.finished_at is not None
    assert (await sim.delivery(other)).subscription_id == keep.id  # another subscription's are left alone
    await until(lambda: len(receiver.requests) == 3)
    assert (await sim.delivery(other)).status != "dead"


async def test_an_attempt_under_way_when_its_subscription_is_deleted_is_recorded(sim):
    """The receiver had the request, and no attempt said so: the deletion cut the attempt short unrecorded."""
    async with silent_receiver() as (url, got):
        sub = await subscribe(sim, url, events=["token.*"], signing="standard")
        _, [delivery_id] = await sim.emit(EventSpec(type="token.created"))
        await until(lambda: got, what="the request at the receiver")
        await sim.delete_subscription(sub.id)
        await sim.store.writer.barrier()
        ended = await sim.delivery(delivery_id)
        assert (ended.status, ended.last_error) == ("dead", "its subscription was deleted")
        [attempt] = await attempts_of(sim, delivery_id)
        assert attempt.error is not None and "its subscription was deleted" in attempt.error
        assert attempt.request is not None and attempt.request.headers["webhook-id"] == delivery_id


async def test_a_runs_started_at_is_the_wall_time_of_its_simulated_start(sim, receiver):
    """The timeline's offsets and the benchmarks' lateness count from `started_at`: the first event, at offset 0,
    is due exactly then. (Written when the run began instead, it was half a second early at speed > 0.)"""
    scenario = load_text(
        "name: clocked\nprovider: basistheory\nsteps:\n  - emit: token.created\n  - wait: 1s\n  - emit: token.created\n"
    )
    sub = await subscribe(sim, receiver.url)
    spec = RunSpec(scenario="clocked", subscriptions=[sub.id], speed=10, seed=1)
    run = await asyncio.wait_for(sim.runs.wait((await sim.runs.start(spec, scenario=scenario)).id), 15)
    first, _ = [d for _, d in await sim.store.list_deliveries(run_id=run.id)]
    async with sim.store.engine.connect() as conn:
        query = select(tables.deliveries.c.next_attempt_at).where(tables.deliveries.c.id == first.id)
        due = (await conn.execute(query)).scalar_one()
    assert run.started_at == due


async def test_retry_after_is_honoured(sim, receiver):
    receiver.fail(1, status=429, retry_after="3")
    await subscribe(sim, receiver.url, retry=RetrySpec(delays=[0.1], jitter=0))
    etype = catalog.resolve("token.created")
    event = catalog.build_event(etype, catalog.new_context(2, catalog.SAMPLE_TIME))
    [did] = await sim.engine.publish(event, await sim.subscriptions.matching(etype), speed=10.0)
    await receiver.wait_for_async(2)
    await sim.engine.settled(None, timeout=5)
    a, b = await attempts_of(sim, did)
    assert a.status_code == 429 and b.status_code == 204
    assert b.started_at - a.started_at >= 0.3 - 0.01  # 3 s of Retry-After at speed 10, not 0.1 s


async def test_timeouts_are_failed_attempts(sim, receiver):
    # The first answer far past the timeout; the retry's at once, within a timeout a loaded machine can keep.
    receiver.fail(1, status=204, delay=4.0)
    await subscribe(sim, receiver.url, timeout=1.0, retry=RetrySpec(delays=[0], jitter=0))
    _event, [did] = await sim.emit(EventSpec(type="token.created"))
    await until(lambda: len(receiver.requests) >= 2, what="the retry after a timeout")
    await sim.engine.settled(None, timeout=5)
    first, second = await attempts_of(sim, did)
    assert first.status_code is None and "timeout" in first.error
    assert second.status_code == 204


async def test_connection_errors_are_failed_attempts_then_dead(sim):
    await subscribe(sim, "http://127.0.0.1:9/hook", retry=RetrySpec(delays=[0, 0], jitter=0))
    _, [did] = await sim.emit(EventSpec(type="token.created"))
    await sim.engine.settled(None, timeout=5)
    delivery = await sim.delivery(did)
    assert delivery.status == "dead" and delivery.attempts == 3
    assert all(a.status_code is None and a.error for a in delivery.attempt_log)


async def test_failures_record_response_excerpt(sim, receiver):
    receiver.fail(1, status=500)
    await subscribe(sim, receiver.url, retry=RetrySpec(delays=[0], jitter=0))
    _, [did] = await sim.emit(EventSpec(type="token.created"))
    await sim.engine.settled(None, timeout=5)
    first = (await attempts_of(sim, did))[0]
    assert first.status_code == 500 and first.latency_ms > 0 and first.error is None


async def test_subscription_is_disabled_after_consecutive_dead_then_reenabled_and_redelivered(sim, receiver):
    receiver.respond(status=500)
    sub = await subscribe(sim, receiver.url, retry=RetrySpec(delays=[0], jitter=0), disable_after=2)
    for _ in range(3):
        await sim.emit(EventSpec(type="token.created"))
    await until(lambda: len(receiver.requests) >= 4, what="two deliveries to die")
    await sim.engine.settled(None, timeout=5)
    assert (await sim.subscription(sub.id)).status == "disabled"
    counts = await sim.store.delivery_counts(subscription_id=sub.id)
    # The third waits (pending, or failed once and awaiting its retry); it is not lost.
    assert counts["dead"] == 2 and counts.get("pending", 0) + counts.get("failed", 0) == 1
    receiver.respond(status=204)
    await sim.update_subscription(sub.id, SubscriptionPatch(enabled=True))
    await until(lambda: len(receiver.requests) >= 5, what="the waiting delivery after re-enabling")
    redone = await sim.redeliver_dead(sub.id)
    assert len(redone) == 2
    await until(lambda: len(receiver.requests) >= 7, what="redeliveries")
    await sim.engine.settled(None, timeout=5)
    counts = await sim.store.delivery_counts(subscription_id=sub.id)
    assert counts == {"succeeded": 3}
    # A redelivery keeps its message id.
    ids = [r.headers["bt-signature"] and r.json()["event"]["id"] for r in receiver.requests]
    assert len(set(ids)) == 3


async def test_syncfy_batches_carry_several_events_in_order(sim, receiver):
    await subscribe(sim, receiver.url, batch=3, events=["syncfy:*"])
    ids = await emit_n(sim, "credentials.refreshed", 7)
    await receiver.wait_for_async(2)
    await sim.engine.flush()
    requests = await receiver.wait_for_async(3)
    sizes = [len(r.json()["events"]) for r in requests]
    assert sizes == [3, 3, 1]
    assert receiver.event_ids() == ids
    assert len({r.json()["rid"] for r in requests}) == 3


async def test_an_open_batch_is_stored_but_not_read_back_until_it_closes(sim, receiver):
    sub = await subscribe(sim, receiver.url, batch=5, events=["syncfy:*"])
    carriers = [(await sim.emit(EventSpec(type="credentials.refreshed")))[1] for _ in range(2)]
    assert carriers[0] == carriers[1] and len(carriers[0]) == 1  # both events name the batch that carries them
    stored = await sim.delivery(carriers[0][0])
    assert (stored.status, len(stored.event_ids)) == ("pending", 2)  # on disk already, with both events
    assert await sim.engine._load(sub.id, 0, 100) == []  # what a spilled lane reads back: not the open batch
    await sim.engine.flush()
    await receiver.wait_for_async(1)
    await sim.engine.settled(None, timeout=10)
    assert len(receiver.requests) == 1 and len(receiver.requests[0].json()["events"]) == 2


async def test_deliveries_start_in_event_order(sim, receiver):
    await subscribe(sim, receiver.url)
    ids = await emit_n(sim, "token.created", 40)
    await receiver.wait_for_async(40)
    assert receiver.event_ids() == ids


async def test_a_retry_does_not_hold_back_later_deliveries(sim, receiver):
    receiver.fail(1, status=500)
    # The retry 2 s later: the two deliveries after it are sent meanwhile, on a loaded machine too.
    await subscribe(sim, receiver.url, retry=RetrySpec(delays=[2.0], jitter=0))
    ids = await emit_n(sim, "token.created", 3)
    await receiver.wait_for_async(4)
    assert receiver.event_ids() == [ids[0], ids[1], ids[2], ids[0]]


async def test_strict_order_holds_later_deliveries_behind_a_retry(sim, receiver):
    receiver.fail(1, status=500)
    await subscribe(sim, receiver.url, strict_order=True, retry=RetrySpec(delays=[0.3], jitter=0))
    ids = await emit_n(sim, "token.created", 3)
    await receiver.wait_for_async(4)
    assert receiver.event_ids() == [ids[0], ids[0], ids[1], ids[2]]


async def test_a_delivery_is_in_the_store_before_it_is_sent(sim, db_path):
    seen: list[bool] = []

    def check(headers: dict[str, str], body: bytes) -> tuple[bool, str]:
        with sqlite3.connect(db_path) as conn:
            row = conn.execute("select count(*) from deliveries where id = ?", (headers["webhook-id"],))
            seen.append(row.fetchone()[0] == 1)
        return True, "ok"

    with Receiver(verifier=check) as r:
        await subscribe(sim, r.url, signing="standard")
        await emit_n(sim, "token.created", 20)
        await r.wait_for_async(20)
    assert seen == [True] * 20


async def test_max_in_flight_sends_concurrently(sim, receiver):
    # Long enough that all ten are emitted before the first answer comes back, even on a loaded machine.
    receiver.respond(status=204, delay=2.0)
    await subscribe(sim, receiver.url, max_in_flight=10)
    await emit_n(sim, "token.created", 10)
    await receiver.wait_for_async(10, timeout=5)
    assert receiver.max_in_flight == 10


async def test_max_in_flight_one_sends_one_at_a_time(sim, receiver):
    receiver.respond(status=204, delay=0.05)
    await subscribe(sim, receiver.url)
    await emit_n(sim, "token.created", 5)
    await receiver.wait_for_async(5, timeout=5)
    assert receiver.max_in_flight == 1


async def test_a_batch_that_closes_while_a_lane_reads_the_store_is_not_read_back_partial(sim, receiver):
    """A lane reads the store while a Syncfy batch closes: what it read is the batch as it was (one event). That
    stale row must not be sent: the closed batch goes once, whole, when its final row commits."""
    sub = await subscribe(sim, receiver.url, batch=3, events=["syncfy:*"])
    await emit_n(sim, "credentials.refreshed", 1)  # the batch is open, its row in the store holds one event
    gate, read = asyncio.Event(), asyncio.Event()
    real = sim.store.outbox_page

    async def slow_page(*args):
        page = await real(*args)
        read.set()
        await gate.wait()  # the batch closes and commits meanwhile
        return page

    sim.store.outbox_page = slow_page
    loading = asyncio.create_task(sim.engine._load(sub.id, 0, 100))
    await read.wait()
    await emit_n(sim, "credentials.refreshed", 2)  # the third event closes the batch
    await sim.store.writer.barrier()
    gate.set()
    assert [len(job.events) for job in await loading] == []
    sim.store.outbox_page = real
    [request] = await receiver.wait_for_async(1)
    assert len(request.json()["events"]) == 3


async def test_a_flushed_batch_is_not_due_before_its_latest_event(sim, receiver):
    """A run makes its events ahead of time; a batch it flushes (before a sleep, or at its end) goes when its
    latest event is due, never at the moment of the flush."""
    await subscribe(sim, receiver.url, batch=5, events=["syncfy:*"])
    etype = catalog.resolve("credentials.refreshed")
    now = time.time()
    dues = (now + 60, now + 90)
    for seq, due in enumerate(dues):
        event = replace(catalog.build_event(etype, catalog.new_context(seq, now_utc())), run_id="run_x", seq=seq)
        await sim.engine.publish(event, await sim.subscriptions.matching(etype), due=due)
    await sim.engine.flush("run_x")
    await sim.store.writer.barrier()
    (only,) = [d for _, d in await sim.store.list_deliveries(run_id="run_x")]
    assert len(only.event_ids) == 2
    assert only.next_attempt_at == dues[1]
    assert receiver.requests == []


async def test_a_timed_runs_event_is_written_as_timed_even_where_no_subscription_takes_it(sim, monkeypatch):
    """The store lets a timed run's writes ahead of a speed-0 run's backlog (`Op.timed`): its events that no
    subscription takes count too, since the run's next events wait for their commit."""
    marked: list[bool] = []
    real = sim.store.writer.put_nowait

    def put_nowait(op):
        if op.events:
            marked.append(op.timed)
        real(op)

    monkeypatch.setattr(sim.store.writer, "put_nowait", put_nowait)
    etype = catalog.resolve("token.created")
    for seq, speed in enumerate((1.0, 0.0)):
        event = catalog.build_event(etype, catalog.new_context(seq, catalog.SAMPLE_TIME))
        await sim.engine.publish(event, [], speed=speed)
    await sim.engine.flush()
    assert marked == [True, False]


@pytest.mark.parametrize(("speed", "inside"), [(100000.0, 1), (0.0, 0)])
async def test_a_timed_run_plays_as_a_timed_run_of_the_store(sim, monkeypatch, speed, inside):
    """Between a timed run's events too, however far apart, other writers wait behind a short queue."""
    seen: list[int] = []
    real = sim.engine.publish

    async def publish(event, subs, **kw):
        seen.append(sim.store.writer._timed_runs)
        return await real(event, subs, **kw)

    monkeypatch.setattr(sim.engine, "publish", publish)
    run = await sim.runs.start(RunSpec(scenario="basistheory-token-lifecycle", speed=speed, seed=1))
    assert (await sim.runs.wait(run.id, timeout=60)).status == "completed"
    assert seen and set(seen) == {inside}
    assert sim.store.writer._timed_runs == 0  # and no more once it ended


PAIRS = """
name: pairs
provider: syncfy
description: Pairs of events emitted back to back, a wait between pairs.
steps:
  - repeat: 4
    steps:
      - emit: credentials.created
      - emit: credentials.updated
      - wait: 50ms
"""


@pytest.mark.parametrize(("speed", "behind"), [(0, False), (5, False), (1000, False), (1e9, True)])
async def test_a_syncfy_batch_holds_what_comes_back_to_back_and_closes_where_the_scenario_waits(
    sim, receiver, monkeypatch, speed: float, behind: bool
):
    """README: batches hold a run's events until the batch is full or the scenario next waits. At a timed speed
    every POST carried one event (a sleep that wakes early closed the batch before each); at speed 0 batches ran
    across the waits. `behind`: a timed run with no lead, every event due before it is made (a high speed, a busy
    server, a resumed backlog), never sleeps; its batches ran across the waits, as many events as fit."""
    if behind:
        monkeypatch.setattr(runs, "LOOKAHEAD", 0.0)
    sub = await subscribe(sim, receiver.url, batch=3, events=["syncfy:*"])
    scenario = load_text(PAIRS)
    run = await sim.runs.start(
        RunSpec(scenario="pairs", subscriptions=[sub.id], speed=speed, seed=1), scenario=scenario
    )
    await sim.runs.wait(run.id, timeout=20)
    requests = await receiver.wait_for_async(4)
    await sim.engine.settled(None, timeout=10)
    names = [[e["header"]["event"]["name"] for e in r.json()["events"]] for r in receiver.requests]
    assert names == [["credentials.created", "credentials.updated"]] * 4, names
    assert len(requests) == 4
