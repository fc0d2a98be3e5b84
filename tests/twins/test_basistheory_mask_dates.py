"""A token's `mask` and the REST objects' times, as Basis Theory's documents show them: the create answer carries
the mask as given and `data` through it (each type's default mask when none is given); REST times are .NET's
(`2020-09-15T15:53:00+00:00`) at the instants the events (`…sssZ`) tell, and a token's `expires_at` comes back in
the offset its creator gave. Over real HTTP, and through Basis Theory's own Python SDK."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from basis_theory import BasisTheory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.api.app import server_app
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer
from tests.twins.conftest import KEY
from tests.twins.expect import instant
from tests.twins.test_api import bt_problem

LAST_FOUR = "{{ data | reveal_last: 4 }}"
CARD = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2031}
CARD_MASK = {
    "number": "{{ data.number | reveal_last: 4 }}",
    "expiration_month": "{{ data.expiration_month }}",
    "expiration_year": "{{ data.expiration_year }}",
}
# .NET's DateTimeOffset, as the REST objects' examples write it: the fraction only as long as it needs.
REST_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?\+00:00")
EVENT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def sdk(sim: WebhookSim) -> Iterator[BasisTheory]:
    with httpx.Client(timeout=10.0) as http:
        yield BasisTheory(api_key=KEY, base_url=f"{sim.url}/basistheory", httpx_client=http)


# --- mask --------------------------------------------------------------------------------------------------


def test_the_docs_create_example_answers_its_mask_and_expiry_through_the_sdk(sdk: BasisTheory) -> None:
    """tokens.mdx's create: `mask` as given, `data` through it, `expires_at` as given, `created_at` in `+00:00`."""
    made = sdk.tokens.create(
        type="token", data="Sensitive Value", mask=LAST_FOUR, expires_at="2030-08-26T19:23:57-07:00"
    )
    for token in (made, sdk.tokens.get(id=made.id or "")):
        assert (token.mask, token.data) == (LAST_FOUR, "XXXXXXXXXXXalue")
        assert token.expires_at == datetime(2030, 8, 27, 2, 23, 57, tzinfo=UTC)
        assert token.expires_at.utcoffset() == timedelta(hours=-7)
        assert token.created_at is not None and token.created_at.utcoffset() == timedelta(0)


def test_the_raw_answer_carries_the_mask_and_echoes_the_expiry(bt: httpx.Client) -> None:
    body = {"type": "token", "data": "Sensitive Value", "mask": LAST_FOUR, "expires_at": "2030-08-26T19:23:57-07:00"}
    made = bt.post("/tokens", json=body)
    assert made.status_code == 201, made.text
    for shown in (made.json(), bt.get(f"/tokens/{made.json()['id']}").json()):
        assert shown["mask"] == LAST_FOUR and shown["data"] == "XXXXXXXXXXXalue"
        assert shown["expires_at"] == "2030-08-26T19:23:57-07:00"
        assert REST_TIME.fullmatch(shown["created_at"]), shown["created_at"]


@pytest.mark.parametrize(
    ("kind", "data", "mask", "shown"),
    [
        ("card", CARD, CARD_MASK, {"number": "XXXXXXXXXXXX4242", "expiration_month": 12, "expiration_year": 2031}),
        ("card_number", "36227206271667", LAST_FOUR, "XXXXXXXXXX1667"),
        ("us_bank_account_number", "1234567890", LAST_FOUR, "XXXXXX7890"),
        ("social_security_number", "123-45-6789", LAST_FOUR, "XXX-XX-6789"),
        ("employer_id_number", "12-3456789", LAST_FOUR, "XX-XXX6789"),
        (
            "bank",
            {"routing_number": "110000000", "account_number": "1234567890"},
            {
                "routing_number": "{{ data.routing_number }}",
                "account_number": "{{ data.account_number | reveal_last: 4 }}",
            },
            {"routing_number": "110000000", "account_number": "XXXXXX7890"},
        ),
        ("token", "Sensitive Value", None, None),  # no default mask: the data is redacted
    ],
)
def test_each_type_gets_its_documented_default_mask(
    bt: httpx.Client, kind: str, data: Any, mask: Any, shown: Any
) -> None:
    """token-types.mdx's Default Mask Expression of each type, and its examples' masked values."""
    made = bt.post("/tokens", json={"type": kind, "data": data})
    assert made.status_code == 201, made.text
    read = bt.get(f"/tokens/{made.json()['id']}").json()
    assert (made.json()["mask"], made.json()["data"]) == (mask, shown)
    assert (read["mask"], read["data"]) == (mask, shown)


