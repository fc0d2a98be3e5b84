"""What the clients put on the wire and take from it beyond a request's own fields: an id as a path segment,
the JSON body, the times a run or a schedule takes, the token's header, and the next page's cursor."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from simulator import arguments
from simulator.client.records import ApiError, Page

T = TypeVar("T")


def segment(item: str, name: str = "id") -> str:
    """`item` (the argument `name`) as one path segment. `.` and `..` go encoded: as they are, URL resolution
    removes them with the segment before (`/subscriptions/..` is `/`), so the call reached another route and its
    answer was read as not the control API's. Anything but a str is refused naming the argument (`quote` raised
    "quote_from_bytes() expected bytes")."""
    quoted = quote(arguments.text(name, item), safe=":")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def api_time(value: str | datetime | None) -> str | None:
    """A time as the API takes it: RFC 3339 text as given, a datetime in ISO 8601 (a naive one, without the
    offset the API asks for, is refused by the server, naming the field)."""
    return value.isoformat() if isinstance(value, datetime) else value


def times(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with the times a run or a schedule takes (`start_time`, `at`) as the API takes them."""
    return {k: api_time(v) if k in ("start_time", "at") else v for k, v in fields.items()}


def auth(token: str | None) -> dict[str, str]:
    """The Authorization header for `token`, stripped as `serve --token-file` strips it (a file read whole ends
    in a newline); a token no header can carry is refused here without being shown."""
    token = token.strip() if token else token
    if not token:
        return {}
    if not token.isascii() or not token.isprintable():
        raise ValueError("token: not a value a header can carry (printable ASCII, no line breaks)")
    return {"Authorization": f"Bearer {token}"}


def next_cursor(page: Page[T], cursor: Any) -> str | None:
    """The cursor of the page after `page`; an error if the server answered the page it was asked past (a proxy
    that ignores the query string), where the iteration would yield the same items for ever."""
    if page.next_cursor is not None and page.next_cursor == cursor:
        raise ApiError(200, "The same page again", f"the cursor {cursor!r} led to itself: is a cache ignoring it?")
    return page.next_cursor


def json_body(body: Any) -> bytes:
    """`body` as JSON; a value JSON cannot carry (a `Decimal`, a `set`, `nan`) is a ValueError naming where it is
    (`overrides['payload.amount']`), where the encoder's own error named only the type, and `nan` went as `NaN`,
    which is not JSON."""
    try:
        return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError):
        raise ValueError(_not_json(body, "") or "the request's body is not JSON") from None


def _not_json(value: Any, path: str, within: frozenset[int] = frozenset()) -> str | None:
    """Where in `value` the first thing JSON cannot carry is, and what it is; None if nothing. `within`: the ids of
    the containers `value` is in (one that holds itself would be walked for ever)."""
    if isinstance(value, dict | list | tuple) and id(value) in within:
        return f"{path}: holds itself (a circular reference)"
    if isinstance(value, dict):
        for key, item in value.items():
            if key is not None and not isinstance(key, str | int | float):
                return f"{path or 'the body'}: the key {key!r} cannot be a JSON key (use a str)"
            if found := _not_json(item, f"{path}[{key!r}]" if path else str(key), within | {id(value)}):
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if found := _not_json(item, f"{path}[{index}]", within | {id(value)}):
                return found
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{path}: {value} is not a JSON number"
    elif value is not None and not isinstance(value, str | int | float):
        return f"{path}: a {type(value).__name__} is not a JSON value (use a str, a number, a list or a dict)"
    return None
