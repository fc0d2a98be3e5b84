"""`GET /v1/credentials/{id}/transactions` over real HTTP: `/v1/transactions?id_credential=`'s rows, each
attachment with the bytes `/v1/attachments/{id}` serves (`content`) and those bytes parsed (`parse_content`) in the
shape Syncfy's tax collection records; its refusals in Syncfy's envelope, as the twin's other routes refuse.

`recorded/syncfy-credential-transactions.attachments.json`: four attachment items copied from the recorded 200
answer of "Credentials/Transactions/Return Transactions With Attachment Content" (Syncfy's tax Postman
collection): transactions 2, 3, 4 and 10 of its 12, an empty `<cfdi:Impuestos />`, lists, a `Retencion`, a
single `Concepto`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator import testing
from simulator.core.syncfy_cfdi import parse_cfdi
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import KEY, envelope, finished_run, run_events, twin_client

RECORDED = Path(__file__).parent / "recorded" / "syncfy-credential-transactions.attachments.json"
START = "2024-03-01T12:00:00Z"  # with the seed, what makes a run's ids (and so its rows) the same twice
FLAGS = {"attachment_content": 1, "attachment_content_parse": 1}
UNKNOWN = "5f0000000000000000000000"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


def credential_of(control: httpx.Client, receiver: Receiver, seed: int, **params: Any) -> tuple[str, str]:
    """The credential (and its user) of a finished lifecycle run: its id and its user's."""
    run = finished_run(control, "syncfy-credential-lifecycle", receiver.url, seed=seed, start_time=START, params=params)
    refresh = next(e for e in run_events(control, run) if e["type"] == "syncfy:credentials.refreshed")["body"]
    return refresh["payload"]["id_credential"], refresh["header"]["user"]["id_user"]


@pytest.fixture(scope="module")
def fiscal(control: httpx.Client, receiver: Receiver) -> tuple[str, str]:
    return credential_of(control, receiver, 31)


@pytest.fixture(scope="module")
def bank(control: httpx.Client, receiver: Receiver) -> tuple[str, str]:
    return credential_of(control, receiver, 32, institution="bank")


def listed(syncfy: httpx.Client, id_credential: str, **params: Any) -> list[dict[str, Any]]:
    return envelope(syncfy.get(f"/v1/credentials/{id_credential}/transactions", params=params))


def plain(syncfy: httpx.Client, id_credential: str, **params: Any) -> list[dict[str, Any]]:
    return envelope(syncfy.get("/v1/transactions", params={"id_credential": id_credential, **params}))


def bare(syncfy: httpx.Client) -> str:
    """The twin's base URL, for a request without the client's key."""
    return str(syncfy.base_url).rstrip("/")


def without_extras(row: dict[str, Any]) -> dict[str, Any]:
    drop = ("content", "parse_content")
    return {**row, "attachments": [{k: v for k, v in a.items() if k not in drop} for a in row["attachments"]]}


def test_the_rows_are_the_credentials_transactions_with_their_files(syncfy: httpx.Client, fiscal: tuple[str, str]):
    id_credential, _ = fiscal
    rows, expected = listed(syncfy, id_credential, limit=300, **FLAGS), plain(syncfy, id_credential, limit=300)
    assert rows and [without_extras(r) for r in rows] == expected
    assert all(list(r) == list(e) for r, e in zip(rows, expected, strict=True))  # Syncfy's key order kept
    attached = [(r, a) for r in rows for a in r["attachments"]]
    assert attached
    for row, item in attached[:25]:
        assert list(item)[:6] == ["id_attachment", "id_attachment_type", "is_valid", "file", "content", "parse_content"]
        served = syncfy.get(f"/v1/attachments/{item['id_attachment']}")
        assert served.status_code == 200 and base64.b64decode(item["content"], validate=True) == served.content
        check_parsed(item["parse_content"], row, item["file"])


