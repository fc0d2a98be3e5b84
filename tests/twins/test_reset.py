"""`POST /reset` forgets the provider API twins' state with everything else: what the twins served before is gone
(a Syncfy user, session, webhook and credential, a Basis Theory token and webhook), a credential's lifecycle
stops, and both twins work again afterwards."""

from __future__ import annotations

from pathlib import Path

import httpx

from simulator.api.app import server_app
from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer
from tests.twins.syncfy_harness import envelope, twin_client, waiting_credential


def test_reset_forgets_what_the_twins_served(tmp_path: Path) -> None:
    with Receiver() as receiver:
        server = ApiServer(server_app(str(tmp_path / "twin.db"), grace=1)).start()
        try:
            control, syncfy = server.client(), twin_client(server.url)
            bt = httpx.Client(base_url=f"{server.url}/basistheory", headers={"BT-API-KEY": "k"}, timeout=30)
            token, _, _ = waiting_credential(syncfy, receiver.url)
            made = bt.post("/tokens", json={"type": "token", "data": "x"}).json()["id"]
            assert bt.get(f"/tokens/{made}").status_code == 200
            bt_hook = {"name": "h", "url": receiver.url, "events": ["token.created"]}
            assert bt.post("/webhooks", json=bt_hook).status_code == 201

            assert control.post("/reset").status_code == 204

            assert envelope(syncfy.get("/v1/users")) == []
            assert envelope(syncfy.get("/v1/webhooks")) == []
            assert syncfy.get(f"/v1/sessions/{token}/verify").json()["code"] in (401, 404)
            assert bt.get(f"/tokens/{made}").status_code == 404
            assert bt.get("/webhooks").json()["data"] == []
            assert control.get("/subscriptions").json()["data"] == []
            # Both work again, from nothing.
            envelope(syncfy.post("/v1/users", json={"name": "Bea"}))
            assert [u["name"] for u in envelope(syncfy.get("/v1/users"))] == ["Bea"]
            again = bt.post("/tokens", json={"type": "token", "data": "y"}).json()["id"]
            assert bt.get(f"/tokens/{again}").status_code == 200
            for client in (control, syncfy, bt):
                client.close()
        finally:
            server.stop()
