"""`with:` overrides: dotted paths into an event, checked against the event's JSON Schema before they are set.

A path names a field of the per-event object (Syncfy: `header.*`, `payload.*`; Basis Theory: the `event`
object, `data.*`); a numeric part indexes a list. `problems` reports a path the schema does not know (a typo:
`payload.is_exec`), a value the schema refuses there (`payload.is_executing: "no"`) and a value JSON cannot
carry. Off-schema bodies are the `schema_drift` fault's job, or a step's explicit `unchecked: true`.

The schema walk is hand-written because jsonschema validates documents, not paths; each value is then checked
with jsonschema against the subschemas its path leads to.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from simulator.digits import is_digits, whole
from simulator.errors import FieldError, InvalidInput
from simulator.json_input import LONE_SURROGATE, NOT_TEXT

if TYPE_CHECKING:
    from simulator.providers.base import EventType, Provider

Schema = dict[str, Any]
_BRANCHES = ("oneOf", "anyOf", "allOf")


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at a dotted `path` (`payload.is_executing`, `data.token.metadata.plan`, `events.0.x`)."""
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list) and (index := whole(part)) is not None and index < len(node):
            node = node[index]
        elif isinstance(node, dict):
            nxt = node.get(part)
            if not isinstance(nxt, dict | list):
                nxt = node[part] = {}
            node = nxt
        else:
            raise InvalidInput(
                f"cannot set {path!r}: {'.'.join(parts[: i + 1])} is not an object",
                errors=[FieldError(f"overrides.{path}", "path goes through a non-object")],
            )
    last = parts[-1]
    if isinstance(node, list) and (index := whole(last)) is not None and index < len(node):
        node[index] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise InvalidInput(f"cannot set {path!r}", errors=[FieldError(f"overrides.{path}", "bad path")])


def problems(
    provider: Provider, etype: EventType, overrides: Mapping[str, Any], *, schema: bool = True
) -> list[tuple[str, str]]:
    """(path, message) for every override of an `etype` event that its JSON Schema refuses (with `schema`
    False, only values no JSON body can carry)."""
    found = []
    for path, value in overrides.items():
        if not isinstance(path, str):
            found.append((str(path), "expected a dotted path such as payload.is_executing"))
            continue
        message = _json_problem(value)
        if message is None and schema:
            message = _schema_problem(provider, etype, path, value)
        if message is not None:
            found.append((path, message))
    return found


def check(provider: Provider, etype: EventType, overrides: Mapping[str, Any], *, schema: bool = True) -> None:
    """Raise InvalidInput naming `overrides.<path>` for each override `problems` finds."""
    found = problems(provider, etype, overrides, schema=schema)
    if found:
        path, message = found[0]
        raise InvalidInput(
            f"override {path} of {etype.key}: {message}",
            errors=[FieldError(f"overrides.{p}", m) for p, m in found],
        )


