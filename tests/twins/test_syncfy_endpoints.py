"""One world: for every event of every built-in Syncfy scenario, every URL its `endpoints` carries answers 200
from the twin, in Syncfy's envelope, with the ids the event named; a refresh's page URLs hold exactly as many
pages as it lists; identical requests answer identical rows."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
import pytest
import yaml

from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import envelope, finished_run, run_events

DOCUMENTS = {p.stem: yaml.safe_load(p.read_text()) for p in (Path(__file__).parents[2] / "scenarios").glob("*.yaml")}
SCENARIOS = sorted(name for name, document in DOCUMENTS.items() if document.get("provider") == "syncfy")
# Each refresh repeats the events of the one before: three make every kind of URL without the dozen of a chaos run.
REFRESHES = 3
SITE_IDS = ("id_site", "id_site_organization", "id_site_organization_type")


@pytest.fixture(scope="module")
def receiver() -> Any:
    with Receiver() as started:
        yield started


def urls_of(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, url) for every endpoint of an event's payload."""
    endpoints = payload["endpoints"]
    if isinstance(endpoints, list):
        return [("documents", url) for url in endpoints]
    return [(kind, url) for kind, urls in endpoints.items() for url in urls]


def test_the_builtin_syncfy_scenarios_are_all_covered():
    assert {"syncfy-credential-lifecycle", "syncfy-two-factor", "syncfy-documents-failed"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_endpoint_of_every_event_answers_with_the_events_ids(
    scenario: str, control: httpx.Client, syncfy: httpx.Client, receiver: Receiver
):
    params = {"refreshes": REFRESHES} if "refreshes" in DOCUMENTS[scenario].get("params", {}) else {}
    events = run_events(control, finished_run(control, scenario, receiver.url, seed=11, params=params))
    catalogue = envelope(syncfy.get("/v1/documents/catalogues/document_types"))
    types = {row["id_document_type"] for row in catalogue}
    checked = 0
    for event in events:
        header, payload = event["body"]["header"], event["body"]["payload"]
        for kind, url in urls_of(payload):
            response = syncfy.get(url)
            check(kind, response, header, payload, event["type"], types)
            checked += 1
    assert checked >= len(events)


def check(
    kind: str, response: httpx.Response, header: dict[str, Any], payload: dict[str, Any], etype: str, types: set[str]
) -> None:
    user = header["user"]["id_user"]
    if kind == "attachments":
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        rows = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("attachments.json"))
        assert rows and all(r["id_user"] == user for r in rows)
        return
    rows = envelope(response)
    assert isinstance(rows, list) and rows, (kind, rows)
    if kind == "documents":
        assert all(all(d[k] == payload[k] for k in SITE_IDS) for d in rows)
        assert {d["id_document_type"] for d in rows} <= types  # a type a consumer can look up
        statuses = {d["id_document_status"] for d in rows}
        if etype == "syncfy:documents.success":
            assert statuses == {"5b23219d056f2905985444c2"}  # Downloaded
        if etype == "syncfy:documents.failed":
            assert "5b23219d056f2905985444c3" in statuses  # Failed
        return
    for row in rows:
        assert row["id_credential"] == payload["id_credential"] and row["id_user"] == user
        assert all(row[k] == payload[k] for k in SITE_IDS)
    if kind == "credential":
        assert len(rows) == 1 and rows[0]["id_environment"] == header["user"]["id_environment"]
        return
    query = parse_qs(urlsplit(str(response.url)).query)
    since, until = int(query["dt_refresh_from"][0]), int(query["dt_refresh_to"][0])
    assert all(since <= r["dt_refresh"] <= until for r in rows)


def test_a_refresh_holds_exactly_the_pages_it_lists(control: httpx.Client, syncfy: httpx.Client, receiver: Receiver):
    events = run_events(control, finished_run(control, "syncfy-credential-lifecycle", receiver.url, seed=5))
    refreshes = [e["body"]["payload"] for e in events if e["type"] == "syncfy:credentials.refreshed"]
    assert refreshes
    for payload in refreshes:
        for kind in ("accounts", "transactions"):
            pages = payload["endpoints"][kind]
            sizes = [len(envelope(syncfy.get(url))) for url in pages]
            assert all(size == 5000 for size in sizes[:-1]) and 1 <= sizes[-1] <= 5000, sizes
            past = pages[-1].replace(f"skip={(len(pages) - 1) * 5000}", f"skip={len(pages) * 5000}")
            assert envelope(syncfy.get(past)) == []
            count = syncfy.get(pages[0].replace("/v1/transactions?", "/v1/transactions/count?"))
            if kind == "transactions":
                assert envelope(count) == {"count": sum(sizes)}


def test_identical_requests_answer_identical_rows(control: httpx.Client, syncfy: httpx.Client, receiver: Receiver):
    events = run_events(control, finished_run(control, "syncfy-credential-lifecycle", receiver.url, seed=9))
    url = next(e for e in events if e["type"] == "syncfy:credentials.refreshed")["body"]["payload"]["endpoints"]
    first, second = syncfy.get(url["transactions"][0]), syncfy.get(url["transactions"][0])
    rid1, rid2 = first.json()["rid"], second.json()["rid"]
    assert rid1 != rid2  # a request id of its own, as Syncfy's
    assert first.content.replace(rid1.encode(), b"") == second.content.replace(rid2.encode(), b"")
    ids = [t["id_transaction"] for t in first.json()["response"]]
    assert ids and len(set(ids)) == len(ids)
    middle = len(ids) // 2  # a window holds from 1 row up, drawn from its event id (which carries the time)
    one = envelope(syncfy.get("/v1/transactions", params={"id_transaction": ids[middle]}))
    assert one == [first.json()["response"][middle]]


