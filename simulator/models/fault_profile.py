"""The frozen `FaultProfile` the fault injector reads: a `faults` mapping once checked and normalised
(`simulator.models.faults` builds it), each fault's setting in the one form the injector uses."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.scenarios.distributions import Distribution

DEFAULT_STALE_AGE = 600.0  # 10 minutes: well outside the usual 5-minute tolerance


@dataclass(frozen=True)
class Duplicate:
    probability: float
    copies: int = 1
    spacing: float = 1.0  # simulated seconds between copies


@dataclass(frozen=True)
class Stale:
    probability: float
    age: float = DEFAULT_STALE_AGE


@dataclass(frozen=True)
class Kinded:
    """A probability and the kinds of damage to choose from (one kind, or all of them for `any`)."""

    probability: float
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class FaultProfile:
    """The faults to inject into one subscription's deliveries; zero or None means off."""

    drop: float = 0.0
    duplicate: Duplicate | None = None
    reorder: int = 0
    delay: Distribution | None = None
    bad_signature: float = 0.0
    stale_timestamp: Stale | None = None
    malformed: Kinded | None = None
    schema_drift: Kinded | None = None
    burst: int = 0
