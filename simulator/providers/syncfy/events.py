"""Builders of Syncfy's event types, and the world entities they share.

Each builder returns one element of the envelope's `events` array, `{"header": {...}, "payload": {...}}`, with
keys in the order of Syncfy's own examples (the documents events order theirs differently).

World kinds, so a run tells one story:
- `user`: `id_user`, `id_external`, `id_environment`, `environment`, `created`. One per run, unless a step's
  `as:` names another.
- `credential`: `id_credential`, `user`, `site` (the three site ids), `created`, `job` (its latest job).
  `credentials.created` makes one; the other events name the latest (or the one `as:` names).
- `job`: `id_job`, `id_job_uuid`, `kind` (`credential`, `refresh`, `documents`), `id_credential`, `user`, `site`,
  `started`, `announced` (documents outcomes already sent), `webhook` (the last `id_job_webhook`).

Times are Unix seconds. Every ObjectId embeds its entity's creation time: a credential and its first job a
second or so before `credentials.created`; a refresh or documents job when the sync began, 5–60 s before the
event that reports it (Syncfy's refresh example reports a job 23 s old, its documents example one 38 s old).

Documents belong to a credential the story announced: the step's credential when it is fiscal (government,
SAT: the sites whose documents Syncfy's examples download), else the latest fiscal credential of the same user
an earlier event named, else the step's credential even at a bank; a documents event never names a credential no
event announced. Only a world with no credential at all (a single sample) gets a fresh fiscal one. The run
parameter `institution` (`any`, `bank`, `fiscal`, `twofa`) chooses the kind of site new credentials log into; the
built-in stories that download documents use `fiscal`, the two-factor one `twofa`.

Where this differs from Syncfy: a bank credential's documents download only when its story announced no fiscal
credential (a story of ad-hoc events, say), where Syncfy would download none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from simulator.ids import RunIds, next_object_id, object_id_time
from simulator.models import BuildContext
from simulator.providers.syncfy._values import (
    ENVIRONMENTS,
    REFRESH_JOB_TYPE,
    Site,
    environment,
    external_reference,
    institution,
    pick_site,
)
from simulator.providers.syncfy.provider import PROVIDER
from simulator.timeutil import syncfy_at
from simulator.world import Entity

VERSION = "3.1"
# The world's index of each user's latest fiscal credential (by `id_user`).
FISCAL_KIND = "fiscal_credential"
PAGE_SIZE = 5000
_DAY = 86400.0


def _oid(ctx: BuildContext, kind: str, created: float) -> str:
    """The next ObjectId of `kind` in the run, made at `created` (Unix seconds)."""
    ids: RunIds = ctx.world.ids
    return ids.object_id(kind, datetime.fromtimestamp(created, UTC))


def _now(ctx: BuildContext) -> float:
    return ctx.now.timestamp()


def _user(ctx: BuildContext) -> Entity:
    """The run's user (or the one `as:` names), made on first use: it signed up hours to weeks ago."""
    user = ctx.world.get("user", ctx.ref)
    if user is not None:
        return user
    env = environment(ctx.params)
    created = _now(ctx) - ctx.rng.uniform(3600, 30 * _DAY)
    if "id_external" in ctx.params:
        raw = ctx.params["id_external"]
        # Empty is none too: a parameter whose default is text takes text (`--param id_external=`), never null.
        external = None if raw is None or raw == "" else str(raw)
    else:
        external = external_reference(ctx.rng, datetime.fromtimestamp(created, UTC))
    user = {
        "id_user": _oid(ctx, "user", created),
        "id_external": external,
        "id_environment": ENVIRONMENTS[env],
        "environment": env,
        "created": created,
    }
    return ctx.world.put("user", user, ctx.ref)


def _new_job(ctx: BuildContext, kind: str, started: float, credential: Entity, uuid_first: bool = False) -> Entity:
    """A job of `credential`; its two ids are consecutive, in the order Syncfy's examples show for `kind`."""
    first = _oid(ctx, "job", started)
    second = next_object_id(first)
    id_job, id_job_uuid = (second, first) if uuid_first else (first, second)
    job = {
        "id_job": id_job,
        "id_job_uuid": id_job_uuid,
        "kind": kind,
        "id_credential": credential["id_credential"],
        "user": credential["user"],
        "site": credential["site"],
        "started": started,
        "announced": [],
        "webhook": None,
    }
    return ctx.world.put("job", job, ctx.ref)


