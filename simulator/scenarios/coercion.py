"""A scenario parameter's value as the type its default declares: `--param k=v` gives text, a JSON body typed
values, and both must read as a person means them."""

from __future__ import annotations

import math
import re
from typing import Any

from simulator.words import OFF_WORDS, ON_WORDS

# Numbers as a person types them in ASCII: Python's int() and float() also take `1_000` and other scripts'
# digits (`٣`), which no shell user means as a count.
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


def coerce(value: Any, default: Any) -> Any:
    """`value` as the type of `default` (a `--param k=v` string becomes an int, float or bool as declared)."""
    if default is None:
        return value
    if isinstance(default, bool):
        return _to_bool(value)
    if isinstance(default, int):
        return _to_int(value)
    if isinstance(default, float):
        return _to_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if isinstance(value, str | int) and text in ON_WORDS + OFF_WORDS:
        return text in ON_WORDS
    raise ValueError(f"expected true or false, got {value!r}")


def _to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    raise ValueError(f"expected a whole number, got {value!r}")


def _to_float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            endless = text.lower().lstrip("+-") in ("nan", "inf", "infinity")
            raise ValueError(f"expected a {'finite ' if endless else ''}number, got {value!r}")
        number = float(text)
    else:
        raise ValueError(f"expected a number, got {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number