def test_an_export_is_the_same_bytes_whenever_it_is_asked_for(
    control: httpx.Client, syncfy: httpx.Client, receiver: Receiver
):
    """Its entries were dated when it was made, so the same export answered other bytes a second later."""
    events = run_events(control, finished_run(control, "syncfy-credential-lifecycle", receiver.url, seed=9))
    url = next(e for e in events if e["type"] == "syncfy:credentials.refreshed")["body"]["payload"]["endpoints"]
    export = next(u for u in url["attachments"] if "/export" in u)
    first, second = syncfy.get(export), syncfy.get(export)
    assert first.status_code == 200 and first.content == second.content
    assert len(first.headers["request-id"]) == 36  # every answer of Syncfy's has one, a file's too (recorded)
    rows = json.loads(zipfile.ZipFile(io.BytesIO(first.content)).read("attachments.json"))
    one = syncfy.get(f"/v1/attachments/{rows[0]['id_attachment']}")
    assert one.status_code == 200 and len(one.headers["request-id"]) == 36
    entries = zipfile.ZipFile(io.BytesIO(first.content)).infolist()
    assert len(entries) > 1 and {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}  # no clock in them


def test_a_two_factor_story_shows_its_codes(control: httpx.Client, syncfy: httpx.Client, receiver: Receiver):
    events = run_events(control, finished_run(control, "syncfy-two-factor", receiver.url, seed=3))
    id_credential = events[0]["body"]["payload"]["id_credential"]
    (credential,) = envelope(syncfy.get(f"/v1/credentials/{id_credential}"))
    assert credential["is_twofa"] == 1 and credential["code"] == 200 and credential["is_authorized"] == 1
    job = events[0]["body"]["payload"]["id_job"]
    codes = [s["code"] for s in envelope(syncfy.get(f"/v1/jobs/{job}/status"))]
    assert codes[:5] == [100, 101, 410, 102, 200], codes


def test_the_catalogue_lists_every_site_an_event_named(sim: WebhookSim, syncfy: httpx.Client):
    made_up = {"id_site": "5f0000000000000000000001", "id_site_organization": "5f0000000000000000000002"}
    overrides = {f"payload.{k}": v for k, v in made_up.items()}
    assert httpx.post(f"{sim.url}/events", json={"type": "credentials.created", "overrides": overrides}).is_success
    sites = envelope(syncfy.get("/v1/catalogues/sites"))
    assert made_up["id_site"] in {s["id_site"] for s in sites}
    groups = envelope(syncfy.get("/v1/catalogues/organizations/sites"))
    named = next(g for g in groups if g["id_site_organization"] == made_up["id_site_organization"])
    assert [s["id_site"] for s in named["sites"]] == [made_up["id_site"]]


CFDI = {"cfdi": "http://www.sat.gob.mx/cfd/3"}


def test_an_invoice_states_what_its_transaction_says(control: httpx.Client, syncfy: httpx.Client, receiver: Receiver):
    """Its total, date and parties are the transaction's: the file was a skeleton with none of them, so a consumer
    reconciling invoices with transactions had nothing to reconcile."""
    events = run_events(control, finished_run(control, "syncfy-credential-lifecycle", receiver.url, seed=9))
    urls = next(e for e in events if e["type"] == "syncfy:credentials.refreshed")["body"]["payload"]["endpoints"]
    export = syncfy.get(next(u for u in urls["attachments"] if "/export" in u))
    archive = zipfile.ZipFile(io.BytesIO(export.content))
    items = [i for i in json.loads(archive.read("attachments.json")) if i["id_transaction"]]
    assert items
    for item in items[:20]:
        [tx] = envelope(syncfy.get("/v1/transactions", params={"id_transaction": item["id_transaction"]}))
        data = archive.read(item["file"])
        assert syncfy.get(f"/v1/attachments/{item['id_attachment']}").content == data  # one file, both ways
        invoice = ElementTree.fromstring(data)
        total = f"{abs(tx['amount']):.2f}"
        assert (invoice.get("Total"), invoice.get("SubTotal")) == (total, total)
        assert invoice.get("Fecha", "")[:10] == datetime.fromtimestamp(tx["dt_transaction"], UTC).strftime("%Y-%m-%d")
        issuer, receiver_ = invoice.find("cfdi:Emisor", CFDI), invoice.find("cfdi:Receptor", CFDI)
        assert issuer is not None and receiver_ is not None
        counterparty, user = (issuer, receiver_) if tx["amount"] < 0 else (receiver_, issuer)
        assert counterparty.get("Nombre") == tx["description"]
        assert counterparty.get("Rfc") == ((tx["extra"] or {}).get("tax_id") or "XAXX010101000")
        assert user.get("Rfc") == (tx["id_external"] or "XAXX010101000")
