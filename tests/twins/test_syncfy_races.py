"""The Syncfy twin under a consumer fleet: requests about one user's credentials sent together, over real HTTP.
Registrations sent together make one credential; pulls sent together answer one job, which runs to its end; a pull
that races a DELETE never makes a credential; a user deleted at once after a registration takes it along."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from typing import Any

import httpx
import pytest

from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import KEY, TOKEN_SITE, envelope, eventually

BANK_SITE = "56cf5728784806f72b8b4568"  # no second factor: its job runs to the end on its own
LOGIN = {"id_site": BANK_SITE, "credentials": {"username": "ana"}}


def together(sim: WebhookSim, *requests: tuple[str, str, dict[str, Any] | None]) -> list[httpx.Response]:
    """`requests` (method, path, JSON body) sent at once, each on a connection of its own."""

    async def send() -> list[httpx.Response]:
        headers = {"Authorization": f"api_key api_key={KEY}"}
        async with httpx.AsyncClient(base_url=f"{sim.url}/syncfy", headers=headers, timeout=30) as client:
            calls: list[Awaitable[httpx.Response]] = [
                client.request(method, path, json=body) for method, path, body in requests
            ]
            return list(await asyncio.gather(*calls))

    return asyncio.run(send())


def new_user(syncfy: httpx.Client) -> str:
    return str(envelope(syncfy.post("/v1/users", json={"name": "Ana"}))["id_user"])


def live_credentials(syncfy: httpx.Client, id_user: str) -> list[str]:
    listed = envelope(syncfy.get("/v1/credentials/all", params={"id_user": id_user}))
    return [c["id_credential"] for c in listed if not c["is_disabled"]]


@pytest.fixture(scope="module")
def refreshed(sim: WebhookSim) -> Iterator[Receiver]:
    """A consumer of `credentials.refreshed`, the last event of a job at a site without documents."""
    with Receiver() as receiver, httpx.Client(base_url=sim.url, timeout=10) as control:
        made = control.post("/subscriptions", json={"url": receiver.url, "events": ["syncfy:credentials.refreshed"]})
        assert made.status_code == 201, made.text
        yield receiver


def refreshes(refreshed: Receiver, id_credential: str, count: int) -> None:
    """Until the credential's `count`th job ended (60 s at most): the last event of each is its refresh."""

    def seen() -> int:
        # Events, not requests: a delivery sent again (its answer late on a loaded machine) is the same event.
        events = [e for r in list(refreshed.requests) for e in r.json()["events"]]
        return len({e["header"]["event"]["eid"] for e in events if e["payload"]["id_credential"] == id_credential})

    eventually(lambda: seen() >= count, 60, f"refresh {count} of {id_credential}")
    assert seen() == count


def status_ends_with_200(syncfy: httpx.Client, id_user: str, id_job: str) -> None:
    answer = syncfy.get(f"/v1/jobs/{id_job}/status", params={"id_user": id_user})
    assert [s["code"] for s in envelope(answer)][-1] == 200, answer.text


def test_registrations_sent_together_make_one_credential(
    sim: WebhookSim, syncfy: httpx.Client, refreshed: Receiver
) -> None:
    id_user = new_user(syncfy)
    answers = together(sim, *[("POST", f"/v1/credentials?id_user={id_user}", LOGIN)] * 8)
    made = [envelope(a) for a in answers]
    assert len({m["id_credential"] for m in made}) == 1, made
    assert sorted(m["is_new"] for m in made) == [0] * 7 + [1]
    assert live_credentials(syncfy, id_user) == [made[0]["id_credential"]]
    refreshes(refreshed, made[0]["id_credential"], 1)  # one job ran, to its end
    for id_job in {m["id_job"] for m in made}:  # and it is the one every answer names
        status_ends_with_200(syncfy, id_user, id_job)


def test_pulls_sent_together_answer_one_job_that_runs_to_its_end(
    sim: WebhookSim, syncfy: httpx.Client, refreshed: Receiver
) -> None:
    id_user = new_user(syncfy)
    first = envelope(syncfy.post("/v1/credentials", params={"id_user": id_user}, json=LOGIN))
    # A pull while its first job runs answers that job: a second would stop it half-way, for good.
    early = envelope(syncfy.put(f"/v1/credentials/{first['id_credential']}/pulls", params={"id_user": id_user}))
    assert (early["id_job"], early["is_new"]) == (first["id_job"], 0)
    refreshes(refreshed, first["id_credential"], 1)
    status_ends_with_200(syncfy, id_user, first["id_job"])
    path = f"/v1/credentials/{first['id_credential']}/pulls?id_user={id_user}"
    pulled = [envelope(a) for a in together(sim, *[("PUT", path, {})] * 3)]
    assert len({p["id_job"] for p in pulled}) == 1 and pulled[0]["id_job"] != first["id_job"], pulled
    assert {p["id_credential"] for p in pulled} == {first["id_credential"]}
    refreshes(refreshed, first["id_credential"], 2)
    status_ends_with_200(syncfy, id_user, pulled[0]["id_job"])


