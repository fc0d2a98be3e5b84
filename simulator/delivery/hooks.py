"""The points where fault injection plugs into delivery. The default injects nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.delivery.job import Job
from simulator.models import Subscription


class FaultHooks:
    """No faults. A fault injector overrides these; each must be deterministic given the job's ids."""

    def on_publish(self, sub: Subscription, job: Job, faults: Mapping[str, Any] | None) -> list[Job]:
        """The jobs to persist for one new delivery: itself, possibly changed (dropped, delayed), plus any
        extra copies. Anything injected is recorded in `job.faults`."""
        return [job]

    def on_attempt(self, sub: Subscription, job: Job, body: bytes,
                   headers: dict[str, str]) -> tuple[bytes, dict[str, str], dict[str, Any] | None]:
        """The body and headers actually sent for this attempt, and what was injected into it."""
        return body, headers, None
