"""The catalog, over every registered event type: schemas, the documented shapes, determinism, lookup."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from simulator import catalog
from simulator.errors import UnknownEventType
from simulator.providers.base import EventType

FIXTURES = Path(__file__).parent / "fixtures" / "spec"
TYPES = catalog.event_types()
KEYS = [etype.key for etype in TYPES]
VARIANT_SEEDS = range(30)
WILDCARD = "..."

Shape = set[tuple[str, str]]


@cache
def sample(key: str, seed: int) -> Any:
    return json.loads(catalog.sample(key, seed))


def json_type(value: Any) -> str:
    """The JSON type of `value`, with integers, floats and booleans kept apart."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    for kind, name in ((int, "int"), (float, "float"), (str, "string"), (dict, "object"), (list, "array")):
        if isinstance(value, kind):
            return name
    raise TypeError(f"not a JSON value: {value!r}")


def is_wildcard(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == [WILDCARD]


def wildcards(fixture: Any, path: str = "$") -> set[str]:
    """The paths of the fixture's `{"...": V}` objects (any keys, values like V)."""
    found: set[str] = set()
    if isinstance(fixture, dict):
        if is_wildcard(fixture):
            return {path} | wildcards(fixture[WILDCARD], f"{path}.*")
        for key, item in fixture.items():
            found |= wildcards(item, f"{path}.{key}")
    elif isinstance(fixture, list):
        for item in fixture:
            found |= wildcards(item, f"{path}[]")
    return found


def shape(value: Any, folded: frozenset[str] = frozenset(), path: str = "$") -> Shape:
    """Every (key path, JSON type) in `value`; list elements share `[]`, keys of `folded` objects share `*`."""
    pairs = {(path, json_type(value))}
    if isinstance(value, dict):
        for key, item in value.items():
            pairs |= shape(item, folded, f"{path}.*" if path in folded else f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            pairs |= shape(item, folded, f"{path}[]")
    return pairs


def shape_mismatch(body: Any, fixture: Any) -> str | None:
    """Why `body` does not have the fixture's shape, or None when it does."""
    folded = frozenset(wildcards(fixture))
    allowed = shape(fixture, folded)
    # Under a wildcard any keys may appear, including none.
    required = {(p, t) for p, t in allowed if not any(p.startswith(f"{w}.*") for w in folded)}
    got = shape(body, folded)
    missing, extra = sorted(required - got), sorted(got - allowed)
    if not missing and not extra:
        return None
    return f"missing {missing}, unexpected {extra}"


def fixture_files(etype: EventType) -> list[Path]:
    folder = FIXTURES / etype.provider
    return sorted([*folder.glob(f"{etype.name}.json"), *folder.glob(f"{etype.name}@*.json")])


@pytest.mark.parametrize("key", KEYS)
def test_sample_is_valid_against_its_schema(key: str) -> None:
    schema = catalog.schema(key)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for seed in (0, 1, 2):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(sample(key, seed))]
        assert not errors, f"{key} seed {seed}: {errors}"


@pytest.mark.parametrize("etype", TYPES, ids=KEYS)
def test_sample_has_the_documented_shape(etype: EventType) -> None:
    files = fixture_files(etype)
    assert files, f"no fixture for {etype.key}: add {FIXTURES / etype.provider / etype.name}.json"
    variants = {path.name: json.loads(path.read_text()) for path in files}
    matched: set[str] = set()
    for seed in VARIANT_SEEDS:
        body = sample(etype.key, seed)
        reasons = {name: shape_mismatch(body, fixture) for name, fixture in variants.items()}
        fits = {name for name, reason in reasons.items() if reason is None}
        assert fits, f"{etype.key} seed {seed} matches no fixture: {reasons}"
        matched |= fits
    unmatched = sorted(set(variants) - matched)
    assert not unmatched, f"{etype.key}: no seed in 0..29 produced {unmatched}"


def test_every_fixture_names_a_registered_type() -> None:
    names = {(etype.provider, etype.name) for etype in TYPES}
    stray = [
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.glob("*/*.json")
        if (path.parent.name, path.stem.split("@")[0]) not in names
    ]
    assert not stray, f"fixtures for unregistered types: {stray}"


@pytest.mark.parametrize("etype", TYPES, ids=KEYS)
def test_same_seed_same_bytes_other_seed_other_ids(etype: EventType) -> None:
    random.seed(1)
    first = catalog.sample(etype.key, 7)
    random.seed(2)  # the global random state must not matter
    second = catalog.sample(etype.key, 7)
    assert first == second
    other = catalog.sample(etype.key, 8)
    assert other != first
    ids = {catalog.build_event(etype, catalog.new_context(seed, catalog.SAMPLE_TIME)).id for seed in (7, 8)}
    assert len(ids) == 2


def test_registry_holds_every_documented_type() -> None:
    counts = {provider.name: len(catalog.event_types(provider.name)) for provider in catalog.providers()}
    assert counts == {"syncfy": 6, "basistheory": 48}
    assert {e.name for e in catalog.event_types("syncfy")} == {
        "credentials.created",
        "credentials.updated",
        "credentials.refreshed",
        "documents.completed",
        "documents.success",
        "documents.failed",
    }


@pytest.mark.parametrize("etype", TYPES, ids=KEYS)
def test_every_spelling_resolves(etype: EventType) -> None:
    assert catalog.resolve(etype.key) is etype
    assert catalog.resolve(etype.name, provider=etype.provider) is etype
    if sum(e.name == etype.name for e in TYPES) == 1:
        assert catalog.resolve(etype.name) is etype
    for alias in etype.aliases:
        assert catalog.resolve(alias) is etype
        assert catalog.resolve(f"{etype.provider}:{alias}") is etype


def test_documents_fail_is_an_alias_of_documents_failed() -> None:
    assert catalog.resolve("documents.fail").key == "syncfy:documents.failed"
    assert catalog.resolve("syncfy:documents.fail").key == "syncfy:documents.failed"
    body = json.loads(catalog.sample("documents.fail"))
    assert body["events"][0]["header"]["event"]["name"] == "documents.failed"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("credentials.create", "credentials.created"),
        ("syncfy:documents.faild", "syncfy:documents.failed"),
        ("tokne.created", "token.created"),
    ],
)
def test_unknown_type_names_close_matches(name: str, expected: str) -> None:
    with pytest.raises(UnknownEventType) as caught:
        catalog.resolve(name)
    assert expected in caught.value.suggestions
    assert "did you mean" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "offered"),
    [
        ("SYNCFY:credentials.created", ["syncfy:credentials.created"]),  # its provider's name in lower case
        ("basistheory:credentials.created", ["syncfy:credentials.created"]),  # the provider that has it
        ("SyncFy:credentals.created", ["syncfy:credentials.created"]),  # close, once the provider is read
    ],
)
def test_a_type_under_a_wrong_provider_or_its_case_is_offered_as_it_is(name: str, offered: list[str]) -> None:
    """Nothing was offered for a provider's name in upper case, and three types of the wrong provider for a type
    it does not have."""
    with pytest.raises(UnknownEventType) as caught:
        catalog.resolve(name)
    assert caught.value.suggestions[: len(offered)] == offered


