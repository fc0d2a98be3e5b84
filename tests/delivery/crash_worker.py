"""A simulator process for the crash tests: `fresh URL N` subscribes URL and emits N events, then serves until
killed; `batch URL N` does the same with N Syncfy events into a batch of 10, left open; `resume` only reopens
the store, which resumes every unfinished delivery."""

from __future__ import annotations

import asyncio
import sys

from simulator.core.simulator import Simulator
from simulator.delivery import publishing
from simulator.models.inputs import EventSpec, SubscriptionSpec


async def main(db: str, mode: str, *args: str) -> None:
    sim = await Simulator.open(db)
    if mode == "fresh":
        url, count = args[0], int(args[1])
        await sim.create_subscription(
            SubscriptionSpec(url=url, signing="standard", max_in_flight=8, headers={"X-Process": "first"})
        )
        for _ in range(count):
            await sim.emit(EventSpec(type="token.created"))
    elif mode == "batch":
        url, count = args[0], int(args[1])
        publishing.RUNLESS_WINDOW = 3600.0  # the batch must still be open when the process is killed
        await sim.create_subscription(SubscriptionSpec(url=url, batch=10, events=["syncfy:*"]))
        for _ in range(count):
            await sim.emit(EventSpec(type="credentials.refreshed"))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
