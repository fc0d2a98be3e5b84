"""The Syncfy twin's state survives a restart on the same database: credentials and their derived rows answer the
same bytes, sessions and webhooks still work, and a credential waiting for its token goes on after the restart."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from simulator.api.app import server_app
from simulator.core import syncfy_flows
from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer
from tests.twins.syncfy_harness import (
    envelope,
    eventually,
    finished_run,
    pull_to_its_end,
    run_events,
    twin_client,
    waiting_credential,
)


def serve(db: Path) -> ApiServer:
    return ApiServer(server_app(str(db), grace=1)).start()


def without_rid(body: bytes, rid: str) -> bytes:
    return body.replace(rid.encode(), b"")


def test_state_survives_a_restart(tmp_path: Path):
    db = tmp_path / "twin.db"
    with Receiver() as receiver:
        server = serve(db)
        try:
            control, syncfy = server.client(), twin_client(server.url)
            events = run_events(control, finished_run(control, "syncfy-credential-lifecycle", receiver.url, seed=4))
            refresh = next(e for e in events if e["type"] == "syncfy:credentials.refreshed")["body"]["payload"]
            urls = [refresh["endpoints"]["credential"][0], refresh["endpoints"]["transactions"][0]]
            before = [syncfy.get(url) for url in urls]
            token, waiting, bearer = waiting_credential(syncfy, receiver.url)
            syncfy.close()
            control.close()
        finally:
            server.stop()

        server = serve(db)
        try:
            syncfy = twin_client(server.url)
            after = [syncfy.get(url) for url in urls]
            for old, new in zip(before, after, strict=True):
                assert without_rid(old.content, old.json()["rid"]) == without_rid(new.content, new.json()["rid"])
            assert envelope(syncfy.get(f"/v1/sessions/{token}/verify")) is True
            assert [w["url"] for w in envelope(syncfy.get("/v1/webhooks"))] == [receiver.url]
            envelope(syncfy.put(waiting, json={"twofa": {"token": "123456"}}, headers=bearer))
            eventually(lambda: envelope(syncfy.get(waiting, headers=bearer))[0]["code"] == 200, 10, "the refresh")
            refreshed = eventually(
                lambda: [r for r in receiver.requests if waiting.rsplit("/", 1)[1] in r.body.decode()],
                10,
                "its webhooks",
            )
            assert refreshed
            syncfy.close()
        finally:
            server.stop()


def start_credential(server: ApiServer, receiver: Receiver) -> dict[str, Any]:
    """A subscription to Syncfy's events at `receiver`, and a credential of a new user, its job under way."""
    with server.client() as control, twin_client(server.url) as syncfy:
        assert control.post("/subscriptions", json={"url": receiver.url, "events": ["syncfy:*"]}).status_code == 201
        id_user = envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"]
        token = envelope(syncfy.post("/v1/sessions", json={"id_user": id_user}))["token"]
        login = {"id_site": "56cf5728784806f72b8b4568", "credentials": {"username": "test"}}
        job: dict[str, Any] = envelope(
            syncfy.post("/v1/credentials", json=login, headers={"Authorization": f"Bearer {token}"})
        )
        return job


def names(receiver: Receiver) -> list[str]:
    return [e["header"]["event"]["name"] for r in receiver.requests for e in r.json()["events"]]


def test_a_credential_under_way_goes_on_after_a_restart_without_a_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Syncfy's jobs do not wait for a caller: a credential whose job was under way when the server stopped plays
    to its end once the server is back, and its webhooks arrive, with no request to the twin."""
    db = tmp_path / "twin.db"
    with Receiver() as receiver:
        monkeypatch.setattr(syncfy_flows, "STEP_DELAY", (30.0, 30.0))  # the first server never gets past a step
        server = serve(db)
        try:
            job = start_credential(server, receiver)
        finally:
            server.stop()
        assert "credentials.refreshed" not in names(receiver)  # stopped under way

        monkeypatch.setattr(syncfy_flows, "STEP_DELAY", (0.01, 0.02))
        server = serve(db)
        try:

            def refreshed() -> bool:
                return (
                    "credentials.refreshed" in names(receiver)
                    and job["id_credential"] in receiver.requests[-1].body.decode()
                )

            eventually(refreshed, 15, f"the refresh webhook, with no call to the twin; got {names(receiver)}")
        finally:
            server.stop()


def test_a_step_under_way_when_the_server_stops_ends_before_the_store_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A credential's step that the server's stop finds under way ends, and stores where it got to, before the
    store closes: cut off, it left its step half done and its connection to the database unclosed (collected
    later, its driver's thread called into the closed event loop)."""
    entered, ended = threading.Event(), threading.Event()
    real = syncfy_flows.CredentialFlows._step_locked

    async def slow_step(flows: syncfy_flows.CredentialFlows, id_credential: str) -> bool:
        if entered.is_set():
            return await real(flows, id_credential)  # a step after the one this test watches
        entered.set()
        await asyncio.sleep(0.5)  # the server stops meanwhile
        done = await real(flows, id_credential)
        ended.set()
        return done

    with Receiver() as receiver:
        server = serve(tmp_path / "twin.db")
        try:
            start_credential(server, receiver)
            # The request played the first step; the next comes from the background, within STEP_DELAY.
            monkeypatch.setattr(syncfy_flows.CredentialFlows, "_step_locked", slow_step)
            assert entered.wait(10), "no step began in the background"
        finally:
            server.stop()
    assert ended.is_set(), "the step under way was cut off by the stop"


def test_an_index_rebuilt_from_the_stored_events_folds_them_in_the_order_they_happened(tmp_path: Path) -> None:
    """The index is made again from the stored events when it lacks some (written by an earlier process before it
    indexed them). It took them by their time: a pull asked after a run at speed 0, stamped hours before the run's
    last refresh, was folded before it, and the credential answered otherwise after a restart than before."""
    db = tmp_path / "twin.db"
    server = serve(db)
    try:
        control, syncfy = server.client(), twin_client(server.url)
        events = run_events(control, finished_run(control, "syncfy-credential-lifecycle", "http://127.0.0.1:9/", 5))
        path = f"/v1/credentials/{events[0]['body']['payload']['id_credential']}"
        assert envelope(syncfy.get(path))[0]["dt_execute"] > time.time() + 3600  # the run's, hours ahead
        before = pull_to_its_end(control, syncfy, path)
        assert before["dt_execute"] <= time.time() + 60, before  # the pull's, folded after the run's
        syncfy.close()
        control.close()
    finally:
        server.stop()

    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM syncfy_index")
    server = serve(db)
    try:
        with twin_client(server.url) as syncfy:
            assert envelope(syncfy.get(path))[0] == before
    finally:
        server.stop()
