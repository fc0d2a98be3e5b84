"""Credentials in a subscription URL (`http://user:pw@host/…`): sent as Basic auth, as providers do; masked in every
answer (the subscription, its deliveries' requests, a run's or a schedule's target); absent from the database."""

from __future__ import annotations

import base64
from pathlib import Path

from simulator.credentials import basic_auth, kept_headers, kept_url, mask_headers, mask_url, masked_request
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, serving_api

USER, PASSWORD = "ops@example.com", "p@ss:w0rd/é"
QUOTED = "ops%40example.com:p%40ss%3Aw0rd%2F%C3%A9"  # as the URL carries them


def test_url_credentials_go_as_basic_auth_and_are_masked_everywhere_they_are_shown(tmp_path: Path) -> None:
    with Receiver() as receiver, serving_api(tmp_path) as server, server.client() as api:
        url = receiver.url.replace("http://", f"http://{QUOTED}@")
        masked = receiver.url.replace("http://", "http://ops%40example.com:***@")
        created = api.post("/subscriptions", json={"url": url, "events": ["token.created"]})
        assert created.status_code == 201, created.text
        sub_id = created.json()["id"]
        assert api.get(f"/subscriptions/{sub_id}").json()["url"] == masked
        assert [s["url"] for s in api.get("/subscriptions").json()["data"]] == [masked]

        emitted = api.post("/events", json={"type": "token.created"}).json()
        (request,) = receiver.wait_for(1)
        expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        assert request.headers["authorization"] == f"Basic {expected}"
        assert request.path == "/hook"

        delivery_id = emitted["deliveries"][0]
        eventually(lambda: api.get(f"/deliveries/{delivery_id}").json()["attempts"] == 1, what="the attempt record")
        (attempt,) = api.get(f"/deliveries/{delivery_id}").json()["attempt_log"]
        assert attempt["request"]["url"] == masked
        assert attempt["request"]["headers"]["Authorization"] == "Basic ***"

        run = api.post("/runs", json={"scenario": "api-one-event", "target": url, "speed": 0}).json()
        assert api.get(f"/runs/{run['id']}").json()["target"] == masked
        schedule = api.post("/schedules", json={"scenario": "api-one-event", "target": url, "cron": "0 0 1 1 *"})
        assert schedule.json()["run"]["target"] == masked
        eventually(lambda: len(receiver.requests) == 2, what="the run's delivery")

    stored = b"".join(p.read_bytes() for p in tmp_path.glob("api.db*") if not p.name.endswith(".key"))
    for needle in (PASSWORD, QUOTED.partition(":")[2], expected):
        assert needle.encode() not in stored


def test_an_authorization_a_subscriptions_own_headers_give_is_masked_in_its_attempts(tmp_path: Path) -> None:
    token = "Bearer sk_live_not_for_the_log"
    with Receiver() as receiver, serving_api(tmp_path) as server, server.client() as api:
        headers = {"authorization": token, "X-Env": "staging"}
        created = api.post("/subscriptions", json={"url": receiver.url, "headers": headers})
        assert created.status_code == 201, created.text
        emitted = api.post("/events", json={"type": "token.created"}).json()
        (request,) = receiver.wait_for(1)
        assert request.headers["authorization"] == token  # sent as given

        delivery_id = emitted["deliveries"][0]
        eventually(lambda: api.get(f"/deliveries/{delivery_id}").json()["attempts"] == 1, what="the attempt record")
        (attempt,) = api.get(f"/deliveries/{delivery_id}").json()["attempt_log"]
        assert attempt["request"]["headers"]["authorization"] == "Bearer ***"
        assert attempt["request"]["headers"]["X-Env"] == "staging"


def test_with_credentials_in_its_url_too_a_subscriptions_own_authorization_is_the_one_sent(tmp_path: Path) -> None:
    """One Authorization goes out, the subscription's own (its headers replace the sender's of the same name, as
    README says), never both and never the URL's Basic."""
    token = "Bearer sk_test_own"
    with Receiver() as receiver, serving_api(tmp_path) as server, server.client() as api:
        url = receiver.url.replace("http://", f"http://{QUOTED}@")
        created = api.post("/subscriptions", json={"url": url, "headers": {"Authorization": token}})
        assert created.status_code == 201, created.text
        api.post("/events", json={"type": "token.created"})
        (request,) = receiver.wait_for(1)
    assert request.headers["authorization"] == token  # sent first, the sender's Basic would be the one read here


