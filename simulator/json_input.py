"""JSON that arrives from outside (a request body, a webhook, a command-line value): the standard parser, with
what it would let through or fail on in its own terms refused as `NotJson`, whose message names no Python
internals.

`json.loads` accepts `NaN` and `Infinity`, fails past CPython's 4,300-digit integer limit with a message about
`sys.set_int_max_str_digits`, and raises `RecursionError` on deep nesting: each becomes a plain refusal here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

MAX_DIGITS = 4300  # CPython's own limit for converting a string to an int
# `\ud800`-`\udfff` escapes: a pair is one character, a lone one decodes to a string no UTF-8 can hold (it
# cannot be stored, signed or echoed). Only text holding such an escape is searched for one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a code point no UTF-8 can hold


class NotJson(ValueError):
    """The text is not JSON this program takes; the message says why."""


def loads(raw: bytes | str, parse_float: Callable[[str], Any] = float) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=parse_float)
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
    return value


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
