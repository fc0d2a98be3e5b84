"""Time formats of the providers, durations, and the clock a run reads time from."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

# ASCII digits only: `float("١٢")` reads Arabic-Indic digits, which no documented form of a duration has.
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: str | int | float) -> float:
    """Seconds in `value`: a number of seconds or a string like `500ms`, `2s`, `5m`, `1h`, `1d`."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        try:
            return float(value)
        except OverflowError:  # a whole number past a float: infinite, as the same digits as text read
            return math.inf
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (expected e.g. 500ms, 2s, 5m, 1h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def utc(dt: datetime) -> datetime:
    """`dt` as an aware UTC datetime (naive values are taken to be UTC)."""
    if dt.tzinfo is UTC:
        return dt
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_time(value: str) -> datetime:
    """An ISO 8601 time; `Z` and offsets accepted, naive taken as UTC."""
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


# The last two times `iso_ms` formatted, and how: an attempt formats its time twice (its body, its record), and an
# event its own time twice with another between (a token's `created_at`, its `expires_at`, the event's `timestamp`).
# Held here, a time is never another's that reuses its memory.
_last_ms: tuple[datetime | None, str, datetime | None, str] = (None, "", None, "")


def iso_ms(dt: datetime) -> str:
    """Basis Theory's format: `2024-04-09T13:56:37.864Z`."""
    global _last_ms
    last = _last_ms  # one read: another thread may set it meanwhile
    if dt is last[0]:
        return last[1]
    if dt is last[2]:
        return last[3]
    text = _stamp("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", dt, 1000)
    _last_ms = (dt, text, last[0], last[1])
    return text


def syncfy_at(dt: datetime) -> str:
    """Syncfy's `header.event.at` format: `2023-06-16 19:06:18.944575+0000`."""
    return _stamp("%04d-%02d-%02d %02d:%02d:%02d.%06d+0000", dt, 1)


def _stamp(form: str, dt: datetime, per_fraction: int) -> str:
    """`form` filled with `utc(dt)`'s year, month, day, hour, minute, second and microseconds // `per_fraction`.

    By hand, not isoformat or strftime: the providers format several times an event, and this costs two thirds of
    isoformat (and half of the same with an f-string's format specifiers)."""
    if dt.tzinfo is not UTC:
        dt = utc(dt)
    return form % (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond // per_fraction)


def add_seconds(dt: datetime, seconds: float) -> datetime:
    return dt + timedelta(seconds=seconds)


def now_utc() -> datetime:
    return datetime.now(UTC)


class DeliveryClock:
    """The wall-clock time of each delivery attempt, never earlier than the previous one for the same key.

    Basis Theory's `delivered_at` is the real time of the attempt (consumers reject one far from now), and a
    subscription's deliveries must not appear to go back in time when the system clock steps back.
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def stamp(self, key: str, now: float) -> datetime:
        """`now` (Unix seconds), raised to the last stamp given for `key`."""
        moment = max(now, self._last.get(key, now))
        self._last[key] = moment
        return datetime.fromtimestamp(moment, UTC)

    def forget(self, key: str) -> None:
        self._last.pop(key, None)
