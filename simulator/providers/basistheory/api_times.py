"""How the Basis Theory API twin writes times in its REST objects. Pure.

Basis Theory's REST objects carry .NET offsets (`2020-09-15T15:53:00+00:00`, a 3DS session's
`2025-03-28T11:26:42.3528855+00:00`: the fraction only as long as it needs, none when zero), while its webhook
payloads write `2024-04-09T13:56:37.864Z`. The twin keeps every object as its events told it and restyles the
times only in the REST answer, so the instants stay the events' to the millisecond. A token's `expires_at` is
answered with the offset its creator gave (the docs echo `2030-08-26T19:23:57-07:00`). Webhook management objects
keep the `Z` form, as Basis Theory's webhooks API documents them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

# The REST objects' time fields (a 3DS session's have names of their own).
FIELDS = ("created_at", "modified_at", "expires_at", "created_date", "modified_date", "expiration_date")


def rest_time(moment: datetime) -> str:
    """`moment` as the REST objects write it, in its own offset, to the millisecond."""
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    text = moment.replace(microsecond=0).isoformat()
    if moment.microsecond:
        fraction = f".{moment.microsecond:06d}".rstrip("0")
        text = text[:19] + fraction + text[19:]
    return text


@lru_cache(maxsize=4096)
def _restyled(text: str) -> str:
    """An event's time (`…sssZ`) in the REST style; what is not a time stays as it was."""
    moment = instant(text)
    return text if moment is None else rest_time(moment)


def restyled(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a REST object with its times (and its application keys' times) in the REST style."""
    out = dict(obj)
    for field in FIELDS:
        if isinstance(out.get(field), str):
            out[field] = _restyled(out[field])
    keys = out.get("keys")
    if isinstance(keys, list):
        out["keys"] = [restyled(k) if isinstance(k, Mapping) else k for k in keys]
    return out


def instant(text: Any) -> datetime | None:
    """The moment a time string names (UTC), None for what is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # not a time, or one an offset takes past the years 1 to 9999
        return None
