"""A Syncfy batch closed after its events were due (a run resumed with a backlog, a loop running late) keeps its
place among the deliveries due before and after it: it went after every later batch that was due in the past."""

from __future__ import annotations

import time
from dataclasses import replace

from simulator import catalog
from simulator.models.inputs import SubscriptionSpec
from simulator.timeutil import now_utc


async def test_a_batch_closed_late_goes_in_its_events_order(sim, receiver):
    spec = SubscriptionSpec(url=receiver.url, batch=2, events=["syncfy:*"], max_in_flight=1)
    await sim.create_subscription(spec)
    receiver.fail(1, status=204, delay=1.0)  # the first batch holds the lane's one slot while the rest queue
    etype = catalog.resolve("credentials.refreshed")
    subs = await sim.subscriptions.matching(etype)
    due = time.time() - 10  # a backlog: every event was due in the past, one a second

    async def publish(seq: int) -> str:
        event = replace(catalog.build_event(etype, catalog.new_context(seq, now_utc())), run_id="run_x", seq=seq)
        await sim.engine.publish(event, subs, due=due + seq)
        return event.id

    ids = [await publish(0), await publish(1)]  # a full batch: sent at once, answered a second later
    ids.append(await publish(2))
    await sim.engine.close_batches("run_x")  # the run waits: the batch goes with its one event, due when it was
    ids += [await publish(3), await publish(4)]
    requests = await receiver.wait_for_async(3)
    assert [len(r.json()["events"]) for r in requests] == [2, 1, 2]
    assert receiver.event_ids() == ids
