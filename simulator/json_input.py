"""JSON that arrives from outside (a request body, a webhook, a command-line value): the standard parser, with
what it would let through or fail on in its own terms refused as `NotJson`, whose message names no Python
internals.

`json.loads` accepts `NaN` and `Infinity`, fails past CPython's 4,300-digit integer limit with a message about
`sys.set_int_max_str_digits`, and raises `RecursionError` on deep nesting: each becomes a plain refusal here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

MAX_DIGITS = 4300  # CPython's own limit for converting a string to an int
# Lists and mappings nested deeper than this are refused where a document is read (a scenario, a command-line
# value): the parser, the JSON Schema check and the steps are walked recursively, and a few hundred levels exhaust
# Python's stack.
MAX_DEPTH = 100
# `\ud800`-`\udfff` escapes: a pair is one character, a lone one decodes to a string no UTF-8 can hold (it
# cannot be stored, signed or echoed). Only text holding such an escape is searched for one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a code point no UTF-8 can hold
NOT_TEXT = "a lone UTF-16 surrogate is not text"  # what a value holding one is told


class NotJson(ValueError):
    """The text is not JSON this program takes; the message says why."""


class RepeatedKey(NotJson):
    """An object names a key twice (`unique_keys`): `field` is its dotted path."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is given more than once in one object")
        self.field = field


def finite_float(text: str) -> float:
    """A JSON number with a fraction or an exponent, as a float that says what was written: one beyond a
    double's range (`1e400`) became infinity, which no JSON answer can carry (stored, every read of it failed),
    and one too small to tell from 0 (`1e-400`) became 0. Both are refused. For input that is kept (the twins'
    bodies); what only reads a webhook (`listen`) takes such a number as the parser does."""
    number = float(text)
    if math.isinf(number):
        raise NotJson(f"the number {_shown(text)} is beyond the range of a double")
    if lost_to_zero(text, number):
        raise NotJson(f"the number {_shown(text)} is too small to tell from 0 in a double")
    return number


def lost_to_zero(text: str, number: float) -> bool:
    """Whether `number`, read from `text`, is 0 where `text` is not (`1e-400`: below a double's range)."""
    return number == 0 and any(digit in "123456789" for digit in text.lower().partition("e")[0])


def _shown(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:40]}…"


def loads(raw: bytes | str, parse_float: Callable[[str], Any] = float, *, unique_keys: bool = False) -> Any:
    """`raw` parsed. With `unique_keys`, an object naming a key twice is refused (`RepeatedKey`): JSON leaves it
    undefined, the parser keeps the last, and whatever checked the first saw another request."""
    repeated: dict[int, tuple[str, dict[str, Any]]] = {}
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(
            text,
            parse_constant=_constant,
            parse_int=_integer,
            parse_float=parse_float,
            object_pairs_hook=_noting(repeated) if unique_keys else None,
        )
    except json.JSONDecodeError as exc:
        raise NotJson(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError:
        raise NotJson("not UTF-8 text") from None
    except RecursionError:
        raise NotJson("nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        where = _lone_surrogate(value)
        if where is not None:
            raise NotJson(f"a lone surrogate escape (\\ud800-\\udfff) is not text, at {where or 'the top'}")
    if repeated:
        raise RepeatedKey(_repeated_path(value, repeated))
    return value


def _noting(repeated: dict[int, tuple[str, dict[str, Any]]]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """An `object_pairs_hook` that notes each object naming a key twice, by its id, with that key. The object is
    kept too: one a repeated key dropped would otherwise free its id for another."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    repeated[id(obj)] = (key, obj)
                    break
                seen.add(key)
        return obj

    return hook


def _repeated_path(value: Any, repeated: dict[int, tuple[str, dict[str, Any]]]) -> str:
    """The dotted path of the first repeated key `_noting` noted in `value`."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # not recursive: as deep as the parser allowed
        path, item = stack.pop()
        if isinstance(item, dict):
            if id(item) in repeated:
                key = repeated[id(item)][0]
                return f"{path}.{key}" if path else key
            stack.extend((f"{path}.{k}" if path else k, inner) for k, inner in item.items())
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), inner) for i, inner in enumerate(item))
    return "a key"


def _lone_surrogate(value: Any) -> str | None:
    """The dotted path of the first key or string holding a lone surrogate (`""` for the value itself)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # not recursive: as deep as the parser allowed
        path, item = stack.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                return path
        elif isinstance(item, dict):
            for key, inner in item.items():
                here = f"{path}.{key}" if path else key
                if LONE_SURROGATE.search(key):
                    return path or "a key"
                stack.append((here, inner))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), inner) for i, inner in enumerate(item))
    return None


def _constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise NotJson(f"a number of more than {MAX_DIGITS:,} digits")
    return int(text)
