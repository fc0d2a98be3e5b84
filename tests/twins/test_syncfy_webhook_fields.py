"""The V1 webhook fields that were answered 200 and not applied, through Syncfy's published Python SDK, on each
store: `PUT /v1/webhooks/{id}` with `key` (the secret its deliveries are signed with) or `id_user` (whose
credentials it is sent), and `POST /v1/webhooks` with `is_disabled`, each checked by what a real receiver is sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulator import signing
from simulator.receiving import make_verifier
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import KEY

sdk = pytest.importorskip("sync.sync")  # sync-py: its module is `sync`
API_KEY = {"api_key": KEY}
BANK_SITE = "56cf5728784806f72b8b4568"  # the sandbox's Normal bank: its job plays to its end without a token
CREATED = ["credential_create"]


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    return sim_on_each_store


def _user(sync: Any, name: str) -> str:
    return str(sync.run(API_KEY, "/users", {"name": name}, "POST")["id_user"])


def _register(sync: Any, id_user: str) -> str:
    """A credential of `id_user` at the Normal bank: its lifecycle starts with `credential_create`."""
    token = sync.auth(API_KEY, {"id_user": id_user})
    job = sync.run(token, "/credentials", {"id_site": BANK_SITE, "credentials": {"username": "test"}}, "POST")
    return str(job["id_credential"])


def _refused(sync: Any, path: str, payload: dict[str, Any], method: str) -> Any:
    with pytest.raises(sdk.Error) as refused:
        sync.run(API_KEY, path, payload, method)
    return refused.value


def _subscription(sim: WebhookSim, url: str) -> dict[str, Any]:
    (sub,) = [s for s in httpx.get(f"{sim.url}/subscriptions").json()["data"] if s["url"] == url]
    return dict(sub)


def test_a_put_key_signs_what_follows_with_it(sync: Any, receiver: Receiver) -> None:
    first, second = signing.new_secret("syncfy"), signing.new_secret("syncfy")
    receiver.verifier = make_verifier("syncfy", secret=second)
    hook = sync.run(API_KEY, "/webhooks", {"url": receiver.url, "events": CREATED, "key": first}, "POST")
    path = f"/webhooks/{hook['id_webhook']}"
    changed = sync.run(API_KEY, path, {"key": second}, "PUT")
    assert changed["id_webhook"] == hook["id_webhook"] and "key" not in changed  # never shown

    id_credential = _register(sync, _user(sync, "Key"))
    (arrived,) = receiver.wait_for(1)
    assert arrived.json()["id_credential"] == id_credential
    assert arrived.verified, arrived.reason  # signed with the key the PUT gave, not the first one

    refused = _refused(sync, path, {"key": "not base64!"}, "PUT")
    assert refused.code == 400 and refused.message.startswith("invalid webhook: key: "), refused.message
    assert (
        refused.message
        == _refused(sync, "/webhooks", {"url": receiver.url, "events": CREATED, "key": "not base64!"}, "POST").message
    )
    sync.run(API_KEY, path, None, "DELETE")


def test_a_put_id_user_changes_whose_credentials_it_is_sent(sync: Any, sim: WebhookSim, receiver: Receiver) -> None:
    ana, luis = _user(sync, "Ana"), _user(sync, "Luis")
    hook = sync.run(API_KEY, "/webhooks", {"url": receiver.url, "events": CREATED, "id_user": ana}, "POST")
    path = f"/webhooks/{hook['id_webhook']}"
    assert sync.run(API_KEY, path, {"id_user": luis}, "PUT")["id_user"] == luis
    (shown,) = sync.run(API_KEY, path, None, "GET")
    assert shown["id_user"] == luis

    id_credential = _register(sync, luis)
    (arrived,) = receiver.wait_for(1)  # Luis's credential reaches it: it is his webhook now
    assert (arrived.json()["id_user"], arrived.json()["id_credential"]) == (luis, id_credential)

    # Refused as `POST` refuses them, naming the field, and nothing changes.
    unknown = _refused(sync, path, {"id_user": "5f0000000000000000000000"}, "PUT")
    assert unknown.code == 404 and "id_user" in unknown.message, unknown.message
    wrong = _refused(sync, path, {"id_user": 42}, "PUT")
    assert wrong.code == 400 and "id_user" in wrong.message, wrong.message
    assert sync.run(API_KEY, path, None, "GET")[0]["id_user"] == luis
    # Empty, as on `POST`: every user's credentials.
    assert sync.run(API_KEY, path, {"id_user": None}, "PUT")["id_user"] is None
    sync.run(API_KEY, path, None, "DELETE")


def test_a_webhook_made_disabled_is_disabled_and_sent_nothing(sync: Any, sim: WebhookSim) -> None:
    with Receiver() as off, Receiver() as on:
        made = sync.run(API_KEY, "/webhooks", {"url": off.url, "events": CREATED, "is_disabled": 1}, "POST")
        (shown,) = sync.run(API_KEY, f"/webhooks/{made['id_webhook']}", None, "GET")
        assert shown["is_disabled"] == 1, shown
        disabled = _subscription(sim, off.url)
        assert disabled["status"] == "disabled", disabled
        sync.run(API_KEY, "/webhooks", {"url": on.url, "events": CREATED, "is_disabled": "0"}, "POST")
        assert _subscription(sim, on.url)["status"] == "enabled"

        _register(sync, _user(sync, "Off"))
        on.wait_for(1)  # the event was published: to the enabled webhook, and not to the disabled one
        made_for_off = httpx.get(f"{sim.url}/deliveries", params={"subscription": disabled["id"]}).json()["data"]
        assert made_for_off == [] and off.requests == []


def test_an_is_disabled_that_is_not_a_flag_is_refused_and_makes_no_webhook(sync: Any) -> None:
    before = len(sync.run(API_KEY, "/webhooks", None, "GET"))
    for value in (2, "yes", None, [1]):
        hook = {"url": "http://127.0.0.1:9/never", "events": CREATED, "is_disabled": value}
        refused = _refused(sync, "/webhooks", hook, "POST")
        assert refused.code == 400 and refused.message == "is_disabled must be 0 or 1", refused.message
    assert len(sync.run(API_KEY, "/webhooks", None, "GET")) == before
