"""The Syncfy twin's users and sessions as a consumer's offboarding and login code meets them: a deleted user's
credentials and data go with the user and their sessions end; a user's fields are checked on change as on
creation; an unknown session is a 401 as Syncfy answers it; a job's status names nobody else's credential; its
address is absolute; files carry `Request-ID`; paging numbers are ASCII digits."""

from __future__ import annotations

import httpx
import pytest

from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import TOKEN_SITE, envelope, eventually, waiting_credential


def refused(response: httpx.Response, code: int) -> str:
    """The message of a refusal in Syncfy's envelope."""
    envelope(response, code)
    message: str = response.json()["message"]
    return message


def test_a_deleted_users_credentials_data_and_sessions_go_with_them(syncfy: httpx.Client) -> None:
    with Receiver() as receiver:
        token, path, bearer = waiting_credential(syncfy, receiver.url)
    id_user = envelope(syncfy.get(path, headers=bearer))[0]["id_user"]
    id_credential = path.rsplit("/", 1)[1]
    assert envelope(syncfy.delete(f"/v1/users/{id_user}")) is True
    refused(syncfy.get(path), 404)  # the key sees no credential of theirs
    assert envelope(syncfy.get("/v1/credentials", params={"id_user": id_user})) == []
    listed = envelope(syncfy.get("/v1/credentials/all", params={"id_user": id_user}))
    assert [(c["id_credential"], c["is_disabled"]) for c in listed] == [(id_credential, 1)]  # as a deleted one shows
    refused(syncfy.get("/v1/credentials", headers=bearer), 401)  # the session made before the delete is over
    refused(syncfy.get(f"/v1/sessions/{token}/verify"), 401)


def test_a_users_fields_are_checked_on_change_as_on_creation(syncfy: httpx.Client) -> None:
    id_user = envelope(syncfy.post("/v1/users", json={"name": "Ana", "id_external": 456}))["id_user"]
    wrong = (({"name": ["a", 1]}, "name"), ({"name": None}, "name"), ({"id_external": {"rfc": "X"}}, "id_external"))
    for bad, field in wrong:
        message = refused(syncfy.put(f"/v1/users/{id_user}", json=bad), 400)
        assert field in message, message
    [user] = [u for u in envelope(syncfy.get("/v1/users")) if u["id_user"] == id_user]
    assert (user["name"], user["id_external"]) == ("Ana", "456")  # nothing of the refused changes stuck
    changed = envelope(syncfy.put(f"/v1/users/{id_user}", json={"name": "Ana María", "id_external": None}))
    assert (changed["name"], changed["id_external"]) == ("Ana María", None)


def test_an_unknown_session_is_a_401_as_syncfy_answers(syncfy: httpx.Client) -> None:
    assert refused(syncfy.delete("/v1/sessions/nope"), 401)
    assert refused(syncfy.get("/v1/sessions/nope/verify"), 401)


def test_a_jobs_status_is_absolute_and_names_no_other_users_credential(syncfy: httpx.Client) -> None:
    id_user = envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"]
    bearer = {"Authorization": f"Bearer {envelope(syncfy.post('/v1/sessions', json={'id_user': id_user}))['token']}"}
    login = {"id_site": TOKEN_SITE, "credentials": {"username": "test"}}
    made = envelope(syncfy.post("/v1/credentials", json=login, headers=bearer))
    job, path = made["id_job"], f"/v1/credentials/{made['id_credential']}"
    statuses = eventually(
        lambda: [s for s in envelope(syncfy.get(f"/v1/jobs/{job}/status", headers=bearer)) if s["code"] == 410],
        10,
        "the 410",
    )
    [waiting] = statuses
    assert waiting["address"].startswith("http://127.0.0.1:")
    assert waiting["address"].endswith(f"/syncfy/v1/jobs/{job}/twofa")
    other = envelope(syncfy.post("/v1/users", json={"name": "Otro"}))["id_user"]
    stranger = {"Authorization": f"Bearer {envelope(syncfy.post('/v1/sessions', json={'id_user': other}))['token']}"}
    message = refused(syncfy.get(f"/v1/jobs/{job}/status", headers=stranger), 404)
    assert job in message and path.rsplit("/", 1)[1] not in message


@pytest.mark.parametrize("value", ["1_000", "\u0665", "5.0", "1e3", "true"])
def test_paging_numbers_are_ascii_digits(syncfy: httpx.Client, value: str) -> None:
    assert "whole numbers" in refused(syncfy.get("/v1/users", params={"limit": value}), 400)
    assert "Unix seconds" in refused(syncfy.get("/v1/transactions/count", params={"dt_refresh_from": value}), 400)


def test_the_country_catalogue_is_served_as_recorded(syncfy: httpx.Client) -> None:
    """Both recorded collections have it; it was a 404 "no route"."""
    countries = envelope(syncfy.get("/v1/catalogues/countries"))
    assert len(countries) > 200 and all(list(c) == ["id_country", "name", "code"] for c in countries)
    assert {"id_country": "51ad44b83b8e7763120003c4", "name": "Mexico", "code": "MX"} in countries
    assert [c["code"] for c in countries] == sorted(c["code"] for c in countries)  # by code, as Syncfy lists them
    assert len({c["id_country"] for c in countries}) == len(countries)
