"""Credential lifecycles the Syncfy API twin plays: `POST /v1/credentials` registers a credential and its job
emits what Syncfy's would, through the simulator's delivery engine to every matching subscription:

    credentials.created → credentials.updated (login) → [two-factor: the job waits with code 410 until
    `PUT /v1/credentials/{id}` brings the token, then credentials.updated with 102] → credentials.updated (done)
    → credentials.refreshed → [fiscal sites: documents.completed, documents.success]

Each step's events are built by the provider's own builders from the credential's world (user, credential, job),
which is stored with the step reached, so a restarted simulator resumes the lifecycle where it stopped. What each
step emits, and the step after it, are in `syncfy_steps`; here, registering, locking, claiming and playing them.

Where the emulation differs from Syncfy: a job's steps follow each other within a fraction of a second (not the
seconds to minutes a bank takes); the sandbox's "Token" sites always ask for a second factor, no other site does;
a V1 webhook's `id_user` filter applies to the events of these lifecycles (a scenario run's events reach every
matching webhook).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from simulator import catalog
from simulator.core.syncfy_api import Caller, bad_input, not_found, without_nul
from simulator.core.syncfy_steps import (
    WAITING_STEP,
    emits,
    flat,
    later,
    new_job,
    step_after,
    step_context,
    user_entity,
)
from simulator.errors import NotFound
from simulator.ids import object_id
from simulator.models import Event
from simulator.providers.syncfy import api
from simulator.providers.syncfy._values import _SITES, ENVIRONMENTS, TWOFA_SITES
from simulator.store import postgres
from simulator.timeutil import now_utc

if TYPE_CHECKING:
    from simulator.core.syncfy_api import SyncfyBackend

log = logging.getLogger("webhook_sim.twins")
STEP_DELAY = (0.05, 0.2)  # seconds between two steps of a job
STOP_GRACE = 5.0  # seconds a step under way is given to end when the lifecycles stop
ACROSS_PROCESSES = 2  # see `CredentialFlows._across`
_IDS = random.SystemRandom()  # the twin's own ids: unique, not replayable (like Syncfy's)


def new_object_id(when: datetime | None = None) -> str:
    return object_id(_IDS, when or now_utc())


class CredentialFlows:
    def __init__(self, backend: SyncfyBackend) -> None:
        self.backend = backend
        self.sim = backend.sim
        self.tables = backend.tables
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._steps: set[asyncio.Task[bool]] = set()  # steps under way in the background, each shielded
        self._locks: dict[str, asyncio.Lock] = {}  # one step of a credential at a time
        # On a shared store, how many users' registrations this process lets into their advisory locks at once.
        # Each holds a pooled connection for the lock while its work takes others: 30 users registering at
        # once held the whole pool (15) and waited for a connection for good (every answer a 500 after 30 s).
        self._across: asyncio.Semaphore = asyncio.Semaphore(ACROSS_PROCESSES)
        self._resumed = False
        self.sim.before_reset.append(self.stop_all)
        self.sim.before_close.append(self.stop_all)

    async def stop_all(self) -> None:
        """Stop every credential's lifecycle, and let a step under way end (the store is about to be emptied or
        closed: a step must not write after, nor be cut off holding a connection)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._steps:
            _, late = await asyncio.wait(list(self._steps), timeout=STOP_GRACE)
            for step in late:  # a store that does not answer: closing gives up on it (see `Writer.closing`)
                step.cancel()
        await self.backend.flushed()  # a step's events are indexed as they are published

    # -- the API's entry points --------------------------------------------------------------------------

    async def register(self, caller: Caller, params: Mapping[str, Any], pulled: str | None = None) -> dict[str, Any]:
        """`POST /v1/credentials`: a credential of the caller's user at `id_site` (the same one again when the
        user already has one there), and a new job that plays its lifecycle; with `pulled`, that credential's
        new job (`PUT /v1/credentials/{id}/pulls`). While a job of the credential is under way, that job is the
        answer: a second one would stop it half-way, and one of the two ids would never be played.

        One registration of a user at a time (and none while the user or a credential of theirs is deleted):
        registrations sent together made one credential each, and a pull racing a DELETE made a new one."""
        await self.resume()
        site, secrets = await self._site(params), params.get("credentials")
        if not isinstance(secrets, Mapping):
            raise bad_input("credentials must be an object with the site's login and password", "credentials")
        name = _login_name(secrets, site)
        masked, login = api.mask(name), _login(secrets)
        # A tax authority's login is the taxpayer's RFC, which Syncfy shows back on the documents it downloads
        # (`keywords`, the file's name): kept for them. Any other login is kept only masked.
        rfc = name if site.fiscal else None
        async with self.user_lock(str((await self._user(caller, site))["id_user"])):
            user = await self._user(caller, site)  # not deleted meanwhile
            if pulled is not None:
                shown = (await self.backend.view(caller, pulled)).body["username"]  # a 404 once it is deleted
                if rfc is not None and name == shown:  # pulled under the login it shows: the RFC it was given
                    rfc = await self.backend.registered_rfc(pulled)
            existing = pulled or await self._existing(caller, user["id_user"], site)
            row = await self._job_under_way(existing) if existing else None
            # Its job under way answers, but for other credentials given while it waits for its token (a login
            # corrected): those start a job of their own, as a job waiting on a person can be.
            if existing is not None and row is not None:
                flow = row["flow"]
                if row["step"] != WAITING_STEP or flow.get("login") in (None, login):
                    # The credential as it stands: the login just given is not taken, so its mask is not shown.
                    return _registered(existing, flow["credential"]["job"], row["username"] or masked, new=False)
            id_credential, job = await self._start_job(user, site, existing, masked, login, rfc)
        return _registered(id_credential, job, masked, new=existing is None)

    async def _start_job(
        self, user: dict[str, Any], site: api.SiteRef, existing: str | None, masked: str, login: str, rfc: str | None
    ) -> tuple[str, dict[str, Any]]:
        """A new job of `existing` (else of a new credential) for `user` at `site`, its first step played; the
        credential's id and the job."""
        created = now_utc()
        id_credential = existing or new_object_id(created)
        job = new_job(new_object_id(created), id_credential, user, site, created)
        credential = {"id_credential": id_credential, "user": user, "site": site.ids(), "created": created.timestamp()}
        credential["job"] = job
        twofa = site.id_site in TWOFA_SITES
        flow = {"user": user, "credential": flat(credential), "twofa": twofa, "login": login, "rfc": rfc}
        step = "login" if existing else "start"
        # A new credential is claimed as it is made: unclaimed for a moment, another server's look for jobs nobody
        # plays could take it (an existing one is claimed by `_play`, which respects a live player).
        claimed = {} if existing else {"player": self._player()}
        await self.tables.put_credential(
            id_credential, id_user=user["id_user"], username=masked, step=step, flow=flow, dt_disable=None, **claimed
        )
        await self._play(id_credential, first=True)
        # Its first events indexed before the answer: another server sharing the store reads the index, and a
        # DELETE or a pull sent there right after this answer found no such credential.
        await self.backend.catch_up()
        return id_credential, job

    @asynccontextmanager
    async def user_lock(self, id_user: str) -> AsyncIterator[None]:
        """Held while a user's credentials are registered or deleted (a credential's own lock is taken after it):
        in this process, and on a shared store in every process. Each server let one registration of a user in
        at a time among its own only, and the same login sent to two servers at once made two credentials."""
        async with self._lock(f"user\x1f{id_user}"):
            if not self.sim.store.shared:
                yield
                return
            async with self._across, postgres.one_editor(self.sim.store.engine, f"syncfy user {id_user}"):
                yield

    async def _job_under_way(self, id_credential: str) -> dict[str, Any] | None:
        """The credential's row, while its job has steps to play or waits for a token."""
        async with self._lock(id_credential):  # a step under way has stored where it got to
            row = await self.tables.api_credential(id_credential)
        if row is None or row["step"] is None or row["dt_disable"] is not None:
            return None
        return row

    async def answer_twofa(self, caller: Caller, id_credential: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """`PUT /v1/credentials/{id}` with `twofa`: the waiting job gets its token and goes on."""
        await self.backend.view(caller, id_credential)
        twofa = params.get("twofa")
        # Each value typed text that is not blank, or a number: `str()` took null as the token "None".
        typed = isinstance(twofa, Mapping) and all(
            (isinstance(v, str) and v.strip()) or type(v) is int for v in twofa.values()
        )
        if not twofa or not typed:
            raise bad_input('twofa must be an object with the token, e.g. {"token": "123456"}', "twofa")
        async with self._lock(id_credential):
            row = await self.tables.api_credential(id_credential)
            if row is None or row["step"] != WAITING_STEP:
                raise bad_input("the credential's job is not waiting for a token", "twofa")
            await self.tables.put_credential(id_credential, step="received")
        await self._play(id_credential, first=True)
        job = row["flow"]["credential"]["job"]
        return {"id_credential": id_credential, "id_job": job["id_job"], "id_job_uuid": job["id_job_uuid"]}

    async def delete(self, caller: Caller, id_credential: str) -> None:
        view = await self.backend.view(caller, id_credential)
        async with self.user_lock(str(view.body["id_user"])):
            await self.delete_held(caller, id_credential)

    async def delete_held(self, caller: Caller, id_credential: str) -> None:
        """Delete a credential, its user's lock held: no step of its lifecycle is under way when it answers."""
        view = await self.backend.view(caller, id_credential)
        self._stop(id_credential)
        async with self._lock(id_credential):  # a step under way (shielded from `_stop`) ends first
            await self._disable(view.body["id_user"], id_credential)

    async def _disable(self, id_user: Any, id_credential: str) -> None:
        moment = int(now_utc().timestamp())
        row = await self.tables.api_credential(id_credential)
        values = {"step": None, "dt_disable": moment}
        if row is None:
            values["id_user"] = id_user
        await self.tables.put_credential(id_credential, **values)

    async def job_status(self, caller: Caller, id_job: str, base: str = "") -> list[dict[str, Any]]:
        """`GET /v1/jobs/{id}/status`: the codes the job went through, the 410 with the token it asks for."""
        await self.backend.catch_up()
        events = [e for e in await self.tables.job_events(id_job) if e.type.startswith("credentials.")]
        if not events:
            raise not_found("id_job", id_job)
        try:
            await self.backend.view(caller, str(events[-1].payload.get("id_credential")))
        except NotFound:  # another user's job, or a deleted credential's: the job is what was asked for
            raise not_found("id_job", id_job) from None
        out: list[dict[str, Any]] = [{"code": api.REGISTER}]
        code: int | None = api.REGISTER
        for e in events:
            code = api.next_code(code, api.Announced(e.type, e.at, e.user, e.payload))
            entry: dict[str, Any] = {"code": code}
            if code == api.WAITING:
                entry["address"] = f"{base}/v1/jobs/{id_job}/twofa"  # absolute, as Syncfy's (sync-py's README)
                entry["twofa"] = [{"name": "token", "type": "text", "label": "Enter any number sequence as a token"}]
            out.append(entry)
        return out

    async def credential_of_job(self, id_job: str) -> str:
        await self.backend.catch_up()
        for e in await self.tables.job_events(id_job):
            if e.payload.get("id_credential"):
                return str(e.payload["id_credential"])
        raise not_found("id_job", id_job)

    async def resume(self) -> None:
        """Once per process: go on with the lifecycles an earlier process left unfinished."""
        if self._resumed:
            return
        self._resumed = True
        await self.adopt()

    async def adopt(self) -> None:
        """Play the lifecycles under way that nobody plays: left by an earlier process or, on a shared store, by
        one whose beat stopped (a server there calls this every few seconds; see `syncfy.adopt_orphans`)."""
        shared = self._player() is not None
        for id_credential in await self.tables.adoptable_credentials(WAITING_STEP, shared=shared):
            if id_credential not in self._tasks:
                await self._play(id_credential, first=False)

    def _player(self) -> str | None:
        """This process's id on a shared store, where a lifecycle is claimed before it is played; None alone."""
        leases = self.sim.engine.leases
        return leases.id if leases is not None else None

    # -- playing ------------------------------------------------------------------------------------------

    async def _play(self, id_credential: str, *, first: bool) -> None:
        """Play the next step now (the caller's answer names its events), then the rest in the background. On a
        shared store only once claimed: a step another live process is playing must not be emitted twice."""
        player = self._player()
        if player is not None and not await self.tables.claim_credential(id_credential, player):
            return
        self._stop(id_credential)
        if first:
            await self._step(id_credential)
        task = asyncio.get_running_loop().create_task(self._run(id_credential))
        self._tasks[id_credential] = task
        task.add_done_callback(lambda t: self._forget(id_credential, t))

    def _stop(self, id_credential: str) -> None:
        """Stop the credential's background steps (one player at a time: a step is never emitted twice)."""
        task = self._tasks.pop(id_credential, None)
        if task is not None:
            task.cancel()

    def _forget(self, id_credential: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(id_credential) is task:
            del self._tasks[id_credential]

    async def _run(self, id_credential: str) -> None:
        try:
            while self.sim.accepting:
                await asyncio.sleep(_IDS.uniform(*STEP_DELAY))
                # Shielded: a stop while a step publishes lets the step finish and store where it got to.
                step = asyncio.ensure_future(self._step(id_credential))
                self._steps.add(step)
                step.add_done_callback(self._steps.discard)
                if not await asyncio.shield(step):
                    await self._let_go(id_credential)
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the lifecycle of credential %s stopped", id_credential)

    async def _let_go(self, id_credential: str) -> None:
        """The lifecycle ended, or waits for a caller that any server of a shared store may answer."""
        player = self._player()
        if player is not None:
            await self.tables.let_go_credential(id_credential, player)

    def _lock(self, id_credential: str) -> asyncio.Lock:
        return self._locks.setdefault(id_credential, asyncio.Lock())

    async def _step(self, id_credential: str) -> bool:
        """Emit the credential's next step and store what follows; False once there is nothing to do now."""
        async with self._lock(id_credential):
            return await self._step_locked(id_credential)

    async def _step_locked(self, id_credential: str) -> bool:
        row = await self.tables.api_credential(id_credential)
        if row is None or row["step"] in (None, WAITING_STEP) or row["dt_disable"] is not None:
            return False
        flow, step = row["flow"], row["step"]
        ctx = step_context(flow, step)
        credential = ctx.world.get("credential")
        for name, overrides in emits(step, flow, credential):
            ctx = later(ctx)
            await self._publish(catalog.build_event(catalog.resolve(f"syncfy:{name}"), ctx, overrides), flow)
        flow["credential"] = flat(credential)
        await self.tables.put_credential(id_credential, step=step_after(step, flow), flow=flow)
        return True

    async def _publish(self, event: Event, flow: Mapping[str, Any]) -> None:
        """Deliver to every matching subscription, but to a V1 webhook of another user."""
        etype = catalog.resolve(event.key)
        owners = {w["subscription_id"]: w["id_user"] for w in await self.tables.webhooks()}
        mine = flow["user"]["id_user"]
        subs = [s for s in await self.sim.subscriptions.matching(etype) if owners.get(s.id) in (None, mine)]
        await self.sim.engine.publish(event, subs, speed=1.0)

    # -- who and where ------------------------------------------------------------------------------------

    async def _site(self, params: Mapping[str, Any]) -> api.SiteRef:
        wanted = params.get("id_site")
        if wanted is not None and not isinstance(wanted, str):
            raise bad_input(f"id_site must be a site's id (text), not {api.json_kind(wanted)}", "id_site")
        if not wanted:
            raise bad_input("id_site is required", "id_site")
        for site in await self.backend.sites():
            if site.id_site == str(wanted):
                return site
        raise not_found("id_site", str(wanted))

    async def _user(self, caller: Caller, site: api.SiteRef) -> dict[str, Any]:
        """The world's `user` entity of the caller's user (made through the API or named by events)."""
        if caller.id_user is None:
            raise bad_input("id_user is required with an API key", "id_user")
        production = any(s.id_site == site.id_site for s in _SITES["production"])
        env = "production" if production else "sandbox"
        for row in await self.tables.api_users():
            if row["id_user"] == caller.id_user:
                if row["deleted"]:  # though their credentials' events still name them (found below, they registered)
                    raise not_found("id_user", caller.id_user)
                return user_entity(caller.id_user, row["id_external"], env, row["dt_create"])
        for event in await self.tables.users():
            if event.user.get("id_user") == caller.id_user:
                envs = {v: k for k, v in ENVIRONMENTS.items()}
                named = envs.get(str(event.user.get("id_environment")), env)
                return user_entity(caller.id_user, event.user.get("id_external"), named, int(caller.id_user[:8], 16))
        raise not_found("id_user", caller.id_user)

    async def _existing(self, caller: Caller, id_user: str, site: api.SiteRef) -> str | None:
        """The user's live credential at `site`: one the API registered (its events may not be indexed yet), else
        one the events named."""
        for id_credential in await self.tables.api_credentials_of(id_user):
            row = await self.tables.api_credential(id_credential)
            if row is None or row["dt_disable"] is not None or not row["flow"]:
                continue
            if row["flow"]["credential"]["site"]["id_site"] == site.id_site:
                return id_credential
        for id_credential in await self.tables.credentials(id_user):
            try:
                view = await self.backend.view(caller, id_credential)
            except NotFound:
                continue
            if view.owner.site.id_site == site.id_site:
                return id_credential
        return None


def _login_name(secrets: Mapping[str, Any], site: api.SiteRef) -> str:
    """The login a registration at `site` gives in `credentials`: the site's login field (the catalogue's field
    marked `username`: `rfc` at a tax authority, which also takes `username`), as text."""
    field = api.login_field(site)
    if field not in secrets and "username" in secrets:
        field = "username"
    value = secrets.get(field)
    if value is not None and not isinstance(value, str):  # the catalogue types every login field "text"
        raise bad_input(f"credentials.{field} must be text, not {api.json_kind(value)}", f"credentials.{field}")
    text = without_nul(value or "", f"credentials.{field}").strip()
    if not text:
        raise bad_input(f"credentials.{field} is required: the site's login", f"credentials.{field}")
    if len(text) > api.MAX_LOGIN:
        raise bad_input(f"credentials.{field} must be at most {api.MAX_LOGIN} characters", f"credentials.{field}")
    return text


def _login(secrets: Mapping[str, Any]) -> str:
    """A digest of the credentials a registration gives (never kept in the clear): the same login again, or
    another one."""
    return hashlib.sha256(json.dumps(secrets, sort_keys=True, default=str).encode()).hexdigest()


def _registered(id_credential: str, job: Mapping[str, Any], username: str, *, new: bool) -> dict[str, Any]:
    """`POST /v1/credentials`'s answer: the credential and the job that plays it."""
    return {
        "id_credential": id_credential,
        "id_job_uuid": job["id_job_uuid"],
        "id_job": job["id_job"],
        "is_new": int(new),
        "username": username,
        "ws": f"/v1/status/{job['id_job']}",
        "status": f"/v1/jobs/{job['id_job']}/status",
        "twofa": f"/v1/jobs/{job['id_job']}/twofa",
    }
