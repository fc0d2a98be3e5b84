"""A run's stored record (its `spec`): what starting a run writes, and what playing it takes (`Play`), from the
API's spec or read back from the record by a process that sends, for a run one that does not send started."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.core.validation import find_scenario
from simulator.credentials import mask_url
from simulator.models import Subscription
from simulator.models.inputs import RunSpec
from simulator.scenarios.model import Scenario


@dataclass(frozen=True)
class Play:
    """What playing a run takes, from the API's spec or from the record a process that does not send left."""

    scenario: Scenario
    params: dict[str, Any]
    seed: int
    speed: float
    start: datetime
    faults: dict[str, Any] | None
    subs: list[Subscription] | None
    adhoc: bool  # the subscriptions are the run's own target's: retired when the run has settled
    # Whether another process may go on with it when the one playing it stops (see `run_resume`): not a run that
    # `webhook-sim run` plays, which reports on it and ends with it.
    resumable: bool = False


def record_of(
    spec: RunSpec,
    scenario: Scenario,
    params: dict[str, Any],
    seed: int,
    start: datetime,
    subs: list[Subscription] | None,
    resumable: bool,
) -> dict[str, Any]:
    """The record of a run of `spec`, validated into `scenario` and `params`, with its seed, start and targets."""
    return {
        "resumable": resumable,
        "scenario": scenario.name,
        "params": params,
        "seed": seed,
        "speed": spec.speed,
        "start_time": start.isoformat(),
        # `[]` (none) is not None (every matching one): read back as None, a resumed run went to every one.
        "subscriptions": [s.id for s in subs] if subs is not None else None,
        "target": mask_url(spec.target) if spec.target else None,  # shown only: the password is not kept
        "faults": spec.faults,
        "source": scenario.source,
    }


async def play_of(
    record: dict[str, Any],
    scenario_dirs: Sequence[Path],
    subscription: Callable[[str], Awaitable[Subscription | None]],
) -> Play:
    """What playing the run of `record` takes: its scenario found in `scenario_dirs` (NotFound when none has that
    name), and those of its subscriptions `subscription` still finds."""
    # Reading and checking every scenario file takes a moment: not on the loop that sends the other runs.
    scenario = await find_scenario(record["scenario"], scenario_dirs)
    ids = record.get("subscriptions")
    subs = None if ids is None else [s for i in ids if (s := await subscription(i)) is not None]
    start = datetime.fromisoformat(record["start_time"])
    adhoc = record.get("target") is not None
    faults = record.get("faults") or None
    return Play(
        scenario,
        dict(record["params"]),
        int(record["seed"]),
        float(record["speed"]),
        start,
        faults,
        subs,
        adhoc,
        resumable=resumable(record),
    )


def resumable(record: dict[str, Any]) -> bool:
    """Whether the run of `record` goes on elsewhere when its process stops (a record from before runs did: no)."""
    return record.get("resumable") is True
