"""Cursor pagination, shared by every list: the store's, the schedules' and the API's."""

from __future__ import annotations

import re
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
    checked_cursor(cursor, lambda c: c.isascii() and c.isdigit() and len(c) <= 18)
    return int(cursor)


def id_cursor(cursor: str | None, prefix: str) -> str | None:
    """An id cursor (runs, subscriptions, schedules): an id of the list's kind, as `next_cursor` gave it. Any text
    is a place in the order of ids, but a cursor no list gives paged to an empty page, and the caller took it for
    the end of the list."""
    return checked_cursor(cursor, lambda c: re.fullmatch(id_cursor_pattern(prefix), c) is not None)


def checked_cursor(cursor: str | None, gave: Callable[[str], bool]) -> str | None:
    """`cursor`, if `gave` says the list could have given it (422 naming `cursor` otherwise): any text is a place
    in a list's order, but one no page gives paged silently, often to an empty page taken for the list's end."""
    if cursor is not None and not gave(cursor):
        raise InvalidInput("cursor: not a cursor this list gave", errors=[FieldError("cursor", "invalid cursor")])
    return cursor


def id_cursor_pattern(prefix: str) -> str:
    """What `id_cursor` takes, as the API's document states it."""
    return rf"^{prefix}_[0-9a-z]{{1,64}}$"