def check_parsed(parsed: dict[str, Any], tx: dict[str, Any], file: str) -> None:
    """What the invoice states is the transaction's, in the recorded shape."""
    [(root, invoice)] = parsed.items()
    assert root == "CFDI:COMPROBANTE"
    assert list(invoice)[:2] == ["XMLNS:CFDI", "VERSION"] and invoice["XMLNS:CFDI"].startswith("http://www.sat.gob.mx")
    assert invoice["TOTAL"] == invoice["SUBTOTAL"] == f"{abs(tx['amount']):.2f}"  # text, as the file writes it
    issuer, receiver = invoice["CFDI:EMISOR"], invoice["CFDI:RECEPTOR"]
    counterparty, user = (issuer, receiver) if tx["amount"] < 0 else (receiver, issuer)
    assert counterparty["RFC"] == tx["extra"]["tax_id"] and counterparty["NOMBRE"] == tx["description"]
    assert user["RFC"] == tx["id_external"]
    concept = invoice["CFDI:CONCEPTOS"]["CFDI:CONCEPTO"]  # one concept: an object (a list from two on, recorded)
    assert concept["IMPORTE"] == invoice["TOTAL"]
    stamp = invoice["CFDI:COMPLEMENTO"]["TFD:TIMBREFISCALDIGITAL"]
    assert list(stamp)[:2] == ["XMLNS:TFD", "VERSION"] and stamp["UUID"] == file.removesuffix(".xml") == tx["reference"]
    assert all(isinstance(v, str) for v in leaves(parsed))


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


def test_the_parse_gives_what_syncfy_recorded():
    """Parsed from the recorded files' own bytes, the recorded `parse_content`, key order included."""
    for item in json.loads(RECORDED.read_text()):
        parsed = parse_cfdi(base64.b64decode(item["content"]))
        assert json.dumps(parsed) == json.dumps(item["parse_content"]), item["file"]
    empty, *_ = json.loads(RECORDED.read_text())
    assert empty["parse_content"]["CFDI:COMPROBANTE"]["CFDI:IMPUESTOS"] is None  # what `<cfdi:Impuestos />` is


@pytest.mark.parametrize(
    ("flags", "keys"),
    [
        ({}, set()),
        ({"attachment_content": 0, "attachment_content_parse": 0}, set()),
        ({"attachment_content": 1}, {"content"}),
        ({"attachment_content_parse": "1"}, {"parse_content"}),
    ],
)
def test_each_flag_adds_its_key_only(
    syncfy: httpx.Client, fiscal: tuple[str, str], flags: dict[str, Any], keys: set[str]
):
    id_credential, _ = fiscal
    rows = listed(syncfy, id_credential, limit=50, **flags)
    items = [a for r in rows for a in r["attachments"]]
    assert items and all({"content", "parse_content"} & set(a) == keys for a in items)
    assert [without_extras(r) for r in rows] == plain(syncfy, id_credential, limit=50)


@pytest.mark.parametrize(
    "filters",
    [{"skip": 4990, "limit": 7}, {"skip": 10_000}, {"dt_refresh_from": 0, "dt_refresh_to": 1}, {"has_attachment": 1}],
)
def test_the_filters_and_pages_are_those_of_the_transactions_list(
    syncfy: httpx.Client, fiscal: tuple[str, str], filters: dict[str, Any]
):
    id_credential, _ = fiscal
    expected = plain(syncfy, id_credential, **filters)
    assert [without_extras(r) for r in listed(syncfy, id_credential, **filters, **FLAGS)] == expected


def test_a_refresh_range_narrows_it_as_the_transactions_list_does(syncfy: httpx.Client, fiscal: tuple[str, str]):
    id_credential, _ = fiscal
    times = sorted({r["dt_refresh"] for r in plain(syncfy, id_credential)})
    assert len(times) > 2
    window = {"dt_refresh_from": times[1], "dt_refresh_to": times[-2]}
    expected = plain(syncfy, id_credential, **window)
    assert 0 < len(expected) < 5000
    assert [without_extras(r) for r in listed(syncfy, id_credential, **window, **FLAGS)] == expected


