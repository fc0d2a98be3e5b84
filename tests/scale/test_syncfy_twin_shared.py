"""The Syncfy twin of a server that does not send, on a store a worker plays its runs from: the credential a run's
events announce is answered, however long the server has served its twin. A server indexed the events it
published itself, and what the store held once, at its twin's first call: a worker indexes nothing, so what it
published after that call was 404 for good, on every server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.api.app import server_app
from tests.api.harness import ApiServer, eventually
from tests.scale.test_runs_on_workers import TTL
from tests.twins.syncfy_harness import envelope, run_events, twin_client


def test_a_run_a_worker_plays_is_shown_by_the_twin_of_a_server_that_does_not_send(
    db: str, spawn: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")  # as the worker's (`spawn`)
    server = ApiServer(server_app(db, grace=1, sends=False, lease_ttl=float(TTL))).start()
    try:
        with server.client() as control, twin_client(server.url) as twin:
            envelope(twin.get("/v1/credentials"))  # the twin answers before the run: what the store held is indexed
            spawn("worker", "--db", db, "--lease-ttl", TTL, ready="sending")
            asked = {"scenario": "syncfy-credential-lifecycle", "speed": 0, "seed": 5, "target": "http://127.0.0.1:9/"}
            run = control.post("/runs", json=asked)
            assert run.status_code == 202, run.text

            def ended() -> bool:
                return control.get(f"/runs/{run.json()['id']}").json()["status"] in ("completed", "failed")

            eventually(ended, timeout=60, what="the worker to play the run")
            [created] = [e for e in run_events(control, run.json()["id"]) if e["type"] == "syncfy:credentials.created"]
            id_credential = created["body"]["payload"]["id_credential"]
            [shown] = envelope(twin.get(f"/v1/credentials/{id_credential}"))
            assert shown["id_credential"] == id_credential
    finally:
        server.stop()