def apply(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the per-event object `data` with `overrides` set (`data` itself is left as it was)."""
    out = copy_json(data)
    for path, value in overrides.items():
        set_path(out, path, copy_json(value))
    return out


def check_event(provider: Provider, etype: EventType, data: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Raise InvalidInput when the overridden per-event object `data` is off its schema where an override
    touched it: what a path-by-path check cannot see (an async invocation's `request.id` on a sync one)."""
    found: dict[str, str] = {}
    for error in _event_validator(provider, etype).iter_errors(data):
        where = ".".join(map(str, error.absolute_path))
        for path in overrides:
            if path not in found and (not where or path == where or path.startswith(f"{where}.")):
                found[path] = f"the event is off its schema at {where or 'its top level'}: {error.message}"
    if found:
        path, message = next(iter(found.items()))
        raise InvalidInput(
            f"override {path} of {etype.key}: {message}",
            errors=[FieldError(f"overrides.{p}", m) for p, m in found.items()],
        )


# What a copy shares rather than copies. Looked up by exact type before any call: most of an entity's values are
# strings, and a call per string was half of what copying an event's entities cost.
_SHARED = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of plain JSON data (much cheaper than `copy.deepcopy`)."""
    if type(value) in _SHARED:
        return value
    if isinstance(value, dict):
        return {k: x if type(x) in _SHARED else copy_json(x) for k, x in value.items()}
    if isinstance(value, list):
        return [x if type(x) in _SHARED else copy_json(x) for x in value]
    return value


def copy_fields(source: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """`{k: copy_json(source[k]) for k in keys}`, without a call for each value a copy shares: an event copies
    the fields of the entities it shows, mostly strings, this way."""
    out = {}
    for key in keys:
        value = source[key]
        out[key] = value if type(value) in _SHARED else copy_json(value)
    return out


@lru_cache(maxsize=256)
def _event_validator(provider: Provider, etype: EventType) -> Any:
    root = provider.schema(etype)
    nodes: list[Schema] = [root]
    for part in provider.event_path:
        nodes = _step(nodes, part, root)
    defs = {"$defs": root["$defs"]} if "$defs" in root else {}
    return Draft202012Validator({**nodes[0], **defs}, format_checker=Draft202012Validator.FORMAT_CHECKER)


# --- values JSON can carry -------------------------------------------------------------------------------------


def _json_problem(value: Any) -> str | None:
    """Why `value` cannot go into a JSON body (NaN, a non-string key, a lone surrogate…), or None."""
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a JSON number"
    if isinstance(value, str):
        return NOT_TEXT if LONE_SURROGATE.search(value) else None
    if isinstance(value, list):
        return next((p for p in map(_json_problem, value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "object keys must be strings"
        return _json_problem(list(value.keys())) or _json_problem(list(value.values()))
    return f"{type(value).__name__} is not a JSON value"


# --- the schema at a path --------------------------------------------------------------------------------------


def _schema_problem(provider: Provider, etype: EventType, path: str, value: Any) -> str | None:
    reason, validators = _validators(provider, etype, path)
    if reason is not None:
        return reason
    errors = []
    for validator in validators:
        error = next(validator.iter_errors(value), None)
        if error is None:
            return None
        errors.append(_said(error))
    return f"{_show(value)} does not fit the schema of {path}: {errors[0]}"


def _said(error: Any) -> str:
    """A schema error in JSON's words: jsonschema's own messages write the value in Python's."""
    if error.validator == "type":
        expected = error.validator_value
        names = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{_show(error.instance)} is not of type {names}"
    if error.validator == "enum":
        return f"{_show(error.instance)} is not one of {_show(error.validator_value)}"
    if error.validator == "const":
        return f"expected {_show(error.validator_value)}, not {_show(error.instance)}"
    return str(error.message)


@lru_cache(maxsize=1024)
def _validators(provider: Provider, etype: EventType, path: str) -> tuple[str | None, tuple[Any, ...]]:
    """Why `path` is not a field of `etype` (None if it is), and validators of the subschemas it leads to."""
    root = provider.schema(etype)
    nodes: list[Schema] = [root]
    for part in provider.event_path:
        nodes = _step(nodes, part, root)
    for i, part in enumerate(path.split(".")):
        following = _step(nodes, part, root)
        if not following:
            return _unknown(path, i, nodes, root), ()
        nodes = following
    defs = {"$defs": root["$defs"]} if "$defs" in root else {}
    checker = Draft202012Validator.FORMAT_CHECKER
    return None, tuple(Draft202012Validator({**node, **defs}, format_checker=checker) for node in nodes)


def _step(nodes: list[Schema], part: str, root: Schema) -> list[Schema]:
    """The subschemas one path part leads to from `nodes` (each branch of a oneOf/anyOf that has it)."""
    out: list[Schema] = []
    for node in _expand(nodes, root):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        if part in properties:
            out.append(properties[part])
        elif isinstance(node.get("items"), dict) and is_digits(part):
            out.append(node["items"])
        elif isinstance(extra, dict):  # a map: any key, values of one schema
            out.append(extra)
        elif extra is True:
            out.append({})
    return out


def _expand(nodes: list[Schema], root: Schema) -> list[Schema]:
    """`nodes` with local `$ref`s resolved and combinator branches listed beside them."""
    out: list[Schema] = []
    for node in nodes:
        while "$ref" in node:
            node = _resolve(node["$ref"], root)
        out.append(node)
        for keyword in _BRANCHES:
            out.extend(_expand(list(node.get(keyword, [])), root))
    return out


def _resolve(ref: str, root: Schema) -> Schema:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def _unknown(path: str, index: int, nodes: list[Schema], root: Schema) -> str:
    parts = path.split(".")
    known = sorted({k for node in _expand(nodes, root) for k in node.get("properties", {})})
    where = ".".join(parts[:index])
    close = difflib.get_close_matches(parts[index], known, n=1, cutoff=0.6)
    hint = f"; did you mean {'.'.join([*parts[:index], close[0]])}?" if close else ""
    scope = f"{where} has" if where else "the event has"
    return f"no field {parts[index]!r} here: {scope} {', '.join(known) or 'no fields'}{hint}"


def _show(value: Any) -> str:
    """`value` as the scenario's JSON or YAML would write it (`null`, `true`), not as Python does (`None`)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON (a YAML date, a set): said as Python sees it
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
