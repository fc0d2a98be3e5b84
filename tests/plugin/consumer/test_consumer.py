from collections import Counter

import pytest
from consumer_app import STANDARD_SECRET, SYNCFY_SECRET


def test_standard_webhooks_events_are_processed_once(webhook_sim, consumer):
    webhook_sim.subscribe(
        consumer.url + "/webhooks/standard", signing="standard", secret=STANDARD_SECRET, events=["syncfy:*"]
    )
    run = webhook_sim.run("syncfy-credential-lifecycle", seed=11, params={"refreshes": 1}, faults={"duplicate": 1.0})
    final = run.wait(timeout=30)
    assert final.status == "completed"
    assert set(final.counts) == {"succeeded"}
    assert Counter(consumer.processed) == Counter(event.id for event in run.events())


async def test_basis_theory_signatures_are_checked(webhook_sim, consumer):
    run = webhook_sim.run(
        "basistheory-token-lifecycle",
        seed=5,
        target=consumer.url + "/webhooks/basistheory",
        faults={"bad_signature": 1.0},
    )
    final = await run
    assert final.status == "completed"
    assert set(final.counts) == {"succeeded"}
    assert consumer.rejected == len(run.deliveries())  # each first attempt was tampered with, then retried
    assert Counter(consumer.processed) == Counter(event.id for event in run.events())


@pytest.mark.webhook_sim(
    "syncfy-credential-lifecycle",
    seed=3,
    params={"refreshes": 2},
    target="syncfy_endpoint",
    secret=SYNCFY_SECRET,
    faults={"duplicate": {"probability": 1.0, "copies": 2}},
)
def test_syncfy_duplicates_are_processed_once(webhook_sim_run, webhook_sim, consumer):
    assert webhook_sim_run.status == "completed"
    deliveries = webhook_sim.deliveries(run=webhook_sim_run.id)
    assert all(d.status == "succeeded" for d in deliveries)
    assert len(consumer.processed) == webhook_sim_run.events
    assert len(set(consumer.processed)) == len(consumer.processed)


async def test_a_redelivered_event_is_processed_once(webhook_sim, consumer, syncfy_endpoint):
    sub = webhook_sim.subscribe(syncfy_endpoint, signing="syncfy", secret=SYNCFY_SECRET)
    event = webhook_sim.emit("syncfy:credentials.updated", payload__is_executing=0)
    [delivery] = webhook_sim.wait_for_deliveries(1, subscription=sub.id)
    again = webhook_sim.redeliver(delivery.id)
    assert again.attempts == 2 and again.status == "succeeded"
    assert consumer.processed == [event.id]
