"""Syncfy's documented 0/1 filters on lists: `has_attachment` (transactions) and `is_disable` (transactions,
accounts, the documents' catalogues). Ignored, every row came back whatever they said, and counts with them."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import envelope, finished_run, run_events

START = "2026-03-02T10:00:00Z"


@pytest.fixture(scope="module")
def receiver() -> Any:
    with Receiver() as started:
        yield started


@pytest.fixture(scope="module")
def window(control: httpx.Client, syncfy: httpx.Client, receiver: Receiver) -> dict[str, str]:
    """The query of a refresh's transactions, without its paging, of a window where two transactions or more have
    an attachment and some have none (the test below reads the second)."""
    # A fixed start, so that every run of the suite reads the same window: from the time of day it ran, the first
    # window with both kinds once held a single transaction with an attachment, and the test failed reading a second.
    run = finished_run(control, "syncfy-credential-lifecycle", receiver.url, seed=7, start_time=START)
    events = run_events(control, run)
    for event in events:
        if event["type"] != "syncfy:credentials.refreshed":
            continue
        query = dict(parse_qsl(urlsplit(event["body"]["payload"]["endpoints"]["transactions"][0]).query))
        query = {k: v for k, v in query.items() if k not in ("skip", "limit")}
        rows = envelope(syncfy.get("/v1/transactions", params={**query, "limit": "5000"}))
        with_one = sum(1 for row in rows if row["attachments"])
        if 2 <= with_one < len(rows):
            return query
    raise AssertionError("no refresh of the run has two transactions with an attachment and one without")


def _count(syncfy: httpx.Client, query: dict[str, str], **more: str) -> int:
    counted: int = envelope(syncfy.get("/v1/transactions/count", params={**query, **more}))["count"]
    return counted


def _rows(syncfy: httpx.Client, path: str, query: dict[str, str], **more: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = envelope(syncfy.get(path, params={**query, "limit": "5000", **more}))
    return rows


def test_has_attachment_keeps_the_transactions_with_one_or_those_without(
    syncfy: httpx.Client, window: dict[str, str]
) -> None:
    total = _count(syncfy, window)
    with_one, without = _count(syncfy, window, has_attachment="1"), _count(syncfy, window, has_attachment="0")
    assert 0 < with_one < total and with_one + without == total
    kept = _rows(syncfy, "/v1/transactions", window, has_attachment="1")
    assert len(kept) == min(with_one, 5000) and all(row["attachments"] for row in kept)
    rest = _rows(syncfy, "/v1/transactions", window, has_attachment="0")
    assert len(rest) == min(without, 5000) and not any(row["attachments"] for row in rest)
    # With another filter that picks every n-th row (one account's) and a page further on.
    account = kept[1]["id_account"]
    mine = _rows(syncfy, "/v1/transactions", window, has_attachment="1", id_account=account, skip="3")
    assert mine and all(row["attachments"] and row["id_account"] == account for row in mine)
    assert _count(syncfy, window, has_attachment="1", id_account=account) == len(mine) + 3
    # The same filter on a credential's own transactions (with their files).
    path = f"/v1/credentials/{window['id_credential']}/transactions"
    assert all(row["attachments"] for row in _rows(syncfy, path, window, has_attachment="1"))


def test_is_disable_1_lists_nothing_as_no_row_is_ever_disabled(syncfy: httpx.Client, window: dict[str, str]) -> None:
    assert _count(syncfy, window, is_disable="1") == 0
    assert _rows(syncfy, "/v1/transactions", window, is_disable="1") == []
    assert _count(syncfy, window, is_disable="0") == _count(syncfy, window) > 0
    credential = {"id_credential": window["id_credential"]}
    assert _rows(syncfy, "/v1/accounts", credential, is_disable="1") == []
    accounts = _rows(syncfy, "/v1/accounts", credential, is_disable="0")
    assert accounts and accounts == _rows(syncfy, "/v1/accounts", credential)
    for catalogue in ("document_types", "document_status"):
        path = f"/v1/documents/catalogues/{catalogue}"
        assert envelope(syncfy.get(path, params={"is_disable": "1"})) == []
        assert envelope(syncfy.get(path, params={"is_disable": "0"})) == envelope(syncfy.get(path)) != []


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/transactions", "has_attachment"),
        ("/v1/transactions/count", "has_attachment"),
        ("/v1/transactions", "is_disable"),
        ("/v1/accounts", "is_disable"),
        ("/v1/documents/catalogues/document_types", "is_disable"),
    ],
)
def test_a_filter_that_is_not_0_or_1_is_a_400_naming_it(
    syncfy: httpx.Client, window: dict[str, str], path: str, name: str
) -> None:
    answer = syncfy.get(path, params={"id_credential": window["id_credential"], name: "yes"})
    assert answer.status_code == 400 and f"{name} must be 0 or 1" in answer.json()["message"], answer.text
