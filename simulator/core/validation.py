"""The checks a run must pass before it is recorded, shared by `POST /runs`, `POST /schedules` and `run`, so the
three refuse the same input with the same error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import FieldError, InvalidInput
from simulator.models.inputs import RunSpec
from simulator.models.records import Subscription
from simulator.scenarios import loader, runner
from simulator.scenarios.model import Emit, Scenario, walk

FaultCheck = Callable[[Mapping[str, Any], str], None]
SubscriptionLookup = Callable[[str], Awaitable[Subscription]]


@dataclass(frozen=True)
class ValidRun:
    """A run spec that passed every check: its scenario and its resolved parameters."""

    scenario: Scenario
    params: dict[str, Any]


async def validate_run(
    spec: RunSpec, *, scenario_dirs: Sequence[Path], check_faults: FaultCheck, subscription: SubscriptionLookup
) -> ValidRun:
    """Raise `InvalidInput` (or `NotFound` for a named subscription) for anything a run of `spec` would trip on."""
    scenario = loader.find(spec.scenario, scenario_dirs)
    params = resolve_params(scenario, spec.params)
    check_faults(spec.faults, "faults")
    check_scenario_faults(scenario, check_faults)
    for sub_id in spec.subscriptions or ():
        await subscription(sub_id)
    return ValidRun(scenario, params)


def resolve_params(scenario: Scenario, given: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return runner.resolve_params(scenario, given)
    except InvalidInput:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc), errors=[FieldError("params", str(exc))]) from None


def check_scenario_faults(scenario: Scenario, check_faults: FaultCheck) -> None:
    """The scenario file's own `faults:` blocks, checked before the run starts (errors name file and line)."""
    blocks = [(dict(scenario.faults), None)] + [
        (dict(s.faults), s.line) for s in walk(scenario.steps) if isinstance(s, Emit) and s.faults
    ]
    for faults, line in blocks:
        try:
            check_faults(faults, "faults")
        except InvalidInput as exc:
            errors = [FieldError(e.field, e.message, scenario.source, line) for e in exc.errors]
            raise InvalidInput(f"{scenario.source}: {exc.detail}", errors=errors) from None
