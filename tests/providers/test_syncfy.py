"""Syncfy's events: ids and times that agree, one coherent story per run, the documented values."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from jsonschema import Draft202012Validator

from simulator import catalog
from simulator.errors import InvalidInput
from simulator.ids import next_object_id, object_id_time
from simulator.models import BuildContext
from simulator.providers.syncfy._values import ENVIRONMENTS, REFRESH_JOB_TYPE, rfc_check_digit
from simulator.timeutil import add_seconds

FIXTURES = Path(__file__).parent.parent / "fixtures" / "spec" / "syncfy"
START = catalog.SAMPLE_TIME
SEEDS = range(20)
FISCAL = "56cf4f5b784806cf028b4569"
SITE_KEYS = ("id_site", "id_site_organization", "id_site_organization_type")
LIFECYCLE = (
    ("credentials.created", 0.0),
    ("credentials.updated", 5.0),
    ("credentials.refreshed", 3600.0),
    ("documents.completed", 3700.0),
    ("documents.success", 3700.005),
)


def emit(ctx: BuildContext, name: str, after: float = 0.0, ref: str | None = None) -> dict[str, Any]:
    """One event of `name`, `after` seconds into the run, as a subscriber receives it."""
    moment = replace(ctx, now=add_seconds(START, after), ref=ref)
    event = catalog.build_event(catalog.resolve(name, provider="syncfy"), moment)
    return json.loads(catalog.render([event]))["events"][0]


def story(seed: int, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The lifecycle; its credential is fiscal unless `params` say otherwise, since its documents download."""
    ctx = catalog.new_context(seed, START, {"institution": "fiscal", **(params or {})})
    return [emit(ctx, name, after) for name, after in LIFECYCLE]


def at_seconds(event: dict[str, Any]) -> float:
    return datetime.strptime(event["header"]["event"]["at"], "%Y-%m-%d %H:%M:%S.%f%z").timestamp()


def site(event: dict[str, Any]) -> tuple[str, ...]:
    return tuple(event["payload"][key] for key in SITE_KEYS)


def job_ids(event: dict[str, Any]) -> tuple[str, str]:
    return event["payload"]["id_job"], event["payload"]["id_job_uuid"]


@pytest.mark.parametrize("seed", SEEDS)
def test_new_entities_carry_the_event_time(seed: int) -> None:
    created = emit(catalog.new_context(seed, START), "credentials.created")
    at = at_seconds(created)
    for key in ("id_credential", "id_job", "id_job_uuid"):
        assert 0 <= at - object_id_time(created["payload"][key]) <= 2.5, key
    # The user signed up before registering the credential.
    assert object_id_time(created["header"]["user"]["id_user"]) < at - 3000


@pytest.mark.parametrize("seed", SEEDS)
def test_job_ids_are_consecutive_in_the_documented_order(seed: int) -> None:
    created, updated, refreshed, completed, success = story(seed)
    for event in (created, updated, completed, success):
        id_job, id_job_uuid = job_ids(event)
        assert next_object_id(id_job) == id_job_uuid
    id_job, id_job_uuid = job_ids(refreshed)
    assert next_object_id(id_job_uuid) == id_job  # the refresh example lists id_job_uuid first


@pytest.mark.parametrize("seed", SEEDS)
def test_a_run_tells_one_story(seed: int) -> None:
    created, updated, refreshed, completed, success = story(seed)
    events = (created, updated, refreshed, completed, success)
    assert len({json.dumps(e["header"]["user"], sort_keys=True) for e in events}) == 1
    assert created["payload"]["id_external"] == created["header"]["user"]["id_external"]
    for key in ("id_credential", "id_job", "id_job_uuid", *SITE_KEYS):
        assert updated["payload"][key] == created["payload"][key]
    assert refreshed["payload"]["id_credential"] == created["payload"]["id_credential"]
    assert site(refreshed) == site(created)
    assert job_ids(refreshed)[0] not in job_ids(created)
    assert object_id_time(refreshed["payload"]["id_job"]) >= object_id_time(created["payload"]["id_job"])
    # completed and success report the same documents job, each with its own download link.
    assert job_ids(completed) == job_ids(success)
    assert completed["payload"]["endpoints"] != success["payload"]["endpoints"]
    # The documents come from the credential the story announced.
    assert site(completed) == site(success) == site(created) and site(created)[2] == FISCAL