def test_an_object_mask_shows_what_it_names(bt: httpx.Client) -> None:
    """masks.mdx's complex token: properties the mask omits are redacted."""
    data = {
        "name": {"first": "John", "middle": "Wilson", "last": "Doe"},
        "ssn": "123-45-6789",
        "card_number": "4242-4242-4242-4242",
        "cvc": "123",
    }
    mask = {
        "name": {"first": "{{ data.name.first }}", "last": "{{ data.name.last | slice: 0, 1 }}."},
        "ssn": "{{ data.ssn | reveal_last: 4, '#' }}",
        "card_number": "{{ data.card_number | reveal_last: 4, '#' }}",
    }
    made = bt.post("/tokens", json={"type": "token", "data": data, "mask": mask}).json()
    assert made["mask"] == mask
    assert made["data"] == {
        "name": {"first": "John", "last": "D."},
        "ssn": "###-##-6789",
        "card_number": "####-####-####-4242",
    }


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("{{ data | reveal: 6 }}", "3622-7XXXXXXXXXXXXX"),
        ("{{ data | reveal: 7, 4, '#', \"-\" }}", "3622-72##-####-5567"),
        ("{{ data | reveal: 10, 9 }}", "XXXXXXXXXXXXXXXXXXX"),
        ("{{ data | last4 }}", "5567"),
        ("ends in {{ data | last4 }}", "ends in 5567"),
    ],
)
def test_the_filters_read_as_the_filters_page_has_them(bt: httpx.Client, expression: str, shown: str) -> None:
    made = bt.post("/tokens", json={"type": "token", "data": "3622-7206-2716-5567", "mask": expression})
    assert made.status_code == 201 and made.json()["data"] == shown, made.text


