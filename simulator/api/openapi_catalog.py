"""The parts of the OpenAPI document that the event catalog and the scenario folders decide: which event types,
providers and filters exist, what each event type's `overrides` may set, what each scenario's `params` take. The
server checks these against the same catalog and scenarios, so the document states what the server enforces.

A parameter is typed as its default (JSON bodies: `typed_params` in `simulator.core.validation`), and where a
step uses it whole (`repeat: "${n}"`, `wait: "${gap}"`) as that step needs: a count, a (positive) duration. A
count's maximum is where the server starts refusing it, the other parameters at their defaults: past it the
timeline could pass the year 9999; so is a duration's (`openapi_durations`). Uses inside a longer text, in
`with:` overrides or tying two parameters (`uniform: [${a}, ${b}]`), and parameters too long only together, are
checked by the server when the run is asked for, and not stated here.

An override's path and value are checked against the event's JSON Schema (`simulator.overrides`). The document
lists, per provider, the paths every one of its event types has, that lead through required, non-null objects to
a plain value (a string, a number, a boolean, an enum): any value their schema allows is accepted. Each type takes
more (its own fields, `GET /events/{type}/schema`), but a list of them per type made the document, and every
client generating requests from it, several times larger; into lists, maps or whole objects, whether a path fits
depends on the event built, so the document does not promise those.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from simulator import catalog
from simulator.api import openapi_durations
from simulator.models import formats
from simulator.scenarios import distributions, runner
from simulator.scenarios.model import Repeat, Scenario, Step, Wait, walk

Schema = dict[str, Any]
_COUNTS = 10**300  # a count past every bound: a repeat of steps that take no time never runs out of room
_SCALARS = {"string", "integer", "number", "boolean", "null"}
# Keywords that tie a node's fields to each other: below them a path's value alone does not decide.
_CHECKED_FORMATS = frozenset(Draft202012Validator.FORMAT_CHECKER.checkers)
_ENTANGLED = ("oneOf", "anyOf", "allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas")


def event_type_spellings() -> list[str]:
    """Every spelling of an event type the API accepts: `provider:type`, the bare type, each alias."""
    return sorted(
        {
            spelling
            for e in catalog.event_types()
            for name in (e.name, *e.aliases)
            for spelling in (name, f"{e.provider}:{name}")
        }
    )


def event_type_schema() -> Schema:
    return {"type": "string", "enum": event_type_spellings()}


def event_type_keys() -> list[str]:
    """The cursors the event types' list gives: their keys (`basistheory:token.created`)."""
    return sorted(e.key for e in catalog.event_types())


def provider_schema() -> Schema:
    return {"type": "string", "enum": sorted(p.name for p in catalog.providers())}


def filter_spellings() -> list[str]:
    """Subscription filters that select some event type: every spelling of a type, `*`, `provider:*`, and the
    globs of a dotted prefix (`token.*`, `basistheory:token.*`). (Any other glob that matches a type, such as
    `*.created`, is accepted too.)"""
    out = {"*", *event_type_spellings(), *(f"{p.name}:*" for p in catalog.providers())}
    for e in catalog.event_types():
        for name in (e.name, *e.aliases):
            parts = name.split(".")
            for i in range(1, len(parts)):
                prefix = ".".join(parts[:i]) + ".*"
                out.update({prefix, f"{e.provider}:{prefix}"})
    return sorted(out)


@cache
def override_branches() -> list[Schema]:
    """One branch per provider for EventSpec's `oneOf`: its event types' spellings, and the overrides every one
    of its event types takes (the envelope's fields: ids, times; each type has more, see its JSON Schema)."""
    branches = []
    for provider in catalog.providers():
        types = list(catalog.event_types(provider.name))
        names = sorted({n for e in types for name in (e.name, *e.aliases) for n in (name, f"{e.provider}:{name}")})
        every = [override_paths(e) for e in types]
        common = {
            path: schema for path, schema in every[0].items() if all(other.get(path) == schema for other in every[1:])
        }
        branch: Schema = {
            "title": provider.name,
            "properties": {
                "type": {"enum": names},
                "overrides": {"type": "object", "additionalProperties": False, "properties": common},
            },
        }
        if provider.name == "basistheory":
            branch["anyOf"] = NATIVE_SECRET
        branches.append(branch)
    return branches


