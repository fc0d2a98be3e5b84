"""What the body-changing faults do to one POST: schema drift (planned when the delivery is made, applied to every
attempt), a stale Basis Theory `delivered_at`, and malformed bodies. Pure functions over bytes and JSON.

Bodies are re-serialised the way their provider serialises them (Basis Theory: compact, keys sorted, UTF-8;
otherwise compact in the order given), so the only difference a receiver sees is the one injected.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import cache
from typing import Any

from simulator import catalog
from simulator.models import Event
from simulator.timeutil import iso_ms, parse_time

Path = tuple[str | int, ...]

# Fields a provider might plausibly add to an event's payload in a new version, for `schema_drift: add`.
ADDED_FIELDS: tuple[tuple[str, Any], ...] = (
    ("api_version", "2025-06-01"),
    ("region", "us-east-1"),
    ("labels", ["beta"]),
    ("source", {"channel": "api", "client_version": "4.2.0"}),
    ("sequence", 1),
    ("sandbox", False),
    ("correlation_id", "2f1c7d9e-4b7a-4c1e-9f0a-6d3b8e5a1c24"),
)
# The object inside an event that carries its payload, by the providers' names for it.
PAYLOAD_KEYS = ("payload", "data")
# Fields `schema_drift: remove` never takes: what ties an event to its entities and says what it is.
IDENTIFYING = ("id", "type", "event")


def dumps(obj: Any, provider: str) -> bytes:
    """`obj` serialised as `provider` serialises its bodies (in the order its keys come: the provider's)."""
    if provider == "basistheory":
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return json.dumps(obj, separators=(",", ":")).encode()


# --- schema drift ----------------------------------------------------------------------------------------------


def plan_drift(
    events: Sequence[Event], envelope_id: str, kinds: Sequence[str], rng: random.Random
) -> dict[str, Any] | None:
    """Which field to add to or remove from the first event's payload, as a path into the body, or None when no
    kind in `kinds` applies (nothing optional to remove)."""
    body = json.loads(catalog.render(list(events), envelope_id))
    event_path = _find(body, events[0].parsed())
    if event_path is None:
        return None
    target = _payload_path(body, event_path)
    options: list[dict[str, Any]] = []
    fresh = [(name, value) for name, value in ADDED_FIELDS if name not in _get(body, target)]
    if "add" in kinds and fresh:
        name, value = fresh[rng.randrange(len(fresh))]
        options.append({"kind": "add", "path": [*target, name], "value": value})
    removable = _removable(events[0], body, target) if "remove" in kinds else []
    if removable:
        options.append({"kind": "remove", "path": list(removable[rng.randrange(len(removable))])})
    return options[rng.randrange(len(options))] if options else None


def apply_drift(body: bytes, provider: str, drift: dict[str, Any]) -> bytes:
    """`body` with the planned field added or removed."""
    obj = json.loads(body)
    *parent, last = drift["path"]
    node = _drift_parent(obj, tuple(parent))
    if drift["kind"] == "add":
        node[last] = drift["value"]
    else:
        node.pop(last, None)
    return dumps(obj, provider)


def _find(node: Any, wanted: dict[str, Any], path: Path = ()) -> Path | None:
    """The path of the first object in `node` equal to `wanted` (the event inside its envelope)."""
    if node == wanted:
        return path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        if isinstance(child, dict | list):
            found = _find(child, wanted, (*path, key))
            if found is not None:
                return found
    return None


def _payload_path(body: Any, event_path: Path) -> Path:
    event = _get(body, event_path)
    for key in PAYLOAD_KEYS:
        if isinstance(event.get(key), dict):
            return (*event_path, key)
    return event_path


def _removable(event: Event, body: Any, target: Path) -> list[Path]:
    """Documented fields under `target` a provider could leave out: those the event type's JSON Schema does not
    require or, where the schema requires everything it documents, the plain fields that identify nothing (an
    expiry, a flag, a list of endpoints: what providers omit when there is no value)."""
    schema = _schema(event.provider, event.type)
    if schema is None:
        return []
    fields = [
        (path, required, value)
        for path, required, value in _walk(schema, schema, body, ())
        if path[: len(target)] == target and len(path) > len(target)
    ]
    optional = [path for path, required, _ in fields if not required]
    return optional or [path for path, _, value in fields if not isinstance(value, dict) and _plain(str(path[-1]))]


def _plain(key: str) -> bool:
    return key not in IDENTIFYING and not key.startswith("id_") and not key.endswith("_id")


@cache
def _schema(provider: str, etype: str) -> dict[str, Any] | None:
    try:
        return catalog.schema(f"{provider}:{etype}")
    except (OSError, ValueError):  # a type without a published schema has nothing known to be optional
        return None


def _walk(root: dict[str, Any], schema: Any, node: Any, path: Path) -> Iterator[tuple[Path, bool, Any]]:
    """Every field of `node` its schema documents (free-form maps are not descended): path, required, value."""
    schema = _resolve(root, schema)
    if not isinstance(schema, dict):
        return
    if isinstance(node, dict):
        props, required = schema.get("properties", {}), set(schema.get("required", ()))
        for key, value in node.items():
            if key in props:
                yield (*path, key), key in required, value
                yield from _walk(root, props[key], value, (*path, key))
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(node):
            yield from _walk(root, schema["items"], value, (*path, i))


def _resolve(root: dict[str, Any], schema: Any) -> Any:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        schema = node
    return schema


def _get(node: Any, path: Path) -> Any:
    for part in path:
        node = node[part]
    return node


def _drift_parent(body: Any, path: Path) -> Any:
    """The object the drifted field sits in. The plan's path leads into the provider's envelope; a body that is
    one event's payload itself (a Syncfy V1 webhook's notification) takes the part of it after the payload."""
    try:
        return _get(body, path)
    except (KeyError, IndexError, TypeError):
        inside = [i for i, part in enumerate(path) if part in PAYLOAD_KEYS]
        if not inside:
            raise
        return _get(body, path[inside[0] + 1 :])


# --- stale and malformed ---------------------------------------------------------------------------------------


def stale_body(body: bytes, provider: str, age: float) -> bytes | None:
    """`body` with its `delivered_at` (Basis Theory) `age` seconds older; None when it carries no such time."""
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("delivered_at"), str):
        return None
    obj["delivered_at"] = iso_ms(parse_time(obj["delivered_at"]) - timedelta(seconds=age))
    return dumps(obj, provider)


def truncate(body: bytes) -> bytes:
    """The first half of `body`: never valid JSON, since a JSON text's closing bracket is its last byte."""
    return body[: max(1, len(body) // 2)]
