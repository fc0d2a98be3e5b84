"""JSON as JavaScript's `json-stable-stringify` writes it: what a Basis Theory signature covers.

Basis Theory's sample verifier runs `stringify(JSON.parse(body))` with the npm package `json-stable-stringify`, so
the bytes it checks are JavaScript's, not Python's. They differ from `json.dumps(..., sort_keys=True)` in three
places, each reachable through a `with:` override:

- Numbers: `JSON.parse` reads every number as an IEEE double and `JSON.stringify` writes it with
  `Number.prototype.toString`: `1.0` is `1`, `1e-05` is `0.00001`, `1e21` stays `1e+21`, `-0` is `0`, and an
  integer beyond 2**53 loses digits (`12345678901234567890` is `12345678901234567000`).
- Key order: `Array.prototype.sort` compares UTF-16 code units, so a key holding a character outside the Basic
  Multilingual Plane (a surrogate pair, 0xD800-0xDBFF) sorts before one holding U+E000-U+FFFF; Python compares
  code points and puts it after.
- Lone surrogates (`"\\ud800"` in the body) are written as `\\ud800` escapes (well-formed `JSON.stringify`, ES2019);
  everything else outside the control characters is written as is, UTF-8 encoded.

Hand-written because no maintained Python package reproduces `Number.prototype.toString`; the number layout
follows ECMA-262 (Number::toString) on the shortest round-trip digits, which Python's `repr` also produces.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from simulator.json_input import LONE_SURROGATE

# Beyond this an integer cannot be held exactly by a double, so JavaScript prints the double's digits instead.
_SAFE_INTEGER = 2**53
# A character outside the BMP (raw: a 4-byte UTF-8 sequence; escaped: a surrogate) is where UTF-16 key order and
# code point order can part, and where a lone surrogate hides.
_ASTRAL = re.compile(rb"[\xf0-\xf4]|\\u[dD][89a-fA-F]")
_string = json.JSONEncoder(ensure_ascii=False).encode


class NotJSON(ValueError):
    """The body is not something `JSON.parse` accepts (NaN, Infinity, invalid text)."""


def loads(body: bytes | str) -> Any:
    """Parse `body` as `JSON.parse` would: reject the NaN and Infinity literals Python's parser allows."""
    return _parse(body, [])


def _parse(body: bytes | str, numbers: list[str]) -> Any:
    """`loads`, noting in `numbers` each number literal Python and JavaScript may write differently."""

    def refuse(name: str) -> Any:
        raise NotJSON(f"{name} is not JSON")

    def integer(text: str) -> int:
        if len(text) > 15:  # beyond 2**53 JavaScript keeps only a double's digits
            numbers.append(text)
        return int(text)

    def fraction(text: str) -> float:
        numbers.append(text)
        return float(text)

    try:
        return json.loads(body, parse_constant=refuse, parse_int=integer, parse_float=fraction)
    except NotJSON:
        raise
    except ValueError as exc:
        raise NotJSON(str(exc)) from exc


def stringify(value: Any) -> str:
    """`value` (parsed JSON) as `json-stable-stringify` writes it: compact, keys in UTF-16 order."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool) or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: _utf16(item[0]))
        return "{" + ",".join(f"{_text(k)}:{stringify(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(stringify(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {value!r}")


def canonical(body: bytes | str) -> bytes:
    """The bytes Basis Theory's sample verifier hashes for `body`: `stringify(JSON.parse(body))`, UTF-8.

    Most bodies hold no number and no character on which Python and JavaScript differ; those go through
    `json.dumps` (C: half the time of `stringify` on a 1.5 kB `proxy.invoked`, measured), the rest through
    `stringify`.
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    numbers: list[str] = []
    value = _parse(body, numbers)
    if numbers or _ASTRAL.search(raw):
        return stringify(value).encode()
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def number(value: int | float) -> str:
    """`value` as JavaScript's `JSON.stringify` writes the double it parses to."""
    if isinstance(value, int) and -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
        return str(value)
    as_float = float(value)  # rounds to the nearest double, as JSON.parse does
    if not math.isfinite(as_float):
        raise NotJSON(f"{value!r} is not a JSON number")
    if as_float == 0:
        return "0"  # JSON.stringify(-0) is "0"
    sign = "-" if as_float < 0 else ""
    digits, point = _shortest(abs(as_float))
    return sign + _layout(digits, point)


def _shortest(x: float) -> tuple[str, int]:
    """The shortest digits `d1d2…dk` and the exponent n with x = 0.d1d2…dk × 10**n (ECMA-262's s, k and n)."""
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    if fraction == "0":
        fraction = ""
    digits = (whole + fraction).lstrip("0")
    # Leading zeros of "0.000123" shift the point left.
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len((whole + fraction).lstrip("0")))
    return digits.rstrip("0") or "0", point


def _layout(digits: str, n: int) -> str:
    """ECMA-262 Number::toString steps for k = len(digits) significant digits and point position n."""
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"0.{'0' * -n}{digits}"
    exponent = n - 1
    mark = f"e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    return (digits if k == 1 else f"{digits[0]}.{digits[1:]}") + mark


def _text(value: str) -> str:
    """A JSON string as `JSON.stringify` writes it; Python's encoder agrees except on lone surrogates."""
    out = _string(value)
    if LONE_SURROGATE.search(out):
        out = LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)
    return out


def _utf16(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare like the code units JavaScript's default sort compares.
    return key.encode("utf-16-be", "surrogatepass")
