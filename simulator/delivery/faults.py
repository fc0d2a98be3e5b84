"""Fault injection: the failures a webhook consumer must survive, injected into real deliveries.

The faults a delivery gets are its subscription's `faults` overlaid by the publication's (scenario file, then
run, then step: the more specific wins, name by name). Every decision is a draw fixed by the run's seed, the
fault's name, the events (a run's by their type and place in the run, whatever its start time) and the copy
number (`simulator.ids.derived_fraction`), so the same seed injects the same faults into the same events.
Decisions are taken when the delivery is made and recorded in `job.faults` (the deliveries table's `faults`
column); what each attempt actually carried is recorded on the attempt.

- Per delivery, decided once: `drop`, `duplicate` (copies are rows `<msg>~dup<k>` sent as message `<msg>`,
  with the same body and signature inputs), `delay`, `reorder` and `burst` (held back, see `faults_hold`), and
  `schema_drift` (every attempt carries the same drifted body, as it would if the provider had changed it).
- On the first attempt only: `bad_signature`, `stale_timestamp`, `malformed`. They model a request damaged on
  its way; a consumer that rightly rejects it gets the provider's normal retry, intact, which must then be
  accepted (a consumer that marked the message id as seen before verifying it loses that event).

Where the emulation differs from a real provider: real providers never send these on purpose; each is the
closest honest imitation of what does reach consumers (network duplicates, replays, proxies that mangle
bodies, a provider's new field).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from simulator import catalog
from simulator.delivery import faults_body
from simulator.delivery.faults_hold import Holds
from simulator.delivery.faults_spec import FaultProfile, parse_cli_fault, parse_profile, validate
from simulator.delivery.hooks import FaultHooks, Signer
from simulator.delivery.job import COPY_MARK, Job, place
from simulator.errors import InvalidInput
from simulator.ids import derived_fraction
from simulator.models import Subscription
from simulator.scenarios import distributions
from simulator.signing import corrupt

__all__ = ["FaultInjector", "FaultProfile", "merge", "parse_cli_fault", "parse_profile", "validate"]

_NONE = FaultProfile()
_PROFILE_CACHE = 256
# The signing schemes with a timestamp in their signature (`webhook-timestamp`, the JWT's `iat`/`exp`).
_TIMESTAMPED = ("standard", "syncfy")


def merge(*layers: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`faults` mappings overlaid in order, later ones winning name by name; None when all are empty."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer or {})
    return merged or None


@dataclass(frozen=True)
class Draws:
    """The seeded draws for one delivery (or one duplicate copy of it) to one subscription."""

    seed: int | None
    subject: str  # the event ids the delivery carries
    copy: int = 0

    def fraction(self, fault: str, *extra: object) -> float:
        return derived_fraction(self.seed, fault, self.subject, self.copy, *extra)

    def hit(self, fault: str, probability: float) -> bool:
        return probability > 0 and self.fraction(fault) < probability

    def choice(self, fault: str, options: tuple[str, ...]) -> str:
        return options[int(self.fraction(fault, "kind") * len(options))]

    def rng(self, fault: str, *extra: object) -> random.Random:
        # A str seed is hashed with SHA-512 by `random`: stable across processes, unlike hash().
        return random.Random("\x1f".join(map(str, (self.seed, fault, self.subject, self.copy, *extra))))


def _real(seconds: float, speed: float) -> float:
    """Simulated seconds as real ones at `speed` (0: no waiting at all)."""
    return seconds / speed if speed > 0 else 0.0


class FaultInjector(FaultHooks):
    """Injects the faults of `faults` mappings into deliveries; see the module docstring."""

    def __init__(self) -> None:
        self._profiles: dict[str, FaultProfile] = {}
        self._holds = Holds()

    @staticmethod
    def validate(faults: Mapping[str, Any] | None, field: str = "faults") -> None:
        """Raise `InvalidInput` naming `{field}.{fault}` for anything wrong in a `faults` mapping."""
        validate(faults, field)

    def profile(self, sub_faults: Mapping[str, Any] | None, faults: Mapping[str, Any] | None) -> FaultProfile:
        """The profile of a subscription's faults overlaid by a publication's (parsed once, then cached)."""
        merged = merge(sub_faults, faults)
        if merged is None:
            return _NONE
        key = json.dumps(merged, sort_keys=True, default=str)
        profile = self._profiles.get(key)
        if profile is None:
            if len(self._profiles) >= _PROFILE_CACHE:
                self._profiles.clear()
            profile = self._profiles[key] = parse_profile(merged)
        return profile

    # -- publishing -----------------------------------------------------------------------------------------

    def on_publish(
        self, sub: Subscription, job: Job, faults: Mapping[str, Any] | None, seed: int | None = None
    ) -> list[Job]:
        profile = self.profile(sub.faults, faults)
        if profile.reorder and sub.strict_order:
            # Order is what a strict subscription keeps: no window is drawn, so none is recorded as sent.
            profile = replace(profile, reorder=0)
        if profile == _NONE:
            return [job]
        # Keyed on the run's seed and the events, not on the subscription: a receiver on another port (a test's
        # ephemeral one) still gets the same faults from the same seed. A run's events by their place in it, not
        # their ids: those change with the start time (by default, now), and the same seed replays its faults.
        draws = Draws(seed, ",".join(place(e) for e in job.events))
        if draws.hit("drop", profile.drop):
            job.status, job.finished_at, job.faults = "dropped", job.due, {"drop": True}
            return [job]
        record: dict[str, Any] = {}
        delay = self._delay(profile, draws)
        if delay:
            record["delay"] = delay
            job.sim_offset += delay  # delivered later in the simulated timeline too
            job.due += _real(delay, job.speed)
        drift = self._drift(profile, draws, job)
        if drift is not None:
            record["schema_drift"] = drift
        scheme = sub.signing or catalog.get_provider(job.events[0].provider).native_signing
        record.update(_first_attempt(profile, draws, scheme, job.events[0].provider))
        copies = self._copies(profile, draws, job, scheme, drift)
        if copies:
            record["duplicate"] = {"copies": len(copies)}
        if profile.reorder or profile.burst:
            record.update(self._hold(profile, draws, job, copies, delay))
        job.faults = record or None
        return [job, *copies]

    @staticmethod
    def _delay(profile: FaultProfile, draws: Draws) -> float:
        if profile.delay is None:
            return 0.0
        return round(distributions.draw(profile.delay, draws.rng("delay")), 3)

    @staticmethod
    def _drift(profile: FaultProfile, draws: Draws, job: Job) -> dict[str, Any] | None:
        drift = profile.schema_drift
        if drift is None or not draws.hit("schema_drift", drift.probability):
            return None
        return faults_body.plan_drift(job.events, job.envelope_id, drift.kinds, draws.rng("schema_drift"))

    @staticmethod
    def _copies(profile: FaultProfile, draws: Draws, job: Job, scheme: str, drift: dict[str, Any] | None) -> list[Job]:
        dup = profile.duplicate
        if dup is None or not draws.hit("duplicate", dup.probability):
            return []
        copies = []
        for k in range(1, dup.copies + 1):
            record: dict[str, Any] = {"duplicate": {"copy": k, "of": job.id, "after": k * dup.spacing}}
            if drift is not None:
                record["schema_drift"] = drift  # the same body as the original
            record.update(_first_attempt(profile, replace(draws, copy=k), scheme, job.events[0].provider))
            copies.append(
                replace(
                    job,
                    id=f"{job.id}{COPY_MARK}{k}",
                    faults=record,
                    extra={},
                    due=job.due + _real(k * dup.spacing, job.speed),
                )
            )
        return copies

    def _hold(self, profile: FaultProfile, draws: Draws, job: Job, copies: list[Job], delay: float) -> dict[str, Any]:
        spacing = profile.duplicate.spacing if profile.duplicate else 0.0

        def shuffle(size: int, window: int) -> list[int]:
            order = list(range(size))
            # One draw per window, not per event: from the seed, the subscription's URL and the window's index.
            Draws(draws.seed, f"window {window}").rng("reorder", size).shuffle(order)
            return order

        place = self._holds.hold(
            job,
            copies,
            reorder=profile.reorder,
            burst=profile.burst,
            delay=_real(delay, job.speed),
            spacing=_real(spacing, job.speed),
            shuffle=shuffle,
        )
        record: dict[str, Any] = {}
        if profile.reorder:
            record["reorder"] = {
                "window": profile.reorder,
                "index": place.window,
                "position": place.position,
                "rank": place.rank,
            }
        if profile.burst:
            record["burst"] = {"size": profile.burst, "group": place.group}
        return record

    def on_committed(self, jobs: list[Job]) -> tuple[list[Job], list[Job]]:
        return self._holds.committed(jobs) if len(self._holds) else (jobs, [])

    def holds(self, job_id: str) -> bool:
        return self._holds.holding(job_id)

    def resumed(self, run_id: str, placed: Mapping[tuple[str, str, int], int]) -> None:
        self._holds.resume(run_id, placed)

    def release(self, run_id: str | None, *, ended: bool = True) -> list[Job]:
        return self._holds.release(run_id, ended=ended)

    def on_loaded(self, subscription_id: str, jobs: list[Job]) -> list[Job]:
        return self._holds.loaded(subscription_id, jobs)

    def forget(self, subscription_id: str) -> None:
        self._holds.forget(subscription_id)

    def refaulted(self, sub: Subscription) -> list[Job]:
        profile = self.profile(sub.faults, None)
        reorder = 0 if sub.strict_order else profile.reorder  # as `on_publish` draws them
        return self._holds.let_go(sub.id, {"reorder": reorder, "burst": profile.burst})

    # -- attempts -------------------------------------------------------------------------------------------

    def on_attempt(
        self, sub: Subscription, job: Job, body: bytes, headers: dict[str, str], signer: Signer | None = None
    ) -> tuple[bytes, dict[str, str], dict[str, Any] | None]:
        plan = job.faults
        if not plan:
            return body, headers, None
        first = job.attempts == 1  # see the module docstring: damage is for the first attempt only
        injected: dict[str, Any] = {}
        timestamp = signer.timestamp if signer is not None else None
        body, timestamp = _reshape(plan, first, job.events[0].provider, body, timestamp, injected)
        if injected and signer is not None and timestamp is not None:
            headers = _resign(signer, body, timestamp, headers)
        if first and plan.get("malformed", {}).get("kind") == "content_type":
            # In place of the type the request had, however its name is written (a subscription's own
            # `content-type` replaces the sender's): added beside it, the request carried both.
            headers = {name: value for name, value in headers.items() if name.lower() != "content-type"}
            headers["Content-Type"] = "text/plain"
            injected["malformed"] = {"kind": "content_type"}
        if first and plan.get("bad_signature"):
            headers = corrupt(headers)
            injected["bad_signature"] = True
        return body, headers, injected or None


def _reshape(
    plan: dict[str, Any], first: bool, provider: str, body: bytes, timestamp: int | None, injected: dict[str, Any]
) -> tuple[bytes, int | None]:
    """The body and signing time after the faults that change them (noted in `injected`)."""
    if "schema_drift" in plan:
        body = faults_body.apply_drift(body, provider, plan["schema_drift"])
        injected["schema_drift"] = plan["schema_drift"]
    if first and "stale_timestamp" in plan:
        age = plan["stale_timestamp"]["age"]
        body = faults_body.stale_body(body, provider, age) or body
        # Whole seconds in a header: rounded up, so it is at least `age` old (cut, `500ms` changed nothing).
        timestamp = None if timestamp is None else timestamp - math.ceil(age)
        injected["stale_timestamp"] = plan["stale_timestamp"]
    kind = plan["malformed"]["kind"] if first and "malformed" in plan else None
    if kind in ("truncated", "empty"):
        whole = len(body)
        body = b"" if kind == "empty" else faults_body.truncate(body)
        injected["malformed"] = {"kind": kind, "length": len(body), "of": whole}
    return body, timestamp


def _first_attempt(profile: FaultProfile, draws: Draws, scheme: str, provider: str) -> dict[str, Any]:
    """The faults the first attempt of one delivery (or copy) will carry."""
    out: dict[str, Any] = {}
    if scheme != "none" and draws.hit("bad_signature", profile.bad_signature):
        out["bad_signature"] = True
    stale = profile.stale_timestamp
    # Only where there is a time to make stale: a timestamped signature, or Basis Theory's `delivered_at`.
    has_time = scheme in _TIMESTAMPED or provider == "basistheory"
    if stale and has_time and draws.hit("stale_timestamp", stale.probability):
        out["stale_timestamp"] = {"age": stale.age}
    malformed = profile.malformed
    if malformed and draws.hit("malformed", malformed.probability):
        out["malformed"] = {"kind": draws.choice("malformed", malformed.kinds)}
    return out


def _resign(signer: Signer, body: bytes, timestamp: int, headers: dict[str, str]) -> dict[str, str]:
    """`headers` re-signed for `body` at `timestamp`; unchanged if the scheme cannot sign it (a Basis Theory
    signature over a body that is no longer JSON), which leaves the signature as the only other thing wrong."""
    try:
        return signer.sign(body, timestamp)
    except InvalidInput:
        return headers
