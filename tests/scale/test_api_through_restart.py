"""The control API while its PostgreSQL store is down: a read answers 503 with Retry-After (the store cannot be
reached now; asked again later, the answer comes), never the 500 of an unexpected error, and once the database is
back it answers as before."""

from __future__ import annotations

import time

import pytest

from simulator.api.app import server_app
from tests.api.harness import ApiServer
from tests.store import pg


def test_reads_answer_503_while_the_database_is_down(db: str, cluster: pg.Cluster, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    server = ApiServer(server_app(db, grace=1)).start()
    try:
        with server.client() as api:
            made = api.post("/subscriptions", json={"url": "http://127.0.0.1:9/hook"})
            assert made.status_code == 201, made.text
            assert api.get("/schedules").status_code == 200  # the schedules' pool holds a connection now
            pg.restart(cluster, "stop")
            try:
                for path in ("/subscriptions", "/runs", "/deliveries"):
                    down = api.get(path)
                    assert down.status_code == 503, (path, down.text)
                    assert down.headers["retry-after"] and "cannot be reached" in down.json()["detail"]
            finally:
                pg.restart(cluster, "start")
            deadline = time.monotonic() + 30
            while (back := api.get("/subscriptions")).status_code != 200:
                assert time.monotonic() < deadline, back.text
                time.sleep(0.2)
            assert [s["id"] for s in back.json()["data"]] == [made.json()["id"]]
            # Its first call after the restart: the pooled connection the restart cut is replaced, not used.
            assert api.get("/schedules").status_code == 200
    finally:
        server.stop()
