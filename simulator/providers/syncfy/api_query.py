"""Listing derived rows: the rows of several windows (segments) read as one list, filtered by account, by a
`dt_refresh` range or by one row id, then cut by `skip`/`limit`. Every step is arithmetic on index ranges, so a
page costs its own rows whatever the window sizes. Pure functions: no HTTP, no SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.providers.syncfy.api_data import (
    Owner,
    Window,
    WindowRows,
    account,
    account_index,
    dumps,
    window_account,
)

Row = str  # one row as JSON text


@dataclass(frozen=True)
class Segment:
    """`n` rows of one kind: `row(i)` writes row `i` as JSON, `refreshed(i)` is its non-decreasing `dt_refresh`,
    `own_id(i)` its id, and `stride` says that row `i` belongs to the owner's account `i mod stride` (0: rows are
    accounts that name their own ids)."""

    n: int
    row: Callable[[int], Row]
    refreshed: Callable[[int], int]
    owner: Owner
    stride: int = 0
    window: Window | None = None
    kind: str = ""
    offset: int = 0  # the window's row that is this segment's row 0
    own_id: Callable[[int], str] | None = None
    # Transactions: rows below this one carry an attachment (the invoice of the same index), the rest none.
    attached: int | None = None
    file: Callable[[int, Mapping[str, Any]], bytes] | None = None  # attachments: row `i`'s file, given its row

    def first_at_or_after(self, t: int) -> int:
        lo, hi = 0, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.refreshed(mid) < t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def indices(self, since: int | None, until: int | None, id_account: str | None) -> range:
        """The indices of the rows passing the filters, as a range (so counting and slicing are O(1))."""
        lo = 0 if since is None else self.first_at_or_after(since)
        hi = self.n if until is None else self.first_at_or_after(until + 1)
        if id_account is None:
            return range(lo, max(lo, hi))
        j = account_index(self.owner, id_account)
        if self.stride and j is not None:
            start = j if lo <= j else j + -(-(lo - j) // self.stride) * self.stride
            return range(start, max(start, hi), self.stride)
        return self._own_row(lo, hi, id_account)

    def _own_row(self, lo: int, hi: int, oid: str) -> range:
        """Rows that carry their own id: the one whose id is `oid`, if it lies in [lo, hi)."""
        if self.window is None or len(oid) != 24:
            return range(0)
        try:
            i = self.window.row_index(self.kind, oid) - self.offset
        except ValueError:
            return range(0)
        found = self.own_id is not None and lo <= i < hi and self.own_id(i) == oid
        return range(i, i + 1) if found else range(0)


def window_rows(rows: WindowRows, kind: str) -> Segment:
    """A window's transactions or attachments."""
    n = rows.n_tx if kind == "transactions" else rows.n_att
    row, own_id = (
        (rows.transaction, rows.transaction_id) if kind == "transactions" else (rows.attachment, rows.attachment_id)
    )
    file = rows.invoice if kind == "attachments" else None
    refreshed = lambda i: rows.window.refreshed_at(i, n)  # noqa: E731
    attached = min(rows.n_att, n) if kind == "transactions" else None
    return Segment(
        n, row, refreshed, rows.owner, rows.nb, rows.window, kind, own_id=own_id, attached=attached, file=file
    )


def window_accounts(owner: Owner, window: Window, counts: dict[str, int], first: int = 0) -> Segment:
    """A window's accounts (from row `first`: 0 for the window as refreshed, the base count for its extras)."""
    n = counts["accounts"]
    return Segment(
        n - first,
        lambda i: dumps(window_account(owner, window, i + first, n)),
        lambda i: window.refreshed_at(i + first, n),
        owner,
        owner.base_accounts() if first == 0 else 0,
        window,
        "accounts",
        first,
        own_id=lambda i: window.row_id("accounts", i + first, n),
    )


def current_accounts(owner: Owner, refreshed: int, salt: str) -> Segment:
    """The credential's own accounts as they stand (refreshed at `refreshed`, balances drawn from `salt`)."""
    nb = owner.base_accounts()
    return Segment(nb, lambda j: dumps(account(owner, j, refreshed, salt)), lambda _j: refreshed, owner, nb)


@dataclass(frozen=True)
class Filters:
    """What a list request keeps: a `dt_refresh` range, one account, one row by its own id, rows with or without
    an attachment (`has_attachment`), disabled rows or the others (`is_disable`: no row is ever disabled)."""

    since: int | None = None
    until: int | None = None
    id_account: str | None = None
    only: str | None = None
    attached: bool | None = None
    disabled: bool | None = None


def page(segments: Sequence[Segment], **given: Any) -> Iterator[Row]:
    """The rows of `segments`, in order, as `places` chooses them."""
    return (segment.row(i) for segment, i in places(segments, **given))


def places(
    segments: Sequence[Segment],
    *,
    skip: int = 0,
    limit: int | None = None,
    filters: Filters = Filters(),
) -> Iterator[tuple[Segment, int]]:
    """Where the rows of `segments` are, in order, passing `filters`, from `skip` on, at most `limit` of them."""
    left = limit
    for segment in segments:
        if left is not None and left <= 0:
            return
        chosen = _chosen(segment, filters)
        if skip >= len(chosen):
            skip -= len(chosen)
            continue
        cut = chosen[skip:] if left is None else chosen[skip : skip + left]
        skip = 0
        if left is not None:
            left -= len(cut)
        for i in cut:
            yield segment, i


def count(segments: Sequence[Segment], filters: Filters = Filters()) -> int:
    return sum(len(_chosen(s, filters)) for s in segments)


def _chosen(segment: Segment, filters: Filters) -> range:
    if filters.disabled:
        return range(0)
    chosen = segment.indices(filters.since, filters.until, filters.id_account)
    if filters.attached is not None and segment.attached is not None:
        lo, hi = (0, segment.attached) if filters.attached else (segment.attached, segment.n)
        chosen = _within(chosen, lo, hi)
    if filters.only is None:
        return chosen
    mine = segment._own_row(0, segment.n, filters.only)
    return mine if mine and mine[0] in chosen else range(0)


def _within(chosen: range, lo: int, hi: int) -> range:
    """The part of `chosen` (ascending) that lies in [lo, hi), still a range: counting stays O(1)."""
    step = chosen.step
    first = max(0, -(-(lo - chosen.start) // step))
    end = max(0, -(-(hi - chosen.start) // step))
    return chosen[first:end]
