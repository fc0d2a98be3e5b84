"""What every provider folder provides: its event types, how an event is finished and serialised, its
envelope, its native signing scheme and its default retry policy. No HTTP, no storage."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from json import encoder as _encoder
from pathlib import Path
from typing import Any, ClassVar

import orjson

from simulator.models import BuildContext, Event, RetryPolicy

Builder = Callable[[BuildContext], dict[str, Any]]

# The standard library's C encoder, None on an interpreter without it (json.dumps then goes the Python way too).
_C_ENCODER: Any = getattr(_encoder, "c_make_encoder", None)
_DEFAULT = json.JSONEncoder().default  # what json.dumps calls for a value it cannot serialise: a TypeError


def compact_json(value: Any, *, ensure_ascii: bool, allow_nan: bool = True) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=ensure_ascii, allow_nan=allow_nan)`: the same
    string, made by orjson where it is the same (`_orjson`), else by the same C encoder with the same arguments,
    or the same error.

    json.dumps builds a JSONEncoder, then a C encoder, for every call; made here directly, serialising the
    catalog's bodies costs 4.6 µs each against 7.3, on every event a run builds. A `markers` dict each encoder
    keeps the check for circular data json.dumps makes.
    """
    if type(value) is dict and (text := _orjson(value, ensure_ascii)) is not None:
        return text
    if _C_ENCODER is None or isinstance(value, str):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=ensure_ascii, allow_nan=allow_nan)
    free = _FREE.setdefault((ensure_ascii, allow_nan), [])
    try:
        encode = free.pop()
    except IndexError:
        strings = _encoder.encode_basestring_ascii if ensure_ascii else _encoder.encode_basestring
        encode = _C_ENCODER({}, _DEFAULT, strings, None, ":", ",", False, False, allow_nan)
    text = "".join(encode(value, 0))
    free.append(encode)  # only after a call that succeeded: one that failed may leave ids in its `markers`
    return text


# orjson writes a subclass, a datetime or a dataclass only through a `default`, which it is not given: it raises,
# and the C encoder says what json.dumps says of them.
_ORJSON = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# What orjson may write otherwise than json.dumps: NaN and infinities as `null`, a float under 1e-4 without an
# exponent (`0.00001` for `1e-05`), and a one-digit negative exponent (`1e-7` for `1e-07`). A string holding such
# text sends the value the C encoder's way too: slower, never different. (Three searches: one pattern of the three
# took 4.7 µs a body, against 1.8.)
_SHORT_EXPONENT = re.compile(rb"e-[0-9][],}]")


def _orjson(value: dict[str, Any], ensure_ascii: bool) -> str | None:
    """`value` in orjson's compact JSON where it is json.dumps's to the byte, else None.

    orjson writes a body in a third of the C encoder's time (3 µs of 9 for a Basis Theory token's), on every event
    a run builds. Where they can differ, it raises or its output says so (`_SHORT_EXPONENT`): keys that are not strings,
    integers past 64 bits, lone surrogates, text outside ASCII where ASCII is asked for, NaN, small floats and
    exponents. Only a `uuid.UUID` or an `enum.Enum` it writes where json.dumps raises: no builder makes one, and no
    JSON or YAML input can hold one.
    """
    try:
        data = orjson.dumps(value, option=_ORJSON)
    except orjson.JSONEncodeError:
        return None
    if b"null" in data or b"0.0000" in data or _SHORT_EXPONENT.search(data) is not None:
        return None
    if ensure_ascii and not data.isascii():
        return None
    return data.decode()


# Encoders `compact_json` made, free for its next calls, by (ensure_ascii, allow_nan): making one costs 0.7 µs, of
# the 6 to 9 an event's body costs. A call takes one for itself (`pop` and `append` are atomic: another thread's
# call never uses it at the same time), and an encoder's `markers` are empty again when it returns, as a fresh
# one's are.
_FREE: dict[tuple[bool, bool], list[Any]] = {}