def test_documents_never_name_a_credential_the_story_did_not_announce() -> None:
    # Only a bank credential was announced: its documents, never those of a fiscal credential made up for them.
    ctx = catalog.new_context(2, START, {"institution": "bank"})
    created = emit(ctx, "credentials.created")
    completed = emit(ctx, "documents.completed", 60)
    assert site(created)[2] != FISCAL and site(completed) == site(created)
    assert [c["id_credential"] for c in ctx.world.all("credential")] == [created["payload"]["id_credential"]]


def test_documents_of_a_bank_customer_come_from_their_announced_fiscal_credential() -> None:
    ctx = catalog.new_context(3, START, {"institution": "fiscal"})
    fiscal = emit(ctx, "credentials.created")
    bank = emit(replace(ctx, params={"institution": "bank"}), "credentials.created", 5)
    assert site(bank)[2] != FISCAL and bank["header"]["user"] == fiscal["header"]["user"]
    completed = emit(ctx, "documents.completed", 60)  # the latest credential is the bank one
    assert site(completed) == site(fiscal)


@pytest.mark.parametrize("institution", ["bank", "fiscal"])
def test_institution_param_chooses_the_kind_of_site(institution: str) -> None:
    def created(seed: int, kind: str) -> dict[str, Any]:
        return emit(catalog.new_context(seed, START, {"institution": kind}), "credentials.created")

    assert {site(created(seed, institution))[2] == FISCAL for seed in range(12)} == {institution == "fiscal"}
    with pytest.raises(InvalidInput, match="institution"):
        created(0, "casino")


def test_a_documents_job_reports_one_outcome() -> None:
    ctx = catalog.new_context(3, START)
    first = emit(ctx, "documents.completed")
    success = emit(ctx, "documents.success", 0.01)
    again = emit(ctx, "documents.success", 600)
    assert job_ids(first) == job_ids(success)
    assert job_ids(again) != job_ids(success)
    assert site(again) == site(success)


@pytest.mark.parametrize("seed", SEEDS)
def test_legacy_names_and_is_executing(seed: int) -> None:
    created, updated, refreshed, completed, success = story(seed)
    assert (created["payload"]["event"], created["payload"]["is_executing"]) == ("credential_create", 1)
    assert (updated["payload"]["event"], updated["payload"]["is_executing"]) == ("credential_update", 0)
    assert refreshed["payload"]["event"] == "refresh"
    for event in (refreshed, completed, success):
        assert "is_executing" not in event["payload"]
    for event in (completed, success):
        assert "event" not in event["payload"]
        assert "id_credential" not in event["payload"]


@pytest.mark.parametrize("seed", SEEDS)
def test_refresh_links_page_through_what_changed(seed: int) -> None:
    _, _, refreshed, _, _ = story(seed)
    payload, at = refreshed["payload"], at_seconds(refreshed)
    assert payload["id_job_type"] == payload["id_job_uuid_type"] == REFRESH_JOB_TYPE
    endpoints = payload["endpoints"]
    assert list(endpoints) == ["accounts", "attachments", "credential", "transactions"]
    assert endpoints["credential"] == [f"/v1/credentials/{payload['id_credential']}"]
    paths = {"accounts": "/v1/accounts", "attachments": "/v1/attachments/export", "transactions": "/v1/transactions"}
    for name, path in paths.items():
        assert endpoints[name], name
        for page, url in enumerate(endpoints[name]):
            parts = urlsplit(url)
            query = parse_qsl(parts.query)
            assert parts.path == path
            assert [k for k, _ in query] == [
                "id_credential",
                "dt_refresh_from",
                "dt_refresh_to",
                "limit",
                "skip",
                "wbhk",
            ]
            values = dict(query)
            assert values["id_credential"] == payload["id_credential"]
            assert (values["limit"], values["skip"], values["wbhk"]) == ("5000", str(5000 * page), "1")
            since, until = int(values["dt_refresh_from"]), int(values["dt_refresh_to"])
            assert since < until <= at < until + 1
            assert since >= object_id_time(payload["id_job_uuid"])


def test_refresh_sometimes_spans_several_pages() -> None:
    refreshes = [json.loads(catalog.sample("credentials.refreshed", seed)) for seed in range(40)]
    counts = [len(r["events"][0]["payload"]["endpoints"]["transactions"]) for r in refreshes]
    assert 1 in counts
    assert max(counts) > 1


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, ENVIRONMENTS["sandbox"]),
        ("sandbox", "574894bf7848066d138b4570"),
        ("production", "574894bf7848066d138b4571"),
        ("Production", "574894bf7848066d138b4571"),
    ],
)
def test_environment_param(env: str | None, expected: str) -> None:
    params = {} if env is None else {"environment": env}
    for event in story(1, params):
        assert event["header"]["user"]["id_environment"] == expected