def override_paths(etype: catalog.EventType) -> dict[str, Schema]:
    """The dotted paths of `etype`'s event (the per-event object) that reach a plain value through required,
    non-null objects, each with the schema of its value."""
    provider = catalog.get_provider(etype.provider)
    root = provider.schema(etype)
    node: Schema = root
    for part in provider.event_path:
        here = _resolved(node, root)
        node = here["items"] if part.isdigit() else here["properties"][part]
    return dict(sorted(_leaves(node, root, ())))


def _leaves(node: Schema, root: Schema, path: tuple[str, ...]) -> list[tuple[str, Schema]]:
    node = _resolved(node, root)
    if any(k in node for k in _ENTANGLED):
        return []
    kind = node.get("type")
    if kind == "object":
        required = set(node.get("required", ()))
        return [
            leaf
            for name, sub in node.get("properties", {}).items()
            if name in required and "." not in name and not name.isdigit()
            for leaf in _leaves(sub, root, (*path, name))
        ]
    kinds = set(kind) if isinstance(kind, list) else {kind}
    plain = (kind is not None and kinds <= _SCALARS) or "enum" in node or "const" in node
    return [(".".join(path), _inlined(node, root))] if plain and path else []


def _resolved(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _inlined(node: Any, root: Schema) -> Any:
    """`node` with its references resolved, and without the `format`s the server's validator does not check
    (`date-time`, without its optional dependency): the document states what is enforced."""
    if isinstance(node, dict):
        return {
            k: _inlined(v, root)
            for k, v in _resolved(node, root).items()
            if k not in ("$schema", "$id") and not (k == "format" and v not in _CHECKED_FORMATS)
        }
    if isinstance(node, list):
        return [_inlined(v, root) for v in node]
    return node


# --- runs: what each scenario's parameters take -------------------------------------------------------------

# A duration as a scenario parameter: seconds, or a number and a unit (the ASCII spellings of
# `simulator.timeutil.parse_duration`); at most 15 digits, so it is always a finite number of seconds.
_DURATION = r"^[0-9]{1,15}(?:\.[0-9]{1,9})?(?:ms|s|m|h|d)?$"
_POSITIVE_DURATION = (
    r"^(?:[0-9]{0,14}[1-9][0-9]{0,14}(?:\.[0-9]{1,9})?|[0-9]{1,15}\.[0-9]{0,8}[1-9][0-9]{0,8})(?:ms|s|m|h|d)?$"
)
_BY_DEFAULT: dict[type, Schema] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
}


def scenario_rules(scenarios: Mapping[str, Scenario], *, schedule: bool = False) -> Schema:
    """For a run's body (or a `schedule`'s): each known scenario with the parameters it declares (typed as its
    defaults, and as the steps that use them need) and, for Syncfy's, the start times its ids hold; or any other
    name (answered 404)."""
    alike: dict[str, tuple[list[str], Schema, str]] = {}  # scenarios that take the same fields share a branch
    for name, scenario in sorted(scenarios.items()):
        fields: Schema = {"params": params_schema(scenario)}
        if scenario.provider == "syncfy":  # its ids hold the times of 1970 to 2106
            fields["start_time"] = {"type": ["string", "null"], "pattern": formats.SYNCFY_DATE_TIME}
            if schedule:  # a one-off's run starts at its `at` (`core.validation.check_syncfy_times`)
                fields["at"] = {"type": ["string", "null"], "pattern": formats.SYNCFY_DATE_TIME}
        key = json.dumps([scenario.provider, fields], sort_keys=True)
        alike.setdefault(key, ([], fields, scenario.provider))[0].append(name)
    branches: list[Schema] = []
    for names, fields, provider in alike.values():
        branch: Schema = {"properties": {"scenario": {"enum": names}, **fields}}
        if schedule and "start_time" in fields:
            branch["anyOf"] = SYNCFY_SCHEDULE_START
        if provider == "basistheory":
            branch["anyOf"] = NATIVE_SECRET
        branches.append(branch)
    branches.append({"title": "(unknown)", "properties": {"scenario": {"not": {"enum": sorted(scenarios)}}}})
    return {"oneOf": branches}


# A Basis Theory event for a `target` is signed with the provider's key, which takes no secret: a `secret` there
# needs a `signing` of its own (`models.target_rules.check_native_secret`).
NATIVE_SECRET: list[Schema] = [
    {"properties": {"target": {"type": "null"}}},
    {"properties": {"secret": {"type": "null"}}},
    {"required": ["signing"], "properties": {"signing": {"not": {"type": "null"}}}},
]