@pytest.mark.parametrize("name", ["credentials.refresh", "token.craeted", "documents.succes", "token.*x"])
def test_close_matches_name_each_type_once(name: str) -> None:
    """A bare name is matched among bare names: `credentials.refreshed` was offered beside
    `syncfy:credentials.refreshed`, one type twice, crowding out a third."""
    with pytest.raises(UnknownEventType) as caught:
        catalog.validate_filter(name) if "*" in name else catalog.resolve(name)
    offered = caught.value.suggestions
    assert offered and all(":" not in spelling for spelling in offered), offered
    assert len({catalog.resolve(spelling).key for spelling in offered}) == len(offered), offered


def test_a_name_two_providers_share_is_offered_with_its_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = {
        "credentials.refreshed": [_fake("syncfy", "credentials.refreshed"), _fake("other", "credentials.refreshed")]
    }
    index = {**shared, "syncfy:credentials.refreshed": [], "other:credentials.refreshed": [], "token.created": []}
    monkeypatch.setattr(catalog, "_index", lambda: index)
    monkeypatch.setattr(catalog, "_bare", catalog._bare.__wrapped__)  # uncached: the real one is the catalog's
    assert catalog._bare() == ["syncfy:credentials.refreshed", "other:credentials.refreshed", "token.created"]


def test_unknown_type_without_anything_close() -> None:
    with pytest.raises(UnknownEventType) as caught:
        catalog.resolve("zzzz")
    assert caught.value.suggestions == []


def _fake(provider: str, name: str, aliases: tuple[str, ...] = ()) -> EventType:
    return EventType(provider, name, "", lambda ctx: {}, aliases)


