"""Syncfy credential jobs on a store several servers share: one server plays a job at a time, a server starting
beside the one playing it leaves it alone, and another server finishes it once its own stops."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import create_engine, select

from simulator.api.app import server_app
from simulator.core import syncfy, syncfy_flows
from simulator.core.simulator import Simulator
from simulator.store import tables as t
from simulator.store.syncfy_twin import SyncfyTwinStore
from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer
from tests.twins.syncfy_harness import KEY, envelope, eventually, twin_client

SITE = "56cf5728784806f72b8b4568"  # a sandbox site without a second factor


def serve(db: str) -> ApiServer:
    return ApiServer(server_app(db, grace=1)).start()


def player(db: str, id_credential: str) -> str | None:
    engine = create_engine(db.replace("+asyncpg", "+psycopg"))
    try:
        with engine.connect() as conn:
            c = t.syncfy_credentials.c
            return conn.execute(select(c.player).where(c.id_credential == id_credential)).scalar()
    finally:
        engine.dispose()


def start_job(server: ApiServer, receiver: Receiver) -> str:
    """Subscribe the receiver to Syncfy's events, then register a credential: its job starts on `server`."""
    with server.client() as control, twin_client(server.url) as twin:
        assert control.post("/subscriptions", json={"url": receiver.url, "events": ["syncfy:*"]}).status_code == 201
        id_user = envelope(twin.post("/v1/users", json={"name": "Ana"}))["id_user"]
        token = envelope(twin.post("/v1/sessions", json={"id_user": id_user}))["token"]
        login = {"id_site": SITE, "credentials": {"username": "test"}}
        job = envelope(twin.post("/v1/credentials", json=login, headers={"Authorization": f"Bearer {token}"}))
    return str(job["id_credential"])


def names(receiver: Receiver, id_credential: str) -> list[str]:
    """The names of the credential's events the receiver got, in order."""
    return [
        e["header"]["event"]["name"]
        for r in receiver.requests
        for e in r.json()["events"]
        if e["payload"].get("id_credential") == id_credential
    ]


