"""Checks of the arguments the Python API takes (the client and the test support share them): each refuses a
value of the wrong type with a TypeError, and one out of range with a ValueError, naming the argument and what it
takes. Without them a `None` or a `str` failed deep inside (`'<' not supported`, `unsupported operand for +`), a
NaN timeout waited for ever, and an infinite one overflowed in the HTTP library."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)  # True is an int, but no number


def number(name: str, value: object) -> float:
    """`value`, an int or a float (its range is the caller's to check)."""
    if not _is_number(value):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return value


def seconds(name: str, value: object, *, finite: bool = True) -> float:
    """`value` as a number of seconds: 0 or more, and finite unless `finite` is False (a delay may be for ever)."""
    if not _is_number(value):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if not value >= 0 or (finite and not math.isfinite(value)):  # NaN fails `>= 0`
        raise ValueError(f"{name} must be 0 or more seconds{' (finite)' if finite else ''}, got {value}")
    return value


def whole(name: str, value: object, *, least: int = 0) -> int:
    """`value`, an int of `least` or more."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < least:
        raise ValueError(f"{name} must be {least} or more, got {value}")
    return value


def text(name: str, value: object) -> str:
    """`value`, a str."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r}")
    return value


def strings(name: str, value: Iterable[str] | None, example: str) -> list[str] | None:
    """`value` as a list of str, or None. A str alone is refused: iterated, it was one item per character (`"s"`,
    `"y"`, …), and the server's error named the character, not the argument."""
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of strings, got {value!r}: pass a list, as {name}={example}")
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise TypeError(f"{name} must be a list of strings, got {items!r}")
    return items


def mapping(name: str, value: object) -> Mapping[str, Any] | None:
    """`value`, a mapping, or None."""
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, got {value!r}")
    return value