def test_sites_belong_to_the_environment() -> None:
    sandbox = {site(story(seed)[0]) for seed in range(30)}
    production = {site(story(seed, {"environment": "production"})[0]) for seed in range(30)}
    assert sandbox.isdisjoint(production)
    assert ("56cf5728784806f72b8b456f", "56cf4ff5784806152c8b4568", FISCAL) in production


def test_unknown_environment_is_rejected() -> None:
    with pytest.raises(InvalidInput) as caught:
        story(1, {"environment": "staging"})
    assert caught.value.errors[0].field == "params.environment"


@pytest.mark.parametrize(
    ("value", "sent"),
    # Empty is none: a built-in scenario's parameter has a text default, and takes no null.
    [(None, None), ("", None), ("IXS7607092R5", "IXS7607092R5")],
)
def test_id_external_param(value: str | None, sent: str | None) -> None:
    validator = Draft202012Validator(
        catalog.schema("credentials.created"), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for event in story(2, {"id_external": value}):
        assert event["header"]["user"]["id_external"] == sent
        if "id_external" in event["payload"]:
            assert event["payload"]["id_external"] == sent
    ctx = catalog.new_context(2, START, {"id_external": value})
    body = catalog.render([catalog.build_event(catalog.resolve("credentials.created"), ctx)])
    validator.validate(json.loads(body))


def test_rfc_check_digit_matches_a_real_rfc() -> None:
    assert rfc_check_digit("IXS7607092R") == "5"


@pytest.mark.parametrize("seed", range(30))
def test_default_id_external_is_a_client_reference(seed: int) -> None:
    user = story(seed)[0]["header"]["user"]
    external = user["id_external"]
    if "-" in external:
        day = datetime.fromtimestamp(object_id_time(user["id_user"]), UTC).strftime("%Y%m%d")
        assert external.startswith(f"{day}-")
    else:
        assert len(external) in (12, 13)
        assert rfc_check_digit(external[:-1]) == external[-1]


def test_named_refs_keep_separate_stories() -> None:
    ctx = catalog.new_context(5, START)
    alice = emit(ctx, "credentials.created", ref="alice")
    bob = emit(ctx, "credentials.created", 1, ref="bob")
    alice_again = emit(ctx, "credentials.updated", 5, ref="alice")
    latest = emit(ctx, "credentials.updated", 6)
    assert alice["header"]["user"]["id_user"] != bob["header"]["user"]["id_user"]
    assert alice_again["payload"]["id_credential"] == alice["payload"]["id_credential"]
    assert latest["payload"]["id_credential"] == bob["payload"]["id_credential"]


def key_order(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [[key, key_order(item)] for key, item in value.items()]
    if isinstance(value, list) and value:
        return [key_order(value[0])]
    return []


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_events_keep_the_examples_key_order(path: Path) -> None:
    example = json.loads(path.read_text())["events"][0]
    generated = json.loads(catalog.sample(f"syncfy:{path.stem}"))["events"][0]
    assert key_order(generated) == key_order(example)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_schemas_accept_syncfys_own_examples(path: Path) -> None:
    schema = catalog.schema(f"syncfy:{path.stem}")
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    validator.validate(json.loads(path.read_text()))


def test_schemas_reject_what_syncfy_never_sends() -> None:
    validator = Draft202012Validator(
        catalog.schema("credentials.refreshed"), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    body = json.loads(catalog.sample("credentials.refreshed"))
    payload = body["events"][0]["payload"]
    payload["id_job"] = payload["id_job"].upper()
    payload["endpoints"]["accounts"] = ["/v1/accounts?limit=5000"]
    body["events"][0]["header"]["event"]["at"] = "2025-03-14T15:09:26.535Z"
    failures = {error.json_path for error in validator.iter_errors(body)}
    assert failures == {
        "$.events[0].payload.id_job",
        "$.events[0].payload.endpoints.accounts[0]",
        "$.events[0].header.event.at",
    }


def test_an_override_of_the_users_reference_holds_for_the_rest_of_the_story() -> None:
    ctx = catalog.new_context(4, START, {"institution": "fiscal"})
    moment = replace(ctx, now=START)
    etype = catalog.resolve("credentials.created")
    event = catalog.build_event(etype, moment, {"header.user.id_external": "CUST-42", "payload.is_executing": 0})
    assert event.data["header"]["user"]["id_external"] == "CUST-42"
    updated = emit(ctx, "credentials.updated", 5)
    completed = emit(ctx, "documents.completed", 60)
    # The user's reference is the user's: every later event agrees. is_executing was this event's only.
    assert updated["header"]["user"]["id_external"] == updated["payload"]["id_external"] == "CUST-42"
    assert completed["header"]["user"]["id_external"] == "CUST-42"
    assert (
        updated["payload"]["is_executing"] == 0 and emit(ctx, "credentials.created", 90)["payload"]["is_executing"] == 1
    )


def test_an_override_of_the_site_moves_the_credential_and_its_documents() -> None:
    ctx = catalog.new_context(6, START, {"institution": "bank"})
    fiscal_site = {"id_site": "5da784f1f9de2a06483abec1", "id_site_organization_type": FISCAL}
    etype = catalog.resolve("credentials.created")
    catalog.build_event(etype, replace(ctx, now=START), {f"payload.{k}": v for k, v in fiscal_site.items()})
    completed = emit(ctx, "documents.completed", 60)  # the credential is fiscal now: its documents download
    assert {k: completed["payload"][k] for k in fiscal_site} == fiscal_site


def urls(event: dict[str, Any]) -> list[str]:
    return [url for pages in event["payload"]["endpoints"].values() for url in pages]


def test_an_override_of_the_credentials_id_renames_it_in_its_urls_and_later_events() -> None:
    """The credential's page URLs kept the id it was built with, and so did its later events: a consumer that
    followed them asked the API for a credential no event of the story named."""
    ctx = catalog.new_context(4, START, {})
    new = "0123456789abcdef01234567"
    event = catalog.build_event(
        catalog.resolve("credentials.created"), replace(ctx, now=START), {"payload.id_credential": new}
    )
    old = emit(catalog.new_context(4, START, {}), "credentials.created")["payload"]["id_credential"]
    assert old != new and urls(event.data) == [f"/v1/credentials/{new}"]
    for later in (emit(ctx, "credentials.updated", 60), emit(ctx, "credentials.refreshed", 3600)):
        assert later["payload"]["id_credential"] == new
        assert all(new in url and old not in url for url in urls(later)), urls(later)


def test_an_override_of_a_refreshs_credential_renames_it_in_each_page_url_alone() -> None:
    name, new = "credentials.refreshed", "0123456789abcdef01234567"
    built = emit(catalog.new_context(7, START, {}), name, 3600)
    ctx = catalog.new_context(7, START, {})
    event = catalog.build_event(catalog.resolve(name), replace(ctx, now=add_seconds(START, 3600)), {
        "payload.id_credential": new
    }).data  # fmt: skip
    old = built["payload"]["id_credential"]
    assert len(urls(event)) == len(urls(built)) >= 4
    for url, was in zip(urls(event), urls(built), strict=True):
        assert url == was.replace(old, new) and urlsplit(url).path == urlsplit(was).path.replace(old, new)
    # URLs given with it are the scenario's own: they are kept as given.
    given = ["/v1/credentials/ffffffffffffffffffffffff"]
    fresh = replace(catalog.new_context(7, START, {}), now=add_seconds(START, 3600))
    kept = catalog.build_event(catalog.resolve(name), fresh, {
        "payload.id_credential": new, "payload.endpoints.credential": given
    }).data  # fmt: skip
    assert kept["payload"]["endpoints"] == {**built["payload"]["endpoints"], "credential": given}


def test_the_envelopes_keys_come_in_the_order_of_syncfys_examples() -> None:
    """Credential notices give `events` then `rid`; documents notices `rid` then `events` (the spec's examples)."""
    for name in ("credentials.created", "credentials.updated", "credentials.refreshed"):
        assert list(json.loads(catalog.sample(name))) == ["events", "rid"], name
    for name in ("documents.completed", "documents.success", "documents.failed"):
        assert list(json.loads(catalog.sample(name))) == ["rid", "events"], name


def test_the_twin_reads_each_value_of_the_schemas_type_and_drops_the_others():
    """What a scenario's checks take (an integer written 1.0) is read; what only `unchecked` lets through is not."""
    from simulator.providers.syncfy.api_readable import readable

    body = json.loads(catalog.sample("credentials.updated", 3))["events"][0]
    body["payload"].update(is_executing=1.0, id_credential=5, id_site=None)
    body["header"]["user"]["id_external"] = [1]
    read = readable("credentials.updated", body)
    assert read["payload"]["is_executing"] == 1.0 and "id_credential" not in read["payload"]
    assert "id_site" not in read["payload"] and "id_external" not in read["header"]["user"]
    assert read["header"]["event"] == body["header"]["event"]  # what fits is kept as it was
    assert readable("credentials.updated", [1]) == {} and readable("no.such", body) is body