def new_event(
    id_: str,
    provider: str,
    type_: str,
    occurred_at: datetime,
    data: dict[str, Any],
    text: str,
    envelope_id: str | None = None,
) -> Event:
    """`Event(id_, provider, type_, occurred_at, data, text, envelope_id)`, made as `Event.numbered` makes its
    copies: the frozen dataclass's `__init__` sets each field through `object.__setattr__`, 1.9 µs for an event's
    ten against 0.6 here, on every event a run builds. Every field is set, in the class's order, so the record is
    the one `__init__` makes (`tests/providers/test_draws.py` compares them)."""
    event: Event = object.__new__(Event)
    event.__dict__.update(
        id=id_,
        provider=provider,
        type=type_,
        occurred_at=occurred_at,
        data=data,
        json=text,
        envelope_id=envelope_id,
        seq=0,
        run_id=None,
        ends_with=None,
    )
    return event


@dataclass(frozen=True)
class EventType:
    provider: str
    name: str
    description: str
    builder: Builder
    aliases: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.name}"


class Provider(ABC):
    """One emulated provider. Subclasses set the class attributes and register builders with `event`."""

    name: ClassVar[str]
    title: ClassVar[str]
    native_signing: ClassVar[str]
    retry_policy: ClassVar[RetryPolicy]
    # How many events one POST may carry (Syncfy's `events` array); 1 where the envelope holds one event.
    max_batch: ClassVar[int] = 1
    # Where the per-event object (what builders return, what `with:` paths start from) sits in the body's
    # JSON Schema: a key, or a list index as a string.
    event_path: ClassVar[tuple[str, ...]] = ()
    # An event type whose later event of the same step name ends what it began at a time the scenario fixes
    # (`token.created` → `token.expired`): a run tells the first one's builder when (`BuildContext.ends`), so a
    # token's `expires_at` is the moment its token.expired comes.
    # A type that several end (a job's outcomes) lists them all: the run records which one did (`Event.ends_with`).
    ends: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # Run parameters the builders read as one of a few words, case aside (Syncfy's `environment`): a scenario
    # declaring one takes those words alone, and the OpenAPI document says so.
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __init__(self) -> None:
        self.event_types: dict[str, EventType] = {}

    def event(self, name: str, description: str, aliases: tuple[str, ...] = ()) -> Callable[[Builder], Builder]:
        """Register the decorated function as the builder of event type `name`; duplicates fail loudly."""

        def register(builder: Builder) -> Builder:
            if name in self.event_types:
                raise ValueError(f"event type {self.name}:{name} registered twice")
            self.event_types[name] = EventType(self.name, name, description, builder, aliases)
            return builder

        return register

    @abstractmethod
    def finish(self, etype: EventType, data: dict[str, Any], ctx: BuildContext) -> Event:
        """Turn a built (and possibly overridden) per-event object into the Event record."""

    @abstractmethod
    def render(self, events: Sequence[Event], envelope_id: str, delivered_at: datetime) -> bytes:
        """The exact bytes of one POST carrying `events`."""

    def earlier_render(self, events: Sequence[Event], envelope_id: str) -> bytes | None:
        """The bytes an earlier release's `render` gave for `events` where they differ from today's, else None
        (see `simulator.core.sent`)."""
        return None

    @abstractmethod
    def absorb(self, data: dict[str, Any], path: str, value: Any, ctx: BuildContext) -> None:
        """Carry an override into the world when `path` is a field of an entity the event shows (`data` is the
        event before the override), so later events of that entity agree with it; otherwise do nothing."""

    @abstractmethod
    def follow(self, before: dict[str, Any], after: dict[str, Any], overrides: Mapping[str, Any]) -> None:
        """Make the fields of `after` (the event overridden) that this provider derives from an overridden field
        agree with it, as the provider's own events always do; `before` is the event as built."""

    def param_problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(parameter, what is wrong) for each run parameter this provider's builders read themselves that
        `params` give a value they cannot use; checked before a run starts, and by `validate` for the defaults."""
        return []

    @cached_property
    def schema_dir(self) -> Path:
        import importlib

        module = importlib.import_module(type(self).__module__)
        return Path(module.__file__ or "").parent / "schemas"

    def schema(self, etype: EventType) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the delivered body of `etype`."""
        path = self.schema_dir / f"{etype.name}.json"
        return json.loads(path.read_text())
