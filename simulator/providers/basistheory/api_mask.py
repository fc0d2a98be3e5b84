"""A token's `mask`, as the Basis Theory API twin keeps and applies it. Pure.

A mask is any JSON value whose strings may hold `{{ … }}` expressions over the token's `data`; the REST object
carries the mask as given and shows `data` through it (Basis Theory's `mask` transform). A token made without one
gets its type's documented default; a generic `token` has none, and its `data` is redacted (`null`).

Basis Theory evaluates masks with Liquid and filters of its own. The twin evaluates the subset its mask documents
use: a path into `data` (`data`, `data.number`, `data.name.first`, `data.items[0]`) and the filters
`reveal_last`, `reveal`, `last4` and `slice`. Any other expression is a 400 naming `mask`, so that a mask the twin
cannot read never shows data it would have hidden. The parser is hand-written because a Liquid engine would
accept Basis Theory's own filters (`card_mask`, `alias_*`) only to evaluate them wrongly or not at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

FILTERS = ("reveal_last", "reveal", "last4", "slice")
MAX_DEPTH = 16
MAX_SIZE = 32_768
# Basis Theory's examples keep a number's dashes where `reveal_last` masks ("XXX-XX-6789"), and mask spaces
# ("Sensitive Value" is "XXXXXXXXXXXalue").
_KEPT_BY_REVEAL_LAST = "-"

_CARD = {
    "number": "{{ data.number | reveal_last: 4 }}",
    "expiration_month": "{{ data.expiration_month }}",
    "expiration_year": "{{ data.expiration_year }}",
}
_BANK = {"routing_number": "{{ data.routing_number }}", "account_number": "{{ data.account_number | reveal_last: 4 }}"}
# Each token type's Default Mask Expression, from Basis Theory's token types page.
DEFAULTS: dict[str, Any] = {"token": None, "card": _CARD, "network_token": _CARD, "bank": _BANK}
_LAST_FOUR = "{{ data | reveal_last: 4 }}"

_TOKEN = re.compile(r"\s*(?:('[^']*'|\"[^\"]*\")|(-?[0-9]{1,9})|([A-Za-z_][A-Za-z0-9_]*)|([.|:,\[\]]))")


class MaskError(ValueError):
    """A mask the twin cannot evaluate; the message says where and why."""


@dataclass(frozen=True)
class Expression:
    path: tuple[str | int, ...]
    filters: tuple[tuple[str, tuple[Any, ...]], ...]


def default(kind: str) -> Any:
    """The mask a token of `kind` gets when its creator gives none."""
    return DEFAULTS.get(kind, _LAST_FOUR)


def checked(mask: Any) -> Any:
    """`mask` as given, once every expression in it is one the twin evaluates; else `MaskError`."""
    if len(json.dumps(mask)) > MAX_SIZE:
        raise MaskError("is larger than 32 KiB")
    _walk(mask, "", 0)
    return mask


def _walk(mask: Any, where: str, depth: int) -> None:
    """Check every string of `mask`; `where` is the path to it inside the mask (empty at its top)."""
    if depth > MAX_DEPTH:
        raise MaskError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(mask, str):
        try:
            _template(mask)
        except MaskError as exc:
            raise MaskError(f"at {where}: {exc}" if where else str(exc)) from None
    elif isinstance(mask, dict):
        for key, value in mask.items():
            _walk(value, f"{where}.{key}" if where else str(key), depth + 1)
    elif isinstance(mask, list):
        for i, value in enumerate(mask):
            _walk(value, f"{where}[{i}]", depth + 1)


def apply(mask: Any, data: Any) -> Any:
    """`data` shown through `mask`: its strings evaluated, an object's properties that come out null left out
    (as a mask that omits them redacts them); no mask redacts everything."""
    if mask is None:
        return None
    if isinstance(mask, str):
        return _render(mask, data)
    if isinstance(mask, dict):
        shown = {key: apply(value, data) for key, value in mask.items()}
        return {key: value for key, value in shown.items() if value is not None}
    if isinstance(mask, list):
        return [apply(value, data) for value in mask]
    return mask


def bounded(mask: Any, data: Any) -> None:
    """MaskError when `data` shown through `mask` would be larger than the data twice over and a mask's size: a
    mask naming a large value thousands of times made every read of the token, and every page listing it, an
    answer of tens of megabytes. Counted as it is evaluated, so such a mask costs no more than the bound."""
    limit = 2 * len(json.dumps(data, default=str)) + MAX_SIZE
    _size(mask, data, [limit], limit)


def _size(mask: Any, data: Any, left: list[int], limit: int) -> None:
    if isinstance(mask, str):
        for part in _template(mask):
            left[0] -= len(part) if isinstance(part, str) else len(json.dumps(_evaluate(part, data), default=str))
            if left[0] < 0:
                raise MaskError(f"shows more than {limit:,} characters of the token's data")
    elif isinstance(mask, dict | list):
        for value in mask.values() if isinstance(mask, dict) else mask:
            _size(value, data, left, limit)


# --- templates --------------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _template(text: str) -> tuple[str | Expression, ...]:
    """`text` as literal pieces and parsed expressions, in order."""
    if "{%" in text:
        raise MaskError("Liquid tags ({% … %}) are not evaluated; use {{ data | filter }} expressions")
    parts: list[str | Expression] = []
    for i, piece in enumerate(_pieces(text)):
        if i % 2:
            parts.append(_parse(piece))
        elif "{{" in piece or "}}" in piece:
            raise MaskError("an expression is not closed: write {{ data … }}")
        elif piece:
            parts.append(piece)
    return tuple(parts)


def _pieces(text: str) -> list[str]:
    r"""`text` split at its `{{ … }}` expressions: literal text at even places, expressions' insides at odd ones.
    A scan, not a regular expression: `\{\{(.*?)\}\}` tried every `{` of an unclosed mask to its end, and 32,000 of
    them held the server for five seconds."""
    out: list[str] = []
    at = 0
    while (start := text.find("{{", at)) >= 0 and (end := text.find("}}", start + 2)) >= 0:
        out += [text[at:start], text[start + 2 : end]]
        at = end + 2
    out.append(text[at:])
    return out


def _render(text: str, data: Any) -> Any:
    parts = _template(text)
    if len(parts) == 1 and isinstance(parts[0], Expression):
        return _evaluate(parts[0], data)  # the expression alone: its value as it is (a number stays a number)
    return "".join(p if isinstance(p, str) else _text(_evaluate(p, data)) or "" for p in parts)


def _tokens(source: str) -> list[str]:
    out, at, source = [], 0, source.rstrip()
    while at < len(source):
        match = _TOKEN.match(source, at)
        if match is None:
            raise MaskError(f"cannot read {source[at:].strip()[:20]!r} in {{{{{source}}}}}")
        out.append(match.group(match.lastindex or 0))
        at = match.end()
    return out


def _parse(source: str) -> Expression:
    tokens = _tokens(source)
    if not tokens or tokens[0] != "data":
        raise MaskError(f"{{{{{source}}}}} must start with data (the token's data)")
    path, i = _path(tokens)
    filters: list[tuple[str, tuple[Any, ...]]] = []
    while i < len(tokens):
        if tokens[i] != "|" or i + 1 >= len(tokens):
            raise MaskError(f"cannot read {{{{{source}}}}}: expected | and a filter")
        name, i = tokens[i + 1], i + 2
        args: list[Any] = []
        if i < len(tokens) and tokens[i] == ":":
            args, i = _arguments(tokens, i + 1, source)
        filters.append((name, _checked_filter(name, tuple(args))))
    return Expression(tuple(path), tuple(filters))


def _path(tokens: list[str]) -> tuple[list[str | int], int]:
    path: list[str | int] = []
    i = 1
    while i < len(tokens) and tokens[i] in (".", "["):
        if tokens[i] == "." and i + 1 < len(tokens) and re.fullmatch(r"[A-Za-z_]\w*", tokens[i + 1]):
            path.append(tokens[i + 1])
            i += 2
        elif tokens[i] == "[" and i + 2 < len(tokens) and tokens[i + 2] == "]":
            inside = tokens[i + 1]
            path.append(int(inside) if inside.lstrip("-").isdigit() else _literal(inside))
            i += 3
        else:
            raise MaskError("a path into data is written data.name or data[0]")
    return path, i


def _arguments(tokens: list[str], i: int, source: str) -> tuple[list[Any], int]:
    args: list[Any] = []
    while True:
        if i >= len(tokens) or tokens[i] in "|:,[].":
            raise MaskError(f"cannot read {{{{{source}}}}}: a filter's argument is missing")
        args.append(_literal(tokens[i]))
        i += 1
        if i < len(tokens) and tokens[i] == ",":
            i += 1
            continue
        return args, i


def _literal(token: str) -> Any:
    if token[0] in "'\"":
        return token[1:-1]
    if token.lstrip("-").isdigit():
        return int(token)
    raise MaskError(f"{token!r} is not a quoted string or a whole number")


def _checked_filter(name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A filter's arguments, checked against what Basis Theory documents for it."""
    kinds = {"reveal_last": ("n", "c"), "reveal": ("n", "n", "c", "s"), "last4": (), "slice": ("n", "n")}
    if name not in kinds:
        raise MaskError(f"the filter {name!r} is not one the simulator evaluates ({', '.join(FILTERS)})")
    wanted = kinds[name]
    least = {"reveal_last": 1, "slice": 1}.get(name, 0)
    if not least <= len(args) <= len(wanted):
        raise MaskError(f"{name} takes {least} to {len(wanted)} arguments, not {len(args)}")
    for arg, kind in zip(args, wanted, strict=False):
        if kind == "n" and (not isinstance(arg, int) or (arg < 0 and name != "slice")):
            raise MaskError(f"{name}: {arg!r} is not a whole number")
        if kind == "c" and not (isinstance(arg, str) and len(arg) == 1):
            raise MaskError(f"{name}: the mask character {arg!r} is not one character")
        if kind == "s" and not isinstance(arg, str):
            raise MaskError(f"{name}: the characters to preserve {arg!r} are not a string")
    return args