# A Syncfy schedule starting in its ids' last ten years (by its `start_time`, or a one-off's `at`) needs a seed
# (`formats.SYNCFY_UNSEEDED_DATE_TIME`).
_UNSEEDED: Schema = {"type": ["string", "null"], "pattern": formats.SYNCFY_UNSEEDED_DATE_TIME}
SYNCFY_SCHEDULE_START: list[Schema] = [
    {"required": ["seed"], "properties": {"seed": {"type": "integer"}}},
    {"properties": {"start_time": _UNSEEDED, "at": _UNSEEDED}},
]


def params_schema(scenario: Scenario) -> Schema:
    uses = _uses(scenario.steps)
    properties = {name: _param_schema(param.default, uses.get(name, set())) for name, param in scenario.params.items()}
    for name, words in catalog.get_provider(scenario.provider).choices.items():
        if name in properties:  # read as text, one of the words in any case (`Production` too)
            properties[name] = {"type": "string", "pattern": f"^(?:{'|'.join(map(formats.any_case, words))})$"}
    for name, schema in properties.items():
        if schema.get("type") == "integer" and "count" in uses.get(name, set()):
            top = count_maximum(scenario, name)
            if top is not None:
                schema["maximum"] = top
        used = uses.get(name, set())
        if used & {"duration", "positive duration"} and "count" not in used:
            _duration_maximum(schema, openapi_durations.maximum_ms(scenario, name), "positive duration" in used)
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _duration_maximum(schema: Schema, most_ms: int | None, positive: bool) -> None:
    """A duration parameter held to the longest the server takes (`openapi_durations`)."""
    if most_ms is None:
        return
    if schema.get("type") == "string":
        schema["pattern"] = openapi_durations.pattern(most_ms, positive=positive)
        schema["description"] = f"At most {most_ms // 1000:,} s: longer, the timeline could pass the year 9999."
    elif schema.get("type") in ("number", "integer"):
        schema["maximum"] = most_ms / 1000 if schema["type"] == "number" else most_ms // 1000


def count_maximum(scenario: Scenario, name: str) -> int | None:
    """The largest integer parameter `name`, a repeat count, may be (the others at their defaults) before the
    server refuses it: a timeline that could pass the year 9999, or too many silent steps. None where any count
    fits, or where even the default does not (a file the loader reports)."""

    def fits(count: int) -> bool:
        values = {n: p.default for n, p in scenario.params.items()} | {name: count}
        return not runner.bind_problems(scenario.steps, values)

    low = scenario.params[name].default
    if not isinstance(low, int) or low < 0 or not fits(low) or fits(_COUNTS):
        return None
    # About 30 doublings to hourly repeats' 8e7.
    return openapi_durations.largest_that_fits(fits, low, max(low, 1) * 2)


def _param_schema(default: Any, uses: set[str]) -> Schema:
    schema = dict(_BY_DEFAULT.get(type(default), {}))
    kind = schema.get("type")
    if "count" in uses:
        schema.update({"type": "integer", "minimum": 0} if kind != "string" else {"pattern": "^[0-9]{1,15}$"})
    if uses & {"duration", "positive duration"}:
        positive = "positive duration" in uses
        if kind == "string":
            schema["pattern"] = _POSITIVE_DURATION if positive else _DURATION
        else:
            schema.update({"exclusiveMinimum": 0} if positive else {"minimum": 0})
    return schema


def _uses(steps: Iterable[Step]) -> dict[str, set[str]]:
    """How each parameter is used where a step names it whole (`"${name}"`): as a repeat count, a duration, or
    a duration that must be positive."""
    uses: dict[str, set[str]] = {}

    def note(value: Any, use: str) -> None:
        if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
            uses.setdefault(value[2:-1], set()).add(use)

    for step in walk(tuple(steps)):
        if isinstance(step, Repeat):
            note(step.count, "count")
            note(step.for_seconds, "positive duration")
        elif isinstance(step, Wait):
            dist = step.distribution
            if isinstance(dist, distributions.Fixed):
                note(dist.seconds, "duration")
            elif isinstance(dist, distributions.Uniform):
                note(dist.low, "duration")
                note(dist.high, "duration")
            elif isinstance(dist, distributions.Exponential):
                note(dist.mean, "positive duration")
                note(dist.max, "positive duration")
            elif isinstance(dist, distributions.Lognormal):
                note(dist.median, "positive duration")
                note(dist.max, "positive duration")
    return uses
