"""Cursor pagination, shared by every list: the store's, the schedules' and the API's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from simulator.errors import FieldError, InvalidInput


def split_page(items: Sequence[Any], limit: int, cursor_of: Callable[[Any], object]) -> tuple[list[Any], str | None]:
    """The first `limit` of `items` (fetched as `limit + 1`) and the cursor of the next page, if there is one."""
    shown = list(items[:limit])
    return shown, str(cursor_of(shown[-1])) if len(items) > limit else None


def int_cursor(cursor: str | None) -> int | None:
    """A position cursor (deliveries, run events): digits, as `next_cursor` gave them."""
    if cursor is None:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput("cursor: not a cursor this list gave", errors=[FieldError("cursor", "invalid cursor")])
    return int(cursor)