def test_a_job_is_left_to_its_server_while_it_lives_and_finished_by_another_once_it_stops(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(syncfy, "ADOPT_EVERY", 0.2)
    looks = Counter[bool]()
    adoptable = SyncfyTwinStore.adoptable_credentials

    async def counted(self: SyncfyTwinStore, waiting_step: str, *, shared: bool) -> list[str]:
        found = await adoptable(self, waiting_step, shared=shared)
        looks[bool(found)] += 1
        return found

    monkeypatch.setattr(SyncfyTwinStore, "adoptable_credentials", counted)
    monkeypatch.setattr(syncfy_flows, "STEP_DELAY", (30.0, 30.0))  # the first server never gets past a step
    with Receiver() as receiver:
        first = serve(db)
        second = None
        try:
            id_credential = start_job(first, receiver)
            playing = player(db, id_credential)
            assert playing is not None, "a job on a shared store is played by a claimed process"
            second = serve(db)  # starts while the first plays the job: it must not play it too
            eventually(lambda: "credentials.created" in names(receiver, id_credential), 15, "the job's first step")
            monkeypatch.setattr(syncfy_flows, "STEP_DELAY", (0.01, 0.02))
            seen = looks.total()
            eventually(lambda: looks.total() >= seen + 5, 15, "several looks for jobs nobody plays")
            assert looks[True] == 0, "a job its live server plays was taken for one nobody plays"
            assert player(db, id_credential) == playing
            assert "credentials.refreshed" not in names(receiver, id_credential)
            first.stop()
            eventually(
                lambda: "credentials.refreshed" in names(receiver, id_credential),
                20,
                f"the job finished by the second server; got {names(receiver, id_credential)}",
            )
            got = Counter(names(receiver, id_credential))
            assert got["credentials.created"] == 1 and got["credentials.refreshed"] == 1, got
            eventually(lambda: player(db, id_credential) is None, 10, "the finished job let go")
        finally:  # both stopped whatever failed: a server left running would go on in the next tests' process
            first.stop()
            if second is not None:
                second.stop()


async def test_one_process_at_a_time_claims_a_job(db: str) -> None:
    """Two servers looking for jobs nobody plays at the same moment: the first claim wins, the other is refused
    while the winner lives, and granted once it has left."""
    first, second = await Simulator.open(db), await Simulator.open(db)
    open_ = [first, second]
    try:
        assert first.engine.leases is not None and second.engine.leases is not None
        rows = SyncfyTwinStore(first.store)
        await rows.put_credential("cred_1", id_user="user_1", step="login", flow={})
        assert await rows.claim_credential("cred_1", first.engine.leases.id)
        assert await rows.claim_credential("cred_1", first.engine.leases.id)  # its own claim again
        assert not await SyncfyTwinStore(second.store).claim_credential("cred_1", second.engine.leases.id)
        assert await rows.adoptable_credentials("token", shared=True) == []
        await open_.pop(0).close()  # the first leaves
        assert await SyncfyTwinStore(second.store).adoptable_credentials("token", shared=True) == ["cred_1"]
        assert await SyncfyTwinStore(second.store).claim_credential("cred_1", second.engine.leases.id)
    finally:
        for sim in open_:
            await sim.close()


def test_a_new_credential_is_claimed_as_it_is_made(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unclaimed for a moment between its row and its first step, a new job could be taken by another server's
    look for jobs nobody plays: the row is written claimed."""

    async def not_played(self: syncfy_flows.CredentialFlows, id_credential: str, *, first: bool) -> None:
        return None  # the claim `_play` makes is not what this test looks at

    monkeypatch.setattr(syncfy_flows.CredentialFlows, "_play", not_played)
    monkeypatch.setattr(syncfy, "ADOPT_EVERY", 3600.0)
    with Receiver() as receiver:
        server = serve(db)
        try:
            id_credential = start_job(server, receiver)
            assert player(db, id_credential) is not None
        finally:
            server.stop()


def test_a_credential_registered_through_one_server_is_deleted_through_another_at_once(db: str) -> None:
    """Two servers on one store: what one answered is there for the other to delete or pull, with no wait."""
    first, second = serve(db), serve(db)
    try:
        with twin_client(first.url) as one, twin_client(second.url) as other:
            for _ in range(3):
                id_user = envelope(one.post("/v1/users", json={"name": "Ana"}))["id_user"]
                made = envelope(
                    one.post(
                        "/v1/credentials",
                        params={"id_user": id_user},
                        json={"id_site": SITE, "credentials": {"username": "ana"}},
                    )
                )
                pulled = envelope(
                    other.put(f"/v1/credentials/{made['id_credential']}/pulls", params={"id_user": id_user})
                )
                assert pulled["id_credential"] == made["id_credential"]
                assert envelope(other.delete(f"/v1/users/{id_user}")) is True
                listed = envelope(one.get("/v1/credentials/all", params={"id_user": id_user}))
                assert [(c["id_credential"], c["is_disabled"]) for c in listed] == [(made["id_credential"], 1)]
    finally:
        second.stop()
        first.stop()


def registered_together(calls: list[tuple[ApiServer, str]]) -> list[httpx.Response]:
    """A registration of the same login for each (server, user) of `calls`, sent at once, each on a connection of
    its own."""
    login = {"id_site": SITE, "credentials": {"username": "test"}}
    headers = {"Authorization": f"api_key api_key={KEY}"}

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:
            sent = [
                client.post(f"{srv.url}/syncfy/v1/credentials", params={"id_user": id_user}, json=login)
                for srv, id_user in calls
            ]
            return list(await asyncio.gather(*sent))

    return asyncio.run(send())


def test_registrations_sent_together_to_two_servers_make_one_credential(db: str) -> None:
    """Each server let one registration of a user in at a time, but only among its own: the same login sent to
    two servers at once made two credentials, each with a job of its own."""
    first, second = serve(db), serve(db)
    try:
        with twin_client(first.url) as twin:
            id_user = str(envelope(twin.post("/v1/users", json={"name": "Ana"}))["id_user"])
            made = [envelope(answer) for answer in registered_together([(first, id_user), (second, id_user)] * 4)]
            assert len({m["id_credential"] for m in made}) == 1, made
            assert sorted(m["is_new"] for m in made) == [0] * 7 + [1]
            listed = envelope(twin.get("/v1/credentials/all", params={"id_user": id_user}))
            assert [c["id_credential"] for c in listed] == [made[0]["id_credential"]]
    finally:
        first.stop()
        second.stop()


def test_many_users_registering_at_once_on_a_shared_store_are_all_answered(db: str) -> None:
    """Each user's registration holds an advisory lock on a pooled connection while its work takes others: with no
    bound on how many do at once, 30 users held the whole pool and every answer was a 500 after 30 s."""
    server = serve(db)
    try:
        with twin_client(server.url) as twin:
            users = [str(envelope(twin.post("/v1/users", json={"name": f"U{i}"}))["id_user"]) for i in range(30)]
            made = [envelope(answer) for answer in registered_together([(server, u) for u in users])]
            assert len({m["id_credential"] for m in made}) == 30 and all(m["is_new"] == 1 for m in made)
    finally:
        server.stop()
