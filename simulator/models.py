"""Frozen records that cross module boundaries: events, retry policies, subscriptions, deliveries, attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SigningScheme = Literal["standard", "basistheory", "syncfy", "none"]
SIGNING_SCHEMES: tuple[str, ...] = ("standard", "basistheory", "syncfy", "none")
DeliveryStatus = Literal["pending", "succeeded", "failed", "dead", "dropped"]
TERMINAL_STATUSES = frozenset({"succeeded", "dead", "dropped"})


@dataclass(frozen=True)
class Event:
    """One provider event, as generated: what subscribers receive, minus the per-POST envelope.

    `data` is the provider's per-event object (Syncfy: `{"header", "payload"}`; Basis Theory: the `event`
    object) and `json` its serialisation, computed once so every delivery and retry sends the same bytes.
    """

    id: str
    provider: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    json: str
    envelope_id: str | None = None
    seq: int = 0
    run_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.type}"


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long apart a failed delivery is retried (simulated seconds, before speed)."""

    delays: tuple[float, ...]
    jitter: float = 0.2

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def delay(self, retry_number: int, draw: float) -> float:
        """The wait before retry `retry_number` (1-based); `draw` in [0, 1) places it within the jitter band."""
        base = self.delays[retry_number - 1]
        return base * (1 - self.jitter + 2 * self.jitter * draw)

    @classmethod
    def exponential(cls, first: float, retries: int, factor: float = 2.0, jitter: float = 0.2) -> RetryPolicy:
        return cls(tuple(first * factor**i for i in range(retries)), jitter)

    def as_dict(self) -> dict[str, Any]:
        return {"delays": list(self.delays), "jitter": self.jitter}


@dataclass(frozen=True)
class BuildContext:
    """What an event builder may read: the run's world, its seeded randomness and the event's time."""

    world: Any
    rng: random.Random
    faker: Any
    now: datetime
    params: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None