@pytest.mark.parametrize(
    ("filters", "etype", "selected"),
    [
        ([], _fake("syncfy", "credentials.created"), True),
        (["credentials.created"], _fake("syncfy", "credentials.created"), True),
        (["credentials.created"], _fake("syncfy", "credentials.updated"), False),
        (["syncfy:credentials.created"], _fake("syncfy", "credentials.created"), True),
        (["documents.fail"], _fake("syncfy", "documents.failed", ("documents.fail",)), True),
        (["syncfy:documents.fail"], _fake("syncfy", "documents.failed", ("documents.fail",)), True),
        (["syncfy:*"], _fake("syncfy", "documents.success"), True),
        (["syncfy:*"], _fake("basistheory", "token.created"), False),
        (["basistheory:*", "credentials.updated"], _fake("syncfy", "credentials.updated"), True),
        (["documents.*"], _fake("syncfy", "documents.success"), True),
        (["documents.*"], _fake("syncfy", "credentials.refreshed"), False),
        (["token.*"], _fake("basistheory", "token.created"), True),
        (["token.*"], _fake("basistheory", "token.property.expired"), True),
        (["token.*"], _fake("basistheory", "token-intent.created"), False),
        (["basistheory:token.*"], _fake("basistheory", "token.deleted"), True),
        (["syncfy:token.*"], _fake("basistheory", "token.deleted"), False),
    ],
)
def test_filters_select_types(filters: list[str], etype: EventType, selected: bool) -> None:
    assert catalog.matches(filters, etype) is selected


def test_registered_types_match_filters() -> None:
    failed = catalog.resolve("documents.failed")
    assert catalog.matches(["documents.fail"], failed)
    assert [e.name for e in TYPES if catalog.matches(["syncfy:documents.*"], e)] == [
        "documents.completed",
        "documents.failed",
        "documents.success",
    ]


def test_shape_comparison_tells_types_and_paths_apart() -> None:
    fixture = {"a": 1, "b": [{"c": "x"}, {"d": None}], "m": {WILDCARD: 1.5}}
    assert shape_mismatch({"a": 2, "b": [{"d": None, "c": "y"}], "m": {"k": 0.5, "j": 2.5}}, fixture) is None
    assert shape_mismatch({"a": 2, "b": [{"c": "y"}, {"d": None}], "m": {}}, fixture) is None
    assert shape_mismatch({"a": True, "b": [{"c": "y", "d": None}], "m": {}}, fixture)
    assert shape_mismatch({"a": 1.0, "b": [{"c": "y", "d": None}], "m": {}}, fixture)
    assert shape_mismatch({"a": 1, "b": [{"c": "y"}], "m": {}}, fixture)
    assert shape_mismatch({"a": 1, "b": [{"c": "y", "d": None}], "m": {"k": 1}}, fixture)
    assert shape_mismatch({"a": 1, "b": [{"c": "y", "d": None}], "m": {}, "z": 0}, fixture)


def own_ids(body: dict[str, Any]) -> set[str]:
    """The ids a sample's delivery is deduplicated and traced by: Syncfy's `rid` and `eid`s, Basis Theory's
    event id and trace id."""
    if "events" in body:
        return {body["rid"], *(e["header"]["event"]["eid"] for e in body["events"])}
    return {body["event"]["id"], body["event"]["trace_id"]}


def strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@pytest.mark.parametrize("seed", [0, 1])
def test_samples_of_one_seed_never_share_an_event_id_or_reuse_it_as_another_kind_of_id(seed: int) -> None:
    bodies = {key: sample(key, seed) for key in KEYS}
    owned = {key: own_ids(body) for key, body in bodies.items()}
    everything = [i for ids in owned.values() for i in ids]
    assert len(everything) == len(set(everything)), "two samples share an event id"
    for key, body in bodies.items():
        others = set(everything) - owned[key]
        reused = others & set(strings(body))
        assert not reused, f"{key} carries another sample's event id as one of its own values: {reused}"


def test_unknown_providers_a_client_names_are_not_remembered() -> None:
    """The close-spelling search kept a list per prefix a request named (`POST /events {"type": "x1:t"}`): memory
    that grew with every new one."""
    from simulator import catalog

    for i in range(50):
        with pytest.raises(UnknownEventType):
            # A type no provider has: an existing one under an unknown provider is offered as it is, and the
            # close-spelling search (the cache) is never reached, whatever ran before.
            catalog.resolve(f"nobody{i}:tokn.creatd")
    assert catalog._by_provider.cache_info().currsize == 1
    assert set(catalog._by_provider()) == {"syncfy", "basistheory"}
