"""Identifiers: the ids of a run's events and entities (fixed by its seed, start time and scenario), and
server-side ids.

A run's ids come from `RunIds`, not from the run's `Random`: they depend on the seed, the start time and what is
played, so a replay of a scenario with the same seed and start time repeats them byte for byte while a new run
(another start time, or another scenario) never repeats an earlier run's event ids, which consumers deduplicate
on. Each kind of id (`token`, `rid`, an event
type's event ids…) has a stream of its own, so an actor's id never equals another body's `rid`.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import time
import uuid
from base64 import b64encode
from datetime import UTC, datetime

# The variant (10xx) and version (0100) bits of a version-4 UUID, as `uuid.UUID(version=4)` sets them.
_V4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_V4_SET = (0x8000 << 48) | (4 << 76)
# Server-side ids need to be unique, not unguessable: a PRNG seeded once from the OS, not a system call per id.
_ID_BITS = random.Random()
os.register_at_fork(after_in_child=_ID_BITS.seed)  # a forked child must not repeat its parent's ids


def uuid4(rng: random.Random) -> str:
    """A version-4 UUID whose bits come from `rng` (as `uuid.UUID(int=..., version=4)`, without building one)."""
    return _format_uuid4(rng.getrandbits(128))


class RunIds:
    """The ids of one run: one `Random` per kind of id, seeded with the run's seed, its start time and the kind.

    Drawing an id consumes nothing from the run's own `Random`, so the values of a story (names, amounts) stay
    those of its seed whatever the start time; only the ids move. (A stream per kind rather than a hash per id:
    an id then costs what `uuid4(rng)` costs, a third of a SHA-256.)
    """

    def __init__(self, seed: object, start: datetime | str | None = None, scope: str = "") -> None:
        moment = start.isoformat() if isinstance(start, datetime) else (start or "")
        # `scope` names what is played (a scenario and its parameters): two scenarios run with one seed and start
        # time tell different stories, and the same event id on both would make a deduplicating consumer drop one.
        self._root = f"{seed}\x1f{moment}\x1f{scope}\x1f" if scope else f"{seed}\x1f{moment}\x1f"
        self._streams: dict[str, random.Random] = {}

    @classmethod
    def fresh(cls) -> RunIds:
        """Ids of a world nobody seeded: unique, never repeated."""
        return cls(secrets.token_hex(16))

    def bits(self, kind: str, count: int) -> int:
        """The next `count` bits of the stream of `kind`."""
        return (self._streams.get(kind) or self._stream(kind)).getrandbits(count)

    def uuid4(self, kind: str) -> str:
        """A version-4 UUID, the next of `kind`."""
        # `bits` inlined: an event draws two or three of these.
        return _format_uuid4((self._streams.get(kind) or self._stream(kind)).getrandbits(128))

    def _stream(self, kind: str) -> random.Random:
        # Seeding with a string hashes it (SHA-512): the same on every platform and Python 3 release.
        stream = self._streams[kind] = random.Random(self._root + kind)
        return stream

    def object_id(self, kind: str, created: datetime) -> str:
        """A MongoDB ObjectId of `created`, the next of `kind` (5 random-looking bytes and a 3-byte counter)."""
        seconds = _object_id_seconds(created)
        return f"{seconds:08x}{(self._streams.get(kind) or self._stream(kind)).getrandbits(64):016x}"  # as uuid4


def _format_uuid4(bits: int) -> str:
    # The hex of its 16 bytes: a third cheaper than the format `f"{n:032x}"`, the same 32 digits.
    h = ((bits & _V4_CLEAR) | _V4_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def derived_uuid4(*parts: object) -> str:
    """A version-4-shaped UUID fixed by `parts` (for ids that must not consume the run's randomness)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def derived_fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`: per-delivery jitter and fault draws that replay identically."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# An ObjectId's time is 4 bytes of Unix seconds: from 1970 to 2106-02-07T06:28:15Z.
OBJECT_ID_FIRST = datetime.fromtimestamp(0, UTC)
OBJECT_ID_LAST = datetime.fromtimestamp(2**32 - 1, UTC)


class TimeBeyondIds(ValueError):
    """A time an id of the provider's cannot hold (a MongoDB ObjectId's, for Syncfy)."""


def _object_id_seconds(created: datetime) -> int:
    seconds = int(created.timestamp())
    if not 0 <= seconds < 2**32:
        raise TimeBeyondIds(
            f"{created.isoformat()} is outside what a Syncfy id holds: a MongoDB ObjectId's time runs from "
            f"{OBJECT_ID_FIRST.isoformat()} to {OBJECT_ID_LAST.isoformat()}"
        )
    return seconds


def object_id(rng: random.Random, created: datetime, counter: int | None = None) -> str:
    """A MongoDB ObjectId: 4 bytes of creation time in Unix seconds, 5 random bytes, a 3-byte counter."""
    seconds = _object_id_seconds(created)
    middle = rng.getrandbits(40)
    count = rng.getrandbits(24) if counter is None else counter % (1 << 24)
    return f"{seconds:08x}{middle:010x}{count:06x}"


def next_object_id(oid: str) -> str:
    """The ObjectId a MongoDB process would allocate right after `oid` (counter + 1)."""
    counter = (int(oid[18:], 16) + 1) % (1 << 24)
    return f"{oid[:18]}{counter:06x}"


def object_id_time(oid: str) -> int:
    """The Unix seconds embedded in an ObjectId."""
    return int(oid[:8], 16)


def new_id(prefix: str) -> str:
    """A unique id for server-side records (subscriptions, runs, deliveries, schedules).

    Not drawn from a run's seed: two runs with the same seed are still two runs. The leading milliseconds make
    ids sort by creation, which keeps cursor pagination stable.
    """
    return f"{prefix}_{int(time.time() * 1000):011x}{_ID_BITS.getrandbits(40):010x}"


def derived_id(prefix: str, at: float, key: str) -> str:
    """The id `new_id` would give at `at`, its random part drawn from `key` instead: the same `key` and `at` give
    the same id, so a thing made again for the same reason (a schedule's firing, made again after a server died
    before recording it) is found rather than made twice. A time before 1970 (a one-off's `at` in 1969 in UTC)
    counts as 1970: its milliseconds as they were, `run_-00001b…`, made an id no cursor takes."""
    bits = int.from_bytes(hashlib.sha256(f"{key}@{at!r}".encode()).digest()[:5], "big")
    return f"{prefix}_{max(0, int(at * 1000)):011x}{bits:010x}"


def new_uuid4() -> str:
    """A version-4 UUID for something the server makes (a request's trace id), from no run's seed."""
    return uuid4(_ID_BITS)


def new_secret(scheme: str) -> str | None:
    """A fresh secret in the form each signing scheme expects."""
    if scheme == "standard":
        return "whsec_" + b64encode(secrets.token_bytes(24)).decode()
    if scheme == "syncfy":
        return b64encode(secrets.token_bytes(32)).decode()
    return None