def test_an_account_or_a_transaction_narrows_it_as_the_transactions_list_does(
    syncfy: httpx.Client, fiscal: tuple[str, str]
):
    id_credential, _ = fiscal
    sample = plain(syncfy, id_credential, limit=20)
    narrowed = [
        {"id_account": sample[0]["id_account"], "limit": 30},
        {"id_transaction": sample[len(sample) // 2]["id_transaction"]},
    ]
    for params in narrowed:
        rows = listed(syncfy, id_credential, **params, **FLAGS)
        assert rows and [without_extras(r) for r in rows] == plain(syncfy, id_credential, **params), params


def test_a_bank_credentials_rows_are_its_transactions_as_listed(syncfy: httpx.Client, bank: tuple[str, str]):
    id_credential, _ = bank
    rows = listed(syncfy, id_credential, limit=100, **FLAGS)
    assert rows and [without_extras(r) for r in rows] == plain(syncfy, id_credential, limit=100)
    for item in [a for r in rows for a in r["attachments"]][:5]:  # whatever it carries is served alike
        assert base64.b64decode(item["content"]) == syncfy.get(f"/v1/attachments/{item['id_attachment']}").content


def test_the_owners_session_reads_it_and_another_users_does_not(syncfy: httpx.Client, fiscal: tuple[str, str]):
    id_credential, id_user = fiscal
    path = f"/v1/credentials/{id_credential}/transactions"
    mine = envelope(syncfy.post("/v1/sessions", json={"id_user": id_user}))["token"]
    with_token = envelope(httpx.get(f"{bare(syncfy)}{path}", params={"token": mine, "limit": 10, **FLAGS}))
    assert with_token == listed(syncfy, id_credential, limit=10, **FLAGS)
    other = envelope(syncfy.post("/v1/users", json={"name": "Otra"}))["id_user"]
    token = envelope(syncfy.post("/v1/sessions", json={"id_user": other}))["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    refused = httpx.get(f"{bare(syncfy)}{path}", headers=bearer)
    same = httpx.get(f"{bare(syncfy)}/v1/credentials/{id_credential}", headers=bearer)  # how the twin says it
    assert envelope(refused, 404) is None and refused.json()["message"] == same.json()["message"]
    keyed = syncfy.get(path, params={"id_user": other})
    assert envelope(keyed, 404) is None and keyed.json()["message"] == same.json()["message"]


def test_an_unknown_credential_is_the_twins_404(syncfy: httpx.Client):
    refused = syncfy.get(f"/v1/credentials/{UNKNOWN}/transactions", params=FLAGS)
    assert envelope(refused, 404) is None
    assert refused.json()["message"] == syncfy.get(f"/v1/credentials/{UNKNOWN}").json()["message"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 5001}, "limit"),
        ({"skip": -1}, "skip"),
        ({"limit": "ten"}, "limit"),
        ({"dt_refresh_from": "yesterday"}, "dt_refresh_from"),
        ({"attachment_content": 2}, "attachment_content"),
        ({"attachment_content_parse": "yes"}, "attachment_content_parse"),
        ({"id_credential": UNKNOWN}, "id_credential"),
    ],
)
def test_bad_input_is_a_400_naming_it(
    syncfy: httpx.Client, fiscal: tuple[str, str], params: dict[str, Any], named: str
):
    refused = syncfy.get(f"/v1/credentials/{fiscal[0]}/transactions", params=params)
    assert envelope(refused, 400) is None and named in refused.json()["message"], refused.text
    if named in ("limit", "skip", "dt_refresh_from"):  # as the transactions list refuses it
        assert refused.json()["message"] == syncfy.get("/v1/transactions", params=params).json()["message"]


def test_without_a_key_it_is_the_recorded_401(syncfy: httpx.Client, fiscal: tuple[str, str]):
    refused = httpx.get(f"{bare(syncfy)}/v1/credentials/{fiscal[0]}/transactions", params=FLAGS)
    body = refused.json()
    assert refused.status_code == 401 and body == {
        "rid": body["rid"],
        "code": 401,
        "errors": None,
        "status": False,
        "message": "Unauthorized",
        "response": None,
    }


def test_the_same_seed_answers_the_same_bytes(syncfy: httpx.Client, fiscal: tuple[str, str], receiver: Receiver):
    """Another simulator, the same run: the same credential, rows, files and parses."""
    id_credential, _ = fiscal
    path = f"/v1/credentials/{id_credential}/transactions"
    first = syncfy.get(path, params={"limit": 40, **FLAGS})
    with testing.webhook_sim() as other, twin_client(other.url, KEY) as again:
        with httpx.Client(base_url=other.url, timeout=30.0) as control:
            assert credential_of(control, receiver, 31)[0] == id_credential
        second = again.get(path, params={"limit": 40, **FLAGS})
    rid1, rid2 = first.json()["rid"], second.json()["rid"]
    assert envelope(first) and first.content.replace(rid1.encode(), b"") == second.content.replace(rid2.encode(), b"")
