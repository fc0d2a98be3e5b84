"""Payload generation alone: bodies per second per provider and across the whole catalog, on one core."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

from simulator import catalog


def bodies_per_second(types: list[catalog.EventType], seconds: float = 2.0) -> float:
    ctx = catalog.new_context(42, catalog.SAMPLE_TIME)
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    now = catalog.SAMPLE_TIME
    while time.perf_counter() < deadline:
        for etype in types:
            now += timedelta(milliseconds=7)
            event = catalog.build_event(etype, replace(ctx, now=now))
            catalog.render([event])
            count += 1
    return count / (time.perf_counter() - started)


def measure(seconds: float = 2.0) -> dict[str, float]:
    out = {p.name: bodies_per_second(catalog.event_types(p.name), seconds) for p in catalog.providers()}
    out["catalog mix"] = bodies_per_second(catalog.event_types(), seconds)
    return out


if __name__ == "__main__":
    for name, rate in measure().items():
        print(f"{name:<14} {rate:>10,.0f} bodies/s")
