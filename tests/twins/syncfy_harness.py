"""Helpers of the Syncfy twin tests: a client of the twin with the styles consumers authenticate with, Syncfy's
envelope checked on every answer, and the events of a finished run read back from the control API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.harness import eventually as eventually  # the twin tests import it from here

KEY = "sk_test_syncfy_twin"
ENVELOPE_KEYS = ["rid", "code", "errors", "status", "message", "response"]


def envelope(response: httpx.Response, code: int = 200) -> Any:
    """Assert Syncfy's envelope with `code` (as the HTTP status too) and `Request-ID` = rid; return `response`."""
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ENVELOPE_KEYS, body
    assert body["code"] == code and body["status"] is (code < 400) and body["errors"] is None
    assert response.headers["request-id"] == body["rid"]
    if code >= 400:
        assert body["response"] is None and body["message"]
    return body["response"]


def twin_client(base: str, key: str = KEY) -> httpx.Client:
    """A client of the twin with `Authorization: api_key api_key=KEY` (its webhooks' documented style)."""
    return httpx.Client(base_url=f"{base}/syncfy", headers={"Authorization": f"api_key api_key={key}"}, timeout=30.0)


def run_events(control: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run (its stored bodies), in order."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = control.get(f"/runs/{run_id}/events", params=params).json()
        out.extend(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def finished_run(control: httpx.Client, scenario: str, target: str, seed: int, **fields: Any) -> str:
    """Start a run at speed 0 and wait (polling, 60 s at most) until it completed; its id."""
    run = control.post("/runs", json={"scenario": scenario, "seed": seed, "speed": 0, "target": target, **fields})
    assert run.status_code == 202, run.text
    run_id = run.json()["id"]
    ended = eventually(lambda: _ended(control.get(f"/runs/{run_id}").json()), 60, f"run {run_id}")
    assert ended["status"] == "completed", ended
    return run_id


def _ended(run: dict[str, Any]) -> dict[str, Any] | None:
    return run if run["status"] not in ("pending", "running") else None  # a run is pending before it starts


TOKEN_SITE = "56cf5728784806f72b8b4569"  # a bank that asks for a token: its credential's job waits for it


def waiting_credential(syncfy: httpx.Client, url: str) -> tuple[str, str, dict[str, str]]:
    """A user with a session, a webhook to `url`, and a credential whose job waits for its token (code 410): the
    session's token, the credential's path and the bearer header."""
    id_user = envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"]
    token = envelope(syncfy.post("/v1/sessions", json={"id_user": id_user}))["token"]
    envelope(syncfy.post("/v1/webhooks", json={"url": url, "events": ["credential_update"]}))
    bearer = {"Authorization": f"Bearer {token}"}
    login = {"id_site": TOKEN_SITE, "credentials": {"username": "test"}}
    job = envelope(syncfy.post("/v1/credentials", json=login, headers=bearer))
    path = f"/v1/credentials/{job['id_credential']}"
    eventually(lambda: envelope(syncfy.get(path, headers=bearer))[0]["code"] == 410, 10, "the 410")
    return token, path, bearer


def pull_to_its_end(control: httpx.Client, syncfy: httpx.Client, path: str) -> dict[str, Any]:
    """`PUT {path}/pulls` on a credential (its own user's), and wait until the job has published its last event
    (it waits for a token on a two-factor site; its documents end it on a fiscal one; its refresh elsewhere); the
    credential as the twin then answers it."""
    from simulator.providers.syncfy._values import GOVERNMENT, TWOFA_SITES
    from simulator.testing.receiver import Receiver

    credential = envelope(syncfy.get(path))[0]
    user = {"Authorization": f"api_key api_key={KEY},id_user={credential['id_user']}"}
    with Receiver() as receiver:
        hook = control.post("/subscriptions", json={"url": receiver.url, "events": ["syncfy:*"]}).json()
        try:
            envelope(syncfy.put(f"{path}/pulls", headers=user, json={}))
            if credential["id_site"] in TWOFA_SITES:
                eventually(lambda: envelope(syncfy.get(path))[0]["code"] == 410, 15, "the job to wait for its token")
            else:
                fiscal = credential["id_site_organization_type"] == GOVERNMENT
                last = b'"documents.success"' if fiscal else b'"credentials.refreshed"'
                eventually(lambda: any(last in r.body for r in list(receiver.requests)), 15, f"{last!r}")
        finally:
            control.delete(f"/subscriptions/{hook['id']}")
    return envelope(syncfy.get(path))[0]
