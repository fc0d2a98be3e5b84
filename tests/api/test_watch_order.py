"""The stream's changed deliveries come newest first in the order `GET /deliveries?order=newest` gives, across the
chunks they are read in: deliveries written together share their `created_at` to the millisecond, so an order by
that time mixed them up in a message of more than 500."""

from __future__ import annotations

from pathlib import Path

from simulator.core.simulator import Simulator
from simulator.core.watch import DeliveryWatch, Filters
from simulator.models.inputs import RetrySpec, RunSpec, SubscriptionSpec


async def test_a_burst_past_one_read_keeps_the_lists_order(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "many.yaml").write_text(
        "name: many\nprovider: basistheory\ndescription: x\nsteps:\n  - repeat: 1200\n    steps:\n"
        "      - emit: token.created\n"
    )
    sim = await Simulator.open(str(tmp_path / "sim.db"), scenario_dirs=[folder])
    try:
        # Nobody listens: all fail, each once (the retries of 1,200 cost 10,000 signed attempts and a minute of CPU),
        # and the subscription stays enabled: disabled after 5 dead, it would take none of the events after them.
        spec = SubscriptionSpec(url="http://127.0.0.1:9/x", retry=RetrySpec(delays=[]), disable_after=0)
        await sim.create_subscription(spec)
        run = await sim.runs.start(RunSpec(scenario="many", speed=0, seed=1))
        await sim.runs.wait(run.id)
        listed = [d.id for _, d in await sim.store.list_deliveries(newest_first=True, limit=5000)]
        assert len(listed) == 1200
        assert len({d.created_at for _, d in await sim.store.list_deliveries(limit=5000)}) < 1200  # ties exist
        with DeliveryWatch(sim.store, Filters()) as watch:
            found = await watch._matching(sorted(listed))  # in no order: as a set of changed ids
        assert [d.id for d in found] == listed
    finally:
        await sim.close()