def test_masking_and_basic_auth_of_urls_and_headers() -> None:
    assert mask_url("https://u:secret@host:8443/p?q=1") == "https://u:***@host:8443/p?q=1"
    assert mask_url("https://token@host/p") == "https://***@host/p"  # a user alone is often a token
    assert mask_url("https://host/p@x") == "https://host/p@x"
    assert basic_auth("https://host/hook") == {}
    assert basic_auth("https://token@host/") == {"Authorization": "Basic " + base64.b64encode(b"token:").decode()}
    assert mask_headers({"authorization": "Bearer abc", "X": "1"}) == {"authorization": "Bearer ***", "X": "1"}
    assert mask_headers({"Authorization": "abc"}) == {"Authorization": "***"}
    plain = {"Authorization": "Bearer own"}  # a header the subscription sets is its own to show, as it is
    assert masked_request("https://host/p", plain) == ("https://host/p", plain)
    assert masked_request("https://u:p@host/p", {"Authorization": "Basic dTpw"}) == (
        "https://u:***@host/p",
        {"Authorization": "Basic ***"},
    )


def test_a_subscriptions_own_authorization_is_masked_where_shown_and_kept_when_sent_back_as_shown(
    tmp_path: Path,
) -> None:
    """The dashboard's edit form holds the subscription as shown: a change next to the masked header or URL sends
    the masked value back with it, which must not replace the secret with `***`."""
    token = "Bearer sk_live_not_for_the_page"
    with Receiver() as receiver, serving_api(tmp_path) as server, server.client() as api:
        url = receiver.url.replace("http://", f"http://{QUOTED}@")
        body = {"url": url, "headers": {"Authorization": token, "X-Env": "a"}}
        created = api.post("/subscriptions", json=body).json()
        assert created["headers"]["Authorization"] == token  # the answer to the request that gave it
        path = f"/subscriptions/{created['id']}"
        shown = api.get(path).json()
        assert shown["headers"] == {"Authorization": "Bearer ***", "X-Env": "a"}
        assert [s["headers"] for s in api.get("/subscriptions").json()["data"]] == [shown["headers"]]

        changed = api.patch(path, json={"url": shown["url"], "headers": {**shown["headers"], "X-Env": "b"}})
        assert changed.status_code == 200, changed.text
        assert changed.json()["headers"] == {"Authorization": "Bearer ***", "X-Env": "b"}
        api.post("/events", json={"type": "token.created"})
        (request,) = receiver.wait_for(1)
        assert request.headers["authorization"] == token  # the own header wins over the URL's Basic
        assert request.headers["x-env"] == "b"

        api.patch(path, json={"headers": {}})  # the URL's own credentials go as Basic: the password was kept
        api.post("/events", json={"type": "token.created"})
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        assert receiver.wait_for(2)[1].headers["authorization"] == f"Basic {basic}"

        other = api.patch(path, json={"headers": {"Authorization": "Bearer new"}})
        assert other.json()["headers"] == {"Authorization": "Bearer ***"}
        api.post("/events", json={"type": "token.created"})
        assert receiver.wait_for(3)[2].headers["authorization"] == "Bearer new"

    stored = b"".join(p.read_bytes() for p in tmp_path.glob("api.db*") if not p.name.endswith(".key"))
    assert PASSWORD.encode() not in stored


def test_a_value_sent_back_as_shown_keeps_the_stored_one_and_any_other_replaces_it() -> None:
    old = "https://ops:pw@host/a"
    assert kept_url("https://ops:***@host/b", old) == "https://ops:pw@host/b"
    assert kept_url("https://other:***@host/b", old) == "https://other:***@host/b"  # not the password shown
    assert kept_url("https://ops:new@host/b", old) == "https://ops:new@host/b"
    assert kept_url("https://***@host/b", "https://tok@host/a") == "https://tok@host/b"
    assert kept_url("https://***@host/b", old) == "https://***@host/b"  # `***@` never showed a password
    assert kept_url("https://ops:***@host/b", "https://host/a") == "https://ops:***@host/b"
    headers = {"authorization": "Bearer abc", "X": "1"}
    assert kept_headers({"Authorization": "Bearer ***", "X": "2"}, headers) == {"Authorization": "Bearer abc", "X": "2"}
    assert kept_headers({"Authorization": "Basic ***"}, headers) == {"Authorization": "Basic ***"}
    assert kept_headers({"X": "***"}, {"X": "secret"}) == {"X": "***"}  # only authorization headers are masked
    assert kept_headers({}, headers) == {}
