"""What the Syncfy twin reads of a stored event: the values of the kind Syncfy sends, by its event schema. Pure.

A scenario step marked `unchecked` may give an event any JSON (an integer as `header.user.id_external`, a number as
`payload.endpoints.accounts`). The event is delivered as written; the twin reads it as Syncfy would have sent it
at most, each value of another JSON type than the schema's dropped, as if absent. Reading each field where it is
used with a guard of its own left one unguarded read after another: each a 500 on every later call, since the
event stays stored.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from simulator.providers.syncfy import PROVIDER

# JSON Schema's type names, and the Python values each one takes (a bool is no integer in JSON).
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def readable(etype: str, body: Any) -> dict[str, Any]:
    """`body` (the stored per-event object, `{header, payload}`) with every value the schema of `etype` gives
    another JSON type dropped; an empty object for what is not an object. An unknown type is read as it is."""
    if not isinstance(body, dict):
        return {}
    schema = _event_schema(etype)
    return body if schema is None else _kept(body, schema)


@cache
def _event_schema(etype: str) -> dict[str, Any] | None:
    """The schema of the per-event object of `etype` (the delivered body's `$defs.event`); None for a type Syncfy
    does not have."""
    known = PROVIDER.event_types.get(etype)
    if known is None:
        return None
    schema: dict[str, Any] = PROVIDER.schema(known)["$defs"]["event"]
    return schema


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    if kinds is None:
        return True  # a const or an enum: a value of any kind is read as given
    names = [kinds] if isinstance(kinds, str) else kinds
    if isinstance(value, bool):
        return "boolean" in names
    if isinstance(value, float) and value.is_integer() and "integer" in names:
        return True  # JSON Schema's integer, as the scenario checks took it: `is_executing: 1.0` is 1
    return any(isinstance(value, _TYPES[name]) for name in names if name in _TYPES)


def _kept(value: Any, schema: dict[str, Any]) -> Any:
    """`value` with what does not fit `schema` left out, inside it (its caller checked `value` itself)."""
    if isinstance(value, dict):
        fields = schema.get("properties", {})
        return {
            k: _kept(v, fields[k]) if k in fields else v
            for k, v in value.items()
            if k not in fields or _fits(v, fields[k])
        }
    if isinstance(value, list) and isinstance(items := schema.get("items"), dict):
        return [_kept(v, items) for v in value if _fits(v, items)]
    return value