@pytest.mark.parametrize(
    "mask",
    [
        "{{ data.number | card_mask: 'true', 'true' }}",  # a Basis Theory filter the twin does not evaluate
        "{% if data %}x{% endif %}",
        "{{ data | reveal_last: 4",
        "{{ secret }}",
        "{{ data | reveal_last: 'four' }}",
        "{{ data | reveal_last: 4, 'XX' }}",
        {"nested": ["{{ data | upcase }}"]},
    ],
)
def test_a_mask_the_twin_cannot_evaluate_is_a_400_naming_mask(bt: httpx.Client, mask: Any) -> None:
    """Rather than a token whose data the mask was meant to hide shown some other way."""
    bt_problem(bt.post("/tokens", json={"type": "token", "data": "Sensitive Value", "mask": mask}), 400, "mask")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.sampled_from([LAST_FOUR, "{{", "{{ data }}"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mask=json_values, data=json_values)
def test_any_mask_is_a_token_or_a_400_naming_mask(bt: httpx.Client, mask: Any, data: Any) -> None:
    made = bt.post(
        "/tokens",
        content=json.dumps({"type": "token", "data": data if data is not None else "x", "mask": mask}),
        headers={"content-type": "application/json"},
    )
    if made.status_code == 400:
        assert set(made.json()["errors"]) <= {"mask", "data"}, made.text
    else:
        assert made.status_code == 201, made.text
        assert made.json()["mask"] == mask


# --- times -------------------------------------------------------------------------------------------------


def test_the_apis_tokens_and_intents_say_the_events_instants_in_rest_style(
    bt: httpx.Client, webhook_receiver: Receiver
) -> None:
    events = ["token-intent.created", "token.created", "token-intent.converted"]
    hook = bt.post("/webhooks", json={"name": "t", "url": webhook_receiver.url, "events": events}).json()
    try:
        intent = bt.post("/token-intents", json={"type": "card", "data": CARD}).json()
        token = bt.post("/tokens", json={"token_intent_id": intent["id"]}).json()
        told = {r.json()["event"]["type"]: r.json()["event"]["data"] for r in webhook_receiver.wait_for(3)}
    finally:
        bt.delete(f"/webhooks/{hook['id']}")
    for shown, said in (
        (intent, told["token-intent.created"]["token_intent"]),
        (token, told["token.created"]["token"]),
    ):
        for field in ("created_at", "expires_at"):
            if said.get(field) is None:
                assert shown[field] is None
                continue
            assert EVENT_TIME.fullmatch(said[field]), said  # the webhook payload keeps its own format
            assert REST_TIME.fullmatch(shown[field]), shown
            assert instant(shown[field]) == instant(said[field])
    assert REST_TIME.fullmatch(bt.get(f"/tokens/{token['id']}").json()["created_at"])
    assert EVENT_TIME.fullmatch(hook["created_at"])  # webhook management keeps `…sssZ`, as its docs show


@pytest.mark.parametrize(
    ("etype", "key", "path", "fields"),
    [
        (
            "3ds.session.created",
            "session",
            "/3ds/sessions/{}",
            {"created_at": "created_date", "expires_at": "expiration_date"},
        ),
        ("application.created", "application", "/applications/{}", {"created_at": "created_at"}),
        ("reactor.updated", "reactor", "/reactors/{}", {"created_at": "created_at", "modified_at": "modified_at"}),
        ("proxy.updated", "proxy", "/proxies/{}", {"created_at": "created_at", "modified_at": "modified_at"}),
        ("token.updated", "token", "/tokens/{}", {"created_at": "created_at", "modified_at": "modified_at"}),
    ],
)
def test_objects_events_announce_say_their_instants_in_rest_style(
    sim: WebhookSim, bt: httpx.Client, etype: str, key: str, path: str, fields: dict[str, str]
) -> None:
    said = sim.emit(f"basistheory:{etype}").body["data"][key]
    shown = bt.get(path.format(said["id"])).json()
    for webhook_name, rest_name in fields.items():
        assert EVENT_TIME.fullmatch(said[webhook_name]), said
        assert REST_TIME.fullmatch(shown[rest_name]), shown
        assert instant(shown[rest_name]) == instant(said[webhook_name])


def test_an_application_keys_times_are_in_rest_style(sim: WebhookSim, bt: httpx.Client) -> None:
    said = sim.emit("basistheory:application.key.created").body["data"]["application_key"]
    keys = bt.get(f"/applications/{said['application_id']}").json()["keys"]
    shown = next(k for k in keys if k["id"] == said["id"])
    assert REST_TIME.fullmatch(shown["created_at"]) and instant(shown["created_at"]) == instant(said["created_at"])


def test_a_token_stored_before_tokens_kept_their_mask_is_shown_through_its_types_default(tmp_path: Path) -> None:
    """A store an earlier release wrote holds tokens without `mask`: they were made with the default, and read
    back after the upgrade they are masked by it, not `data: null`."""
    db = tmp_path / "old.db"

    def serve() -> ApiServer:
        return ApiServer(server_app(str(db), grace=1)).start()

    first = serve()
    try:
        with first.client() as api:
            made = api.post("/basistheory/tokens", json={"type": "card", "data": CARD}, headers={"BT-API-KEY": KEY})
            assert made.status_code == 201, made.text
            token_id = made.json()["id"]
    finally:
        first.stop()
    with sqlite3.connect(db) as conn:  # the row as a release before masks wrote it
        changed = conn.execute("UPDATE bt_objects SET body = json_remove(body, '$.mask') WHERE id = ?", (token_id,))
        assert changed.rowcount == 1
    again = serve()
    try:
        with again.client() as api:
            read = api.get(f"/basistheory/tokens/{token_id}", headers={"BT-API-KEY": KEY}).json()
            listed = api.get("/basistheory/v2/tokens", headers={"BT-API-KEY": KEY}).json()["data"]
    finally:
        again.stop()
    shown = {"number": "XXXXXXXXXXXX4242", "expiration_month": 12, "expiration_year": 2031}
    assert (read["mask"], read["data"]) == (CARD_MASK, shown)
    assert [(t["mask"], t["data"]) for t in listed] == [(CARD_MASK, shown)]
