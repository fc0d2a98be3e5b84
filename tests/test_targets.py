"""Ad-hoc targets (`target` on an event or a run) in a long-running server: one subscription per URL for events,
and a run's own lane stopped once the run has settled, so neither piles up."""

from __future__ import annotations

from simulator.delivery import engine
from simulator.models.inputs import EventSpec, RunSpec, SubscriptionSpec
from simulator.signing import new_secret
from tests.conftest import until


async def ephemeral(sim) -> list:
    return [s for s in await sim.store.list_subscriptions() if s.ephemeral]


async def test_events_to_one_target_share_one_subscription(sim, make_receiver):
    first, second = make_receiver(), make_receiver()
    for _ in range(5):
        await sim.emit(EventSpec(type="token.created", target=first.url))
    await sim.emit(EventSpec(type="token.created", target=second.url))
    await first.wait_for_async(5, timeout=10)
    await second.wait_for_async(1, timeout=10)
    subs = await ephemeral(sim)
    assert sorted(s.url for s in subs) == sorted([first.url, second.url])
    assert all(s.disable_after == 0 for s in subs)  # like a run's target: never disabled
    assert len([lane for lane in sim.engine._lanes if lane in {s.id for s in subs}]) == 2


async def test_a_reset_forgets_the_target_subscription(sim, receiver):
    await sim.emit(EventSpec(type="token.created", target=receiver.url))
    await receiver.wait_for_async(1, timeout=10)
    await sim.reset()
    await sim.emit(EventSpec(type="token.created", target=receiver.url))
    await receiver.wait_for_async(2, timeout=10)
    assert len(await ephemeral(sim)) == 1


async def test_a_settled_run_stops_its_target_lane_and_a_redelivery_restarts_it(sim, receiver):
    runs = []
    for seed in (1, 2, 3):
        run = await sim.runs.start(
            RunSpec(scenario="basistheory-token-lifecycle", target=receiver.url, speed=0, seed=seed)
        )
        runs.append(await sim.runs.wait(run.id, timeout=30))
    assert [r.status for r in runs] == ["completed"] * 3
    subs = await ephemeral(sim)
    assert len(subs) == 3
    assert not {s.id for s in subs} & set(sim.engine._lanes)  # no lane left behind
    sent = len(receiver.requests)
    _, delivery = (await sim.store.list_deliveries(run_id=runs[0].id))[0]
    await sim.redeliver(delivery.id)
    await until(lambda: len(receiver.requests) == sent + 1, timeout=10, what="the redelivery")
    await sim.engine.settled(runs[0].id, timeout=10)
    assert (await sim.delivery(delivery.id)).attempts == 2


async def test_an_ad_hoc_targets_lane_with_nothing_to_send_is_stopped_and_starts_again(sim, receiver, monkeypatch):
    """`trigger --target` makes a subscription per call (a secret of its own each time): each kept a lane for good.
    A subscription of the user's keeps its lane."""
    await sim.engine.close()  # started again with the sweep's pace of a test
    monkeypatch.setattr(engine, "IDLE_TARGETS_EVERY", 0.05)
    await sim.engine.start()
    own = await sim.create_subscription(SubscriptionSpec(url=receiver.url, events=["basistheory:token.created"]))
    secrets = [new_secret("standard") for _ in range(3)]
    for secret in secrets:
        await sim.emit(EventSpec(type="token.created", target=receiver.url, signing="standard", secret=secret))
    await sim.emit(EventSpec(type="token.created"))  # to the user's subscription
    await receiver.wait_for_async(4, timeout=10)
    targets = {s.id for s in await ephemeral(sim)}
    assert len(targets) == 3
    await until(lambda: not targets & set(sim.engine._lanes), timeout=10, what="their lanes stopped")
    assert own.id in sim.engine._lanes
    await sim.emit(EventSpec(type="token.created", target=receiver.url, signing="standard", secret=secrets[0]))
    await receiver.wait_for_async(5, timeout=10)  # its lane started again, and stops again once done
    await until(lambda: not targets & set(sim.engine._lanes), timeout=10, what="its lane stopped again")
