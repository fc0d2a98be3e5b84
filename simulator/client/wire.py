"""What the clients put on the wire and take from it beyond a request's own fields: the times a run or a
schedule takes, the token's header, and the next page's cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from simulator.client.records import ApiError, Page

T = TypeVar("T")


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