def _new_credential(ctx: BuildContext, user: Entity, age: tuple[float, float], documents: bool = False) -> Entity:
    """A credential of `user` registered `age` seconds ago, with the job that registered it."""
    created = max(_now(ctx) - ctx.rng.uniform(*age), user["created"])
    site = pick_site(ctx.rng, user["environment"], documents, institution(ctx.params))
    credential = {
        "id_credential": _oid(ctx, "credential", created),
        "user": user,
        "site": site.as_dict(),
        "created": created,
        "job": None,
    }
    credential["job"] = _new_job(ctx, "credential", created, credential)
    if site.has_documents:
        # Indexed by user, so a documents event finds the user's latest fiscal credential without a scan.
        ctx.world.put(FISCAL_KIND, credential, user["id_user"])
    return ctx.world.put("credential", credential, ctx.ref)


def _credential(ctx: BuildContext, age: tuple[float, float]) -> Entity:
    """The credential the event names; when the run has none yet, one registered `age` seconds ago."""
    credential = ctx.world.get("credential", ctx.ref)
    if credential is None:
        credential = _new_credential(ctx, _user(ctx), age)
    return credential


def _header(ctx: BuildContext, name: str, user: Entity, documents: bool = False) -> Entity:
    """The event's header, keys ordered as in Syncfy's examples (the documents ones list them differently)."""
    at, eid = syncfy_at(ctx.now), ctx.world.ids.uuid4(f"eid:{name}")
    if documents:
        return {
            "event": {"eid": eid, "name": name, "at": at, "version": VERSION},
            "user": {
                "id_user": user["id_user"],
                "id_external": user["id_external"],
                "id_environment": user["id_environment"],
            },
        }
    return {
        "event": {"at": at, "eid": eid, "name": name, "version": VERSION},
        "user": {
            "id_environment": user["id_environment"],
            "id_external": user["id_external"],
            "id_user": user["id_user"],
        },
    }


def _credential_event(ctx: BuildContext, name: str, legacy: str, credential: Entity, executing: int) -> Entity:
    user, job = credential["user"], credential["job"]
    payload = {
        "endpoints": {"credential": [f"/v1/credentials/{credential['id_credential']}"]},
        "event": legacy,
        "id_credential": credential["id_credential"],
        "id_external": user["id_external"],
        "id_job": job["id_job"],
        "id_job_uuid": job["id_job_uuid"],
        **credential["site"],
        "id_user": user["id_user"],
        "is_executing": executing,
    }
    return {"header": _header(ctx, name, user), "payload": payload}


@PROVIDER.event("credentials.created", "A new credential was registered; its first extraction job is running.")
def credentials_created(ctx: BuildContext) -> Entity:
    credential = _new_credential(ctx, _user(ctx), (0.2, 1.5))
    return _credential_event(ctx, "credentials.created", "credential_create", credential, 1)


@PROVIDER.event("credentials.updated", "An existing credential was updated; its extraction job has finished.")
def credentials_updated(ctx: BuildContext) -> Entity:
    credential = _credential(ctx, (3.0, 10.0))
    return _credential_event(ctx, "credentials.updated", "credential_update", credential, 0)


def _pages(path: str, query: str, pages: int) -> list[str]:
    start = f"{path}?{query}"
    return [start + _page(i) for i in range(pages)]


@cache
def _page(i: int) -> str:
    """The end of page `i`'s URL: a refresh names up to four pages, and three lists of them, on every event."""
    return f"&limit={PAGE_SIZE}&skip={i * PAGE_SIZE}&wbhk=1"


def _page_count(ctx: BuildContext, weights: tuple[float, ...]) -> int:
    """How many pages of 5,000 records changed: `weights[i]` is the chance of i + 1 pages."""
    draw, total = ctx.rng.random(), 0.0
    for i, weight in enumerate(weights):
        total += weight
        if draw < total:
            return i + 1
    return len(weights)


def _refresh_endpoints(ctx: BuildContext, id_credential: str, since: int, until: int) -> Entity:
    query = f"id_credential={id_credential}&dt_refresh_from={since}&dt_refresh_to={until}"
    return {
        "accounts": _pages("/v1/accounts", query, _page_count(ctx, (0.95, 0.05))),
        "attachments": _pages("/v1/attachments/export", query, _page_count(ctx, (0.7, 0.2, 0.1))),
        "credential": [f"/v1/credentials/{id_credential}"],
        "transactions": _pages("/v1/transactions", query, _page_count(ctx, (0.6, 0.25, 0.1, 0.05))),
    }


