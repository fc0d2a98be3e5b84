"""A run's summary: what `webhook-sim run` prints and writes with `--report`."""

from __future__ import annotations

from typing import Any

from simulator.models import Run
from simulator.store import Store


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return round(sorted_values[index], 2)


async def run_report(store: Store, run: Run) -> dict[str, Any]:
    attempts, latencies = await store.run_attempt_stats(run.id)
    counts = run.counts
    # A delivery dropped on purpose (the `drop` fault) is the fault working, not a failure.
    failed = sum(n for status, n in counts.items() if status not in ("succeeded", "dropped"))
    return {
        "run": run.id,
        "scenario": run.scenario,
        "status": run.status,
        "error": run.error,
        "seed": run.spec.get("seed"),
        "speed": run.spec.get("speed"),
        "start_time": run.spec.get("start_time"),
        "events": run.events,
        "deliveries": sum(counts.values()),
        "succeeded": counts.get("succeeded", 0),
        "failed": failed,
        "by_status": dict(sorted(counts.items())),
        "attempts": attempts,
        "latency_ms": {f"p{q}": percentile(latencies, q) for q in (50, 95, 99)},
        "duration_s": round((run.finished_at or 0) - (run.started_at or 0), 3) if run.finished_at else None,
    }


def succeeded(report: dict[str, Any]) -> bool:
    """A run passes when it completed and every delivery succeeded."""
    return report["status"] == "completed" and report["failed"] == 0
