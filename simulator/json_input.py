"""JSON that arrives from outside (a request body, a webhook, a command-line value): the standard parser, with
what it would let through or fail on in its own terms refused as `NotJson`, whose message names no Python
internals.

`json.loads` accepts `NaN` and `Infinity`, fails past CPython's 4,300-digit integer limit with a message about
`sys.set_int_max_str_digits`, and raises `RecursionError` on deep nesting: each becomes a plain refusal here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_DIGITS = 4300  # CPython's own limit for converting a string to an int


class NotJson(ValueError):
    """The text is not JSON this program takes; the message says why."""


def loads(raw: bytes | str, parse_float: Callable[[str], Any] = float) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=parse_float)
    except json.JSONDecodeError as exc:
        raise NotJson(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError:
        raise NotJson("not UTF-8 text") from None
    except RecursionError:
        raise NotJson("nested too deeply") from None


def _constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise NotJson(f"a number of more than {MAX_DIGITS:,} digits")
    return int(text)
