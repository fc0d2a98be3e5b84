"""The scenario records (frozen) and the `${param}` templates their values may hold.

A loaded `Scenario` is already validated: every emit names a registered event type of its provider (by its
canonical name), every plain duration parsed, every `${param}` reference declared. Values that depend on the
run's parameters stay templates (strings) until `simulator.scenarios.runner` binds them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.scenarios.distributions import Distribution

# `${name}`; `$${name}` is the escape for a literal `${name}`.
_TEMPLATE = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

# Where a value sits in a scenario document: mapping keys and list indexes, outermost first.
FieldPath = tuple[str | int, ...]


def field_path(path: FieldPath) -> str:
    """The path as errors spell it: `steps[2].wait.uniform[1]`, `steps[0].with["payload.is_executing"]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


@dataclass(frozen=True)
class Param:
    """A declared parameter: its default (whose type run values are coerced to) and what it means."""

    name: str
    default: str | int | float | bool | None
    description: str = ""


@dataclass(frozen=True)
class Emit:
    """Emit one event of `type` (the canonical name, within the scenario's provider).

    `ref` names the entity the event touches (`BuildContext.ref`); `overrides` are dotted paths set on the built
    event, values possibly holding `${param}` templates, each checked against the event's JSON Schema unless
    `unchecked`; `faults` is kept as written for fault injection.
    """

    type: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    ref: str | None = None
    faults: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None
    unchecked: bool = False


@dataclass(frozen=True)
class Wait:
    distribution: Distribution
    line: int | None = None


@dataclass(frozen=True)
class Repeat:
    """Run `steps` `count` times, or again and again while less than `for_seconds` has elapsed since the first
    iteration began. Exactly one of the two is set; either may still be a `${param}` template."""

    count: int | str | None = None
    for_seconds: float | str | None = None
    steps: tuple[Step, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Branch:
    weight: float
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Choose:
    """Run one of `branches`, picked at random in proportion to their weights."""

    branches: tuple[Branch, ...]
    line: int | None = None


@dataclass(frozen=True)
class Parallel:
    """Run every branch from the same moment; their events interleave by simulated time."""

    branches: tuple[tuple[Step, ...], ...]
    line: int | None = None


Step = Emit | Wait | Repeat | Choose | Parallel


@dataclass(frozen=True)
class Scenario:
    name: str
    provider: str
    description: str
    observe: str
    params: Mapping[str, Param]
    steps: tuple[Step, ...]
    faults: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<string>"

    def event_types(self) -> tuple[str, ...]:
        """Every event type this scenario can emit (canonical names), in order of first appearance."""
        return tuple(dict.fromkeys(step.type for step in walk(self.steps) if isinstance(step, Emit)))

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description for listings (`scenarios`, `GET /scenarios`)."""
        return {
            "name": self.name,
            "provider": self.provider,
            "description": self.description,
            "observe": self.observe,
            "source": self.source,
            "params": {p.name: {"default": p.default, "description": p.description} for p in self.params.values()},
            "event_types": list(self.event_types()),
        }


def walk(steps: tuple[Step, ...]) -> Iterator[Step]:
    """Every step, depth first, including those inside repeat, choose and parallel."""
    for step in steps:
        yield step
        if isinstance(step, Repeat):
            yield from walk(step.steps)
        elif isinstance(step, Choose):
            for branch in step.branches:
                yield from walk(branch.steps)
        elif isinstance(step, Parallel):
            for steps_ in step.branches:
                yield from walk(steps_)


def walk_paths(steps: tuple[Step | None, ...], path: FieldPath = ("steps",)) -> Iterator[tuple[FieldPath, Step]]:
    """Every step with its path in the document (`("steps", 2, "choose", 0, "steps", 1)`), depth first; None
    (a step the loader could not build) is skipped."""
    for i, step in enumerate(steps):
        here = (*path, i)
        if step is None:
            continue
        yield here, step
        for inner_path, inner in inner_steps(step, here):
            yield from walk_paths(inner, inner_path)


def inner_steps(step: Step, here: FieldPath) -> list[tuple[FieldPath, tuple[Step, ...]]]:
    """The step lists directly inside `step` (at `here`), each with its path: a repeat's, each branch's."""
    if isinstance(step, Repeat):
        return [((*here, "steps"), step.steps)]
    if isinstance(step, Choose):
        return [((*here, "choose", j, "steps"), b.steps) for j, b in enumerate(step.branches)]
    if isinstance(step, Parallel):
        return [((*here, "parallel", j, "steps"), b) for j, b in enumerate(step.branches)]
    return []


def references(value: Any) -> Iterator[str]:
    """The parameter names `${...}` references in `value` (strings, and strings nested in lists and dicts)."""
    if isinstance(value, str):
        for match in _TEMPLATE.finditer(value):
            if not match.group(1):
                yield match.group(2)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def substitute(value: Any, params: Mapping[str, Any]) -> Any:
    """`value` with `${name}` replaced by the parameter's value; always a fresh copy of lists and dicts.

    A string that is exactly `${name}` becomes the parameter's typed value; otherwise each reference is
    interpolated as text (`null` for None, `true`/`false` for booleans). `$${name}` is a literal `${name}`.
    """
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value)
        if whole and not whole.group(1):
            return params[whole.group(2)]
        return _TEMPLATE.sub(lambda m: m.group(0)[1:] if m.group(1) else _text(params[m.group(2)]), value)
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