# --- evaluation -------------------------------------------------------------------------------------------


def _evaluate(expression: Expression, data: Any) -> Any:
    value = data
    for part in expression.path:
        if isinstance(part, int) and isinstance(value, list) and -len(value) <= part < len(value):
            value = value[part]
        elif isinstance(part, str) and isinstance(value, dict):
            value = value.get(part)
        else:
            return None  # a path into nothing is null, as Liquid has it
    for name, args in expression.filters:
        text = _text(value)
        if text is None:
            return None
        value = _FILTER_FUNCTIONS[name](text, *args)
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def reveal_last(text: str, length: int, mask_char: str = "X") -> str:
    if len(text) <= length:
        return text
    cut = len(text) - length
    head = "".join(c if c in _KEPT_BY_REVEAL_LAST else mask_char for c in text[:cut])
    return head + text[cut:]


def reveal(text: str, first: int = 0, last: int = 0, mask_char: str = "X", preserve: str = "") -> str:
    hidden = "".join(c if c in preserve else mask_char for c in text)
    if len(text) <= first + last:
        return hidden
    end = len(text) - last
    shown = text[:first] + hidden[first:end] + text[end:]
    return hidden if shown == text else shown


def _last4(text: str) -> str:
    return text[-4:]


def _slice(text: str, start: int, length: int = 1) -> str:
    if start < 0:
        start = max(0, len(text) + start)
    return text[start : start + max(0, length)]


_FILTER_FUNCTIONS: dict[str, Any] = {"reveal_last": reveal_last, "reveal": reveal, "last4": _last4, "slice": _slice}
