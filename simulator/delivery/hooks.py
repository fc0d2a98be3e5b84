"""The points where fault injection plugs into delivery. The default injects nothing and holds nothing back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.delivery.job import Job
from simulator.models import Event, Subscription

# A subscription's own form of a body: what it is sent for these events, given the provider's envelope as
# rendered, or None to send that envelope. A provider API twin's own webhooks plug in here (Syncfy's V1 webhooks
# receive a flat notification, not the V3 envelope).
BodyForm = Callable[[Subscription, Sequence[Event], bytes], Awaitable[bytes | None]]


@dataclass(frozen=True)
class Signer:
    """What an attempt was signed with, and how to sign it again: an injector that changes the body or the
    timestamp re-signs, so the receiver sees exactly one thing wrong."""

    timestamp: int  # the attempt's Unix seconds, as signed
    sign: Callable[[bytes, int], dict[str, str]]  # every header for (body, timestamp), signature included


class FaultHooks:
    """No faults. A fault injector overrides these; each must be deterministic given the job's ids."""

    def on_publish(
        self, sub: Subscription, job: Job, faults: Mapping[str, Any] | None, seed: int | None = None
    ) -> list[Job]:
        """The jobs to persist for one new delivery: itself, possibly changed (dropped, delayed), plus any
        extra copies. `seed` is the run's. Anything injected is recorded in `job.faults`."""
        return [job]

    def on_committed(self, jobs: list[Job]) -> tuple[list[Job], list[Job]]:
        """For `jobs` just committed (none dropped): those to send as usual, and jobs held earlier that go now.
        The latter may sit behind what the lane has already read from the store, so it takes them directly."""
        return jobs, []

    def holds(self, job_id: str) -> bool:
        """Whether a job `on_publish` made is held back until a later commit or release."""
        return False

    def resumed(self, run_id: str, placed: Mapping[tuple[str, str, int], int]) -> None:
        """A run goes on in this process after another stopped: `placed` counts its deliveries the `reorder` and
        `burst` faults placed there, by (fault, subscription id, size), so its windows and groups go on."""

    def release(self, run_id: str | None, *, ended: bool = True) -> list[Job]:
        """Every committed job still held back for a run (or for all runs when None), to send now. `ended` False:
        the run goes on elsewhere, and its windows with it."""
        return []

    def refaulted(self, sub: Subscription) -> list[Job]:
        """A subscription was edited: what is held back of its deliveries outside a run under faults it no longer
        has, to send now."""
        return []

    def forget(self, subscription_id: str) -> None:
        """A subscription was removed: drop whatever is held for it (its deliveries stay in the store)."""

    def on_loaded(self, subscription_id: str, jobs: list[Job]) -> list[Job]:
        """Of `jobs` a lane read back from the store, those it may take: not those held back, nor those handed
        to it directly while the read ran."""
        return jobs

    def on_attempt(
        self, sub: Subscription, job: Job, body: bytes, headers: dict[str, str], signer: Signer | None = None
    ) -> tuple[bytes, dict[str, str], dict[str, Any] | None]:
        """The body and headers actually sent for this attempt, and what was injected into it."""
        return body, headers, None