def test_a_pull_racing_a_delete_never_makes_a_credential(
    sim: WebhookSim, syncfy: httpx.Client, refreshed: Receiver
) -> None:
    for _ in range(3):
        id_user = new_user(syncfy)
        made = envelope(syncfy.post("/v1/credentials", params={"id_user": id_user}, json=LOGIN))
        id_credential = made["id_credential"]
        refreshes(refreshed, id_credential, 1)
        deleted, pulled = together(
            sim,
            ("DELETE", f"/v1/credentials/{id_credential}?id_user={id_user}", None),
            ("PUT", f"/v1/credentials/{id_credential}/pulls?id_user={id_user}", {}),
        )
        assert envelope(deleted) is True
        if pulled.status_code == 200:  # it came first: the delete took the credential it pulled
            assert envelope(pulled)["id_credential"] == id_credential
        else:
            envelope(pulled, 404)
        assert live_credentials(syncfy, id_user) == []


def test_a_user_deleted_at_once_after_a_registration_takes_the_credential(
    sim: WebhookSim, syncfy: httpx.Client
) -> None:
    """The credential's events may not be indexed yet when the DELETE comes: the twin's own record names it."""
    for _ in range(4):
        id_user = new_user(syncfy)
        made = envelope(syncfy.post("/v1/credentials", params={"id_user": id_user}, json=LOGIN))
        assert envelope(syncfy.delete(f"/v1/users/{id_user}")) is True
        envelope(syncfy.get(f"/v1/credentials/{made['id_credential']}", params={"id_user": id_user}), 404)
        assert live_credentials(syncfy, id_user) == []


def test_a_user_deleted_while_registering_keeps_no_credential(sim: WebhookSim, syncfy: httpx.Client) -> None:
    id_user = new_user(syncfy)
    registered, deleted = together(
        sim, ("POST", f"/v1/credentials?id_user={id_user}", LOGIN), ("DELETE", f"/v1/users/{id_user}", None)
    )
    assert envelope(deleted) is True
    if registered.status_code != 200:  # the delete came first: the user is gone
        envelope(registered, 404)
    assert live_credentials(syncfy, id_user) == []


def test_while_a_job_waits_for_its_token_the_same_login_answers_it_and_new_credentials_start_another(
    syncfy: httpx.Client,
) -> None:
    token_site = {"id_site": TOKEN_SITE, "credentials": {"username": "john.smith"}}
    id_user = new_user(syncfy)
    first = envelope(syncfy.post("/v1/credentials", params={"id_user": id_user}, json=token_site))
    path = f"/v1/credentials/{first['id_credential']}"
    eventually(lambda: envelope(syncfy.get(path, params={"id_user": id_user}))[0]["code"] == 410, 15, "the 410")
    again = envelope(syncfy.post("/v1/credentials", params={"id_user": id_user}, json=token_site))
    assert (again["id_job"], again["is_new"]) == (first["id_job"], 0)
    corrected = {"id_site": TOKEN_SITE, "credentials": {"username": "jane.smith"}}  # masked alike: j********h
    renewed = envelope(syncfy.post("/v1/credentials", params={"id_user": id_user}, json=corrected))
    assert renewed["id_credential"] == first["id_credential"] and renewed["id_job"] != first["id_job"]


def test_other_credentials_while_a_job_plays_its_steps_answer_that_job(
    syncfy: httpx.Client, refreshed: Receiver
) -> None:
    """Not waiting on a person, the job under way is the answer whatever the credentials: a second job started
    then stopped the first half-way, for good."""
    id_user = new_user(syncfy)
    first = envelope(syncfy.post("/v1/credentials", params={"id_user": id_user}, json=LOGIN))
    other = {"id_site": BANK_SITE, "credentials": {"username": "bobby"}}
    again = envelope(syncfy.post("/v1/credentials", params={"id_user": id_user}, json=other))
    assert again["id_job"] == first["id_job"]
    # The credential as it stands: the login just given was not taken, and its mask (b***y) is not shown.
    assert again["username"] == first["username"] == "a*a"
    listed = envelope(syncfy.get(f"/v1/credentials/{first['id_credential']}", params={"id_user": id_user}))
    assert listed[0]["username"] == "a*a"
    refreshes(refreshed, first["id_credential"], 1)  # the job played to its end
