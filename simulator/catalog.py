"""The provider registry and the event catalog: look up types, build events, produce samples."""

from __future__ import annotations

import difflib
import fnmatch
import random
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from simulator.errors import AmbiguousEventType, FieldError, InvalidInput, UnknownEventType, quoted
from simulator.ids import RunIds, derived_fraction
from simulator.models import BuildContext, Event
from simulator.overrides import apply as apply_overrides
from simulator.overrides import check as check_overrides
from simulator.overrides import check_event, problems
from simulator.providers.base import EventType, Provider
from simulator.providers.names import Names
from simulator.timeutil import add_seconds, parse_time
from simulator.world import World

# Samples use a fixed time so `sample TYPE --seed N` prints the same bytes on every machine, every day.
SAMPLE_TIME = parse_time("2025-03-14T15:09:26.535Z")

_PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Add a provider to the catalog. A second provider with the same name is a programming error."""
    if provider.name in _PROVIDERS:
        raise ValueError(f"provider {provider.name!r} registered twice")
    _PROVIDERS[provider.name] = provider
    _index.cache_clear()
    return provider


def _ensure_loaded() -> None:
    if not _PROVIDERS:
        from simulator.providers import BUILTIN

        for provider in BUILTIN:
            register(provider)


def providers() -> list[Provider]:
    _ensure_loaded()
    return [_PROVIDERS[name] for name in sorted(_PROVIDERS)]


def get_provider(name: str) -> Provider:
    _ensure_loaded()
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown provider {quoted(name)}; known: {', '.join(sorted(_PROVIDERS))}",
            errors=[FieldError("provider", f"unknown provider {quoted(name)}")],
        ) from None


def event_types(provider: str | None = None) -> list[EventType]:
    """Every registered event type, ordered by provider then name."""
    chosen = [get_provider(provider)] if provider is not None else providers()
    return [p.event_types[n] for p in chosen for n in sorted(p.event_types)]


@cache
def _index() -> dict[str, list[EventType]]:
    """Every accepted spelling (`provider:type`, bare type, aliases) to the types it names."""
    index: dict[str, list[EventType]] = {}
    for etype in event_types():
        for name in (etype.name, *etype.aliases):
            for spelling in (name, f"{etype.provider}:{name}"):
                bucket = index.setdefault(spelling, [])
                if etype not in bucket:
                    bucket.append(etype)
    return index


def resolve(name: str, provider: str | None = None, *, suggest: bool = True) -> EventType:
    """The event type `name` names: `provider:type`, the bare type where unambiguous, or an alias. An unknown one
    raises UnknownEventType with the close spellings (without, when not `suggest`: a few ms each)."""
    _ensure_loaded()
    if provider and ":" not in name:
        name = f"{provider}:{name}"
    found = _index().get(name, [])
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        keys = ", ".join(e.key for e in found)
        raise AmbiguousEventType(
            f"{quoted(name)} names several event types: {keys}",
            errors=[FieldError("type", f"ambiguous; use one of {keys}")],
        )
    raise UnknownEventType(name, _close(name) if suggest else [])


def _close(name: str) -> list[str]:
    """The spellings to suggest for an unknown `name`: the same type under its provider's name in lower case
    (`SYNCFY:credentials.created` was offered nothing), or under the provider that has it
    (`basistheory:credentials.created` was offered three Basis Theory types, never Syncfy's), else close ones."""
    provider, colon, rest = name.partition(":")
    if colon:
        exact = [s for s in _index() if ":" in s and s.partition(":")[2] == rest]
        name = f"{provider.lower()}:{rest}"
        if exact:
            return [name] if name in exact else exact[:3]
    return difflib.get_close_matches(name, _spellings(name), n=3, cutoff=0.5)


@cache
def _by_provider() -> dict[str, list[str]]:
    """Each provider's full spellings (`provider:type`). Keyed by the catalog's providers alone: a cache keyed by
    whatever prefix a request names grew with every new one a client sent."""
    spelled: dict[str, list[str]] = {}
    for spelling in _index():
        provider, colon, _ = spelling.partition(":")
        if colon:
            spelled.setdefault(provider, []).append(spelling)
    return spelled


def _spellings(name: str) -> list[str]:
    """The spellings a close match of `name` is looked for among: its provider's alone when it names one (a
    tenth of them for Syncfy, a third for Basis Theory; none for a provider the catalog lacks), else one per type
    and name (see `_bare`)."""
    provider, colon, _ = name.partition(":")
    return _by_provider().get(provider, []) if colon else _bare()


@cache
def _bare() -> list[str]:
    """The spellings without a provider, and the full ones of the names two providers share: a close match of a
    bare name offered both `credentials.refreshed` and `syncfy:credentials.refreshed`, one type twice."""
    index = _index()
    shared = {spelling for spelling, found in index.items() if ":" not in spelling and len(found) > 1}
    return [name for name in index if (name.partition(":")[2] in shared if ":" in name else name not in shared)]


def matches(filters: Iterable[str], etype: EventType) -> bool:
    """Whether a subscription's filters select `etype`. No filters select everything.

    A filter is an exact type (`provider:type`, bare, or an alias), `provider:*`, or a glob (`token.*`,
    `basistheory:token.*`).
    """
    filters = list(filters)
    if not filters:
        return True
    names = (etype.name, *etype.aliases)
    for flt in filters:
        provider, _, pattern = flt.rpartition(":")
        if provider and provider != etype.provider:
            continue
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return True
    return False


def validate_filter(flt: str) -> None:
    """Reject a filter that can never match anything (a typo), naming the closest types."""
    _ensure_loaded()
    provider, _, _pattern = flt.rpartition(":")
    if provider:
        get_provider(provider)
    if not any(matches([flt], e) for e in event_types()):
        raise UnknownEventType(flt, difflib.get_close_matches(flt, _spellings(flt), n=3, cutoff=0.5))


def build_event(
    etype: EventType, ctx: BuildContext, overrides: dict[str, Any] | None = None, *, checked: bool = True
) -> Event:
    """Build one event of `etype` from the run's world and randomness, then apply `with:` overrides.

    Each override is checked against the event's JSON Schema first (InvalidInput naming `overrides.<path>`);
    `checked=False` (a step's `unchecked: true`) lets off-schema values through, never values JSON cannot
    carry. An override of an entity's field changes the entity in the world too, so later events agree.
    """
    provider = get_provider(etype.provider)
    if overrides:
        check_overrides(provider, etype, overrides, schema=checked)
    data = etype.builder(ctx)
    if overrides:
        changed = apply_overrides(data, overrides)
        provider.follow(data, changed, overrides)  # fields the provider derives from an overridden one follow it
        if checked:
            check_event(provider, etype, changed, overrides)
        for path, value in overrides.items():
            provider.absorb(data, path, value, ctx)  # `data` shows the entities as they were
        data = changed
    return provider.finish(etype, data, ctx)


def override_problems(etype: EventType, overrides: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, message) for each override of an `etype` event its schema refuses (for checks before a run)."""
    return problems(get_provider(etype.provider), etype, overrides)


def first_delivery_lag(event: Event) -> float:
    """Seconds between an event and its first delivery attempt in the simulated timeline (0.2–5 s)."""
    return 0.2 + 4.8 * derived_fraction("lag", event.id)


def render(events: list[Event], envelope_id: str | None = None, delivered_at: datetime | None = None) -> bytes:
    """The body of one POST carrying `events` (all of one provider)."""
    provider = get_provider(events[0].provider)
    when = delivered_at or add_seconds(events[0].occurred_at, first_delivery_lag(events[0]))
    return provider.render(events, envelope_id or events[0].envelope_id or events[0].id, when)


def new_context(
    seed: int, now: datetime, params: dict[str, Any] | None = None, world: World | None = None, scope: str = ""
) -> BuildContext:
    """A fresh BuildContext with one seeded Random and the run's names; `now` is the run's start time.

    Values come from the seed alone; ids from the seed, `now` and `scope` (what is played: see `RunIds`), in a
    world of its own unless `world` is given.
    """
    world = world or World(RunIds(seed, now, scope))
    return BuildContext(world=world, rng=random.Random(seed), names=Names(seed), now=now, params=params or {})


def sample(name: str, seed: int = 0, now: datetime | None = None) -> bytes:
    """The exact body a subscriber would receive for one event of type `name`."""
    etype = resolve(name)
    event = build_event(etype, new_context(seed, now or SAMPLE_TIME))
    return render([event])


def schema(name: str) -> dict[str, Any]:
    etype = resolve(name)
    return get_provider(etype.provider).schema(etype)