@PROVIDER.event(
    "credentials.refreshed",
    "A credential's data changed: accounts or transactions were added or updated by a new sync job.",
)
def credentials_refreshed(ctx: BuildContext) -> Entity:
    credential = _credential(ctx, (3600.0, 7 * _DAY))
    now = _now(ctx)
    started = max(now - ctx.rng.uniform(5.0, 45.0), credential["created"])
    job = credential["job"] = _new_job(ctx, "refresh", started, credential, uuid_first=True)
    user, until = credential["user"], int(now)
    since = min(int(started), until - 1)
    payload = {
        "endpoints": _refresh_endpoints(ctx, credential["id_credential"], since, until),
        "event": "refresh",
        "id_credential": credential["id_credential"],
        "id_external": user["id_external"],
        "id_job": job["id_job"],
        "id_job_type": REFRESH_JOB_TYPE,
        "id_job_uuid": job["id_job_uuid"],
        "id_job_uuid_type": REFRESH_JOB_TYPE,
        **credential["site"],
        "id_user": user["id_user"],
    }
    return {"header": _header(ctx, "credentials.refreshed", user), "payload": payload}


def _fiscal(credential: Entity) -> bool:
    return Site(**credential["site"]).has_documents


def _documents_credential(ctx: BuildContext) -> Entity:
    """The credential whose documents download: the named or latest one if fiscal, else the same user's latest
    fiscal one, else the named or latest one even at a bank; a fiscal one is made only when there is none."""
    credential = ctx.world.get("credential", ctx.ref)
    if credential is None:
        return _new_credential(ctx, _user(ctx), (3600.0, 7 * _DAY), documents=True)
    if _fiscal(credential):
        return credential
    fiscal = ctx.world.get(FISCAL_KIND, credential["user"]["id_user"])
    return fiscal if fiscal is not None and _fiscal(fiscal) else credential


def _documents_job(ctx: BuildContext, name: str) -> Entity:
    """The documents job `name` reports: the current one until it has reported this kind of outcome.

    One job reports `documents.completed` and one of `documents.success` / `documents.failed` (Syncfy's examples
    send completed and success for the same job, 5 ms apart).
    """
    outcome = "completed" if name == "documents.completed" else "result"
    job = ctx.world.get("job", ctx.ref)
    if job is None or job["kind"] != "documents" or outcome in job["announced"]:
        credential = _documents_credential(ctx)
        started = max(_now(ctx) - ctx.rng.uniform(10.0, 60.0), credential["created"])
        job = _new_job(ctx, "documents", started, credential)
    job["announced"].append(outcome)
    return job


def _webhook_id(ctx: BuildContext, job: Entity) -> str:
    """The `id_job_webhook` of this notification: made just now, by the process that made the job's last one."""
    created = _now(ctx) - ctx.rng.uniform(0.0, 0.9)
    last = job["webhook"]
    # Never before the job's last one: backdated across a second's boundary, a later notice's id sorted first.
    if last is not None and object_id_time(last) >= int(created):
        oid = last
        for _ in range(ctx.rng.randint(1, 3)):
            oid = next_object_id(oid)
    else:
        oid = _oid(ctx, "webhook", created)
    job["webhook"] = oid
    return oid


def _documents_event(ctx: BuildContext, name: str) -> Entity:
    job = _documents_job(ctx, name)
    header = _header(ctx, name, job["user"], documents=True)
    payload = {
        "id_job": job["id_job"],
        "id_job_uuid": job["id_job_uuid"],
        **job["site"],
        "endpoints": [f"/v1/documents?id_job_webhook={_webhook_id(ctx, job)}"],
    }
    return {"header": header, "payload": payload}


@PROVIDER.event("documents.completed", "A documents download finished, possibly with errors.")
def documents_completed(ctx: BuildContext) -> Entity:
    return _documents_event(ctx, "documents.completed")


@PROVIDER.event("documents.success", "A documents download finished without errors.")
def documents_success(ctx: BuildContext) -> Entity:
    return _documents_event(ctx, "documents.success")


@PROVIDER.event(
    "documents.failed",
    "Errors occurred while downloading documents; the documents may be inconsistent. Syncfy's "
    "documentation titles it `documents.fail`, its example body `documents.failed`.",
    aliases=("documents.fail",),
)
def documents_failed(ctx: BuildContext) -> Entity:
    return _documents_event(ctx, "documents.failed")
