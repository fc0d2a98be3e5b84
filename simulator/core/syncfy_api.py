"""The Syncfy API twin's backend: one per simulator, holding its state and rules (moto style: the routes only
parse and serialise).

One world: every credential, refresh window and documents notification the twin answers for is one a stored
Syncfy event announced, whoever emitted it (a run, `POST /events`, or the twin's own flows). The engine tells
the backend of each event as it is published; the backend indexes it (`store.syncfy_twin`), and an index built
by an earlier process is completed from the stored events on first use. A credential's REST object is its
events folded in order; its accounts, transactions and attachments are derived from each refresh event's id
and the row's index (`providers.syncfy.api_data`), so nothing large is stored and identical requests answer
identical rows.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.core import syncfy_cfdi
from simulator.errors import FieldError, InvalidInput, NotFound, Unauthorized
from simulator.models import Event
from simulator.providers.syncfy import api, api_documents
from simulator.providers.syncfy import api_query as query
from simulator.providers.syncfy._values import _SITES
from simulator.providers.syncfy.api_data import KINDS, Owner, Window, WindowRows, cfdi_xml, window_tags
from simulator.providers.syncfy.api_readable import readable
from simulator.store.syncfy_twin import Indexed, SyncfyTwinStore
from simulator.timeutil import parse_time

if TYPE_CHECKING:
    from simulator.core.simulator import Simulator

Params = Mapping[str, Any]
FLUSH_AT = 1000  # pending index rows that trigger a write without waiting for a request
# How far back of where it last looked a server sharing its store looks for events other processes stored.
LOOK_BACK = 10_000


def bad_input(message: str, field: str = "params") -> InvalidInput:
    return InvalidInput(message, errors=[FieldError(field, message)])


def flag(value: Any, field: str) -> bool:
    """One of Syncfy's 0/1 flags, as a number, its text (a query string's) or a JSON boolean. Anything else is
    refused: taken by its truth, "0" and "false" disabled a webhook."""
    if isinstance(value, bool):
        return value
    if (type(value) is int and value in (0, 1)) or value in ("0", "1"):
        return bool(int(value))
    raise bad_input(f"{field} must be 0 or 1", field)


def flag_filter(params: Params, field: str) -> bool | None:
    """An optional 0/1 filter (`has_attachment`, `is_disable`): None when absent or empty. Refused otherwise,
    naming it: ignored, `has_attachment=yes` listed every row as if it had filtered them."""
    value = params.get(field)
    return None if value is None or value == "" else flag(value, field)


def without_nul(value: str, field: str) -> str:
    """`value`, refused naming `field` if it holds NUL: it is stored as text, which PostgreSQL cannot hold NUL in
    (the answer was a 500 there)."""
    if "\x00" in value:
        raise bad_input(f"{field} must not contain a NUL character", field)
    return value


def id_param(params: Params, name: str) -> str | None:
    """An id a request filters on: text (a list or an object was looked up as its Python text, and a 404 echoed
    that back); None when it is not given."""
    value = params.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise bad_input(f"{name} must be an id (text), not {api.json_kind(value)}", name)
    return without_nul(value, name)


def site_filters(params: Params) -> dict[str, str]:
    """The `id_site…` filters a request gives, each an id (text): unchecked, a list or an object matched nothing
    and an empty one filtered nothing, where the other id filters answer 400."""
    return {name: value for name in api.SITE_FILTERS if (value := id_param(params, name)) is not None}


def not_found(what: str, oid: str) -> NotFound:
    return NotFound(f"no {what} {oid!r}", errors=[FieldError(what, "not found")])


@dataclass(frozen=True)
class Caller:
    """Who is asking: with an API key (every user's data, or `id_user`'s) or a session token (its user's)."""

    with_key: bool
    id_user: str | None


@dataclass(frozen=True)
class CredentialView:
    """A credential as its events tell it: its REST object, its owner and its refresh windows."""

    body: dict[str, Any]
    owner: Owner
    windows: list[Window]
    latest: Indexed


class SyncfyBackend:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.tables = SyncfyTwinStore(sim.store, readable)
        self._pending: list[dict[str, Any]] = []
        self._backfilled = False
        self._looked_upto = 0  # on a shared store: the insertion position up to which others' events were indexed
        self._flushing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        sim.engine.observers.append(self._observe)
        sim.after_reset.append(self._forget)

    async def flushed(self) -> None:
        """The index write under way, ended (before the store is emptied or closed: `CredentialFlows.stop_all`,
        once the steps that publish what it indexes have ended)."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)

    def hidden_from(self) -> list[str]:
        """The earliest Syncfy event of each run that the API does not show yet (`delivery.gate`): what
        the API answers from leaves it and its run's later events out."""
        return self.sim.engine.gate.firsts("syncfy")

    def _forget(self) -> None:
        """The store was emptied: nothing is left to index."""
        self._pending.clear()
        self._backfilled = False
        self._looked_upto = 0

    # -- the index ----------------------------------------------------------------------------------------

    def _observe(self, event: Event, key: str) -> None:
        if event.provider != "syncfy":
            return
        self._pending.append(api.index_row(key, event.type, event.occurred_at.timestamp(), event.parsed()))
        if len(self._pending) >= FLUSH_AT and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self.catch_up())

    async def catch_up(self) -> None:
        """Index what was published since the last call, and (once) what the store holds from before. On a shared
        store, also what other processes stored since the last call: a worker playing a run indexes nothing (it
        serves no twin), and its events were never shown here, 404 for good, on every server."""
        async with self._lock:
            if not self._backfilled or self.sim.store.shared:
                await self._index_stored()
                self._backfilled = True
            rows, self._pending = self._pending, []
            await self.tables.add_index(rows)

    async def _index_stored(self) -> None:
        """Index the stored events the index lacks. After the first time, only those stored near or past where the
        last look ended: a transaction of another process commits rows it numbered earlier than some committed
        already, so the look goes back LOOK_BACK positions."""
        head = await self.tables.events_head()
        after = max(0, self._looked_upto - LOOK_BACK) if self._backfilled else 0
        while rows := await self.tables.unindexed_events(after=after):
            await self.tables.add_index([_stored_row(r) for r in rows])
            after = rows[-1].pos
        self._looked_upto = head

    # -- auth ---------------------------------------------------------------------------------------------

    async def authenticate(self, given: api.Given, params: Params, *, key_only: bool = False) -> Caller:
        """The caller, or Unauthorized: a wrong or missing key, an unknown or expired session."""
        if given.key is not None:
            if not api.key_accepted(given.key, self.sim.provider_key):
                raise Unauthorized("the API key is not valid")
            # Text, as the id filters are: `str()` of a list holding an id scoped the request to nobody (an empty
            # answer, as for a user with no data).
            return Caller(True, id_param(params, "id_user"))
        if given.token is None or key_only:
            raise Unauthorized("an API key is required" if key_only else "an API key or a session token is required")
        found = await self.tables.session(given.token)
        now = time.time()
        if found is None or now - found[1] > api.SESSION_IDLE:
            raise Unauthorized("the session token is not valid or has expired")
        if now - found[1] > 30:  # sliding expiry, written at most every 30 s
            await self.tables.touch_session(given.token, now)
        return Caller(False, found[0])

    # -- credentials --------------------------------------------------------------------------------------

    async def view(self, caller: Caller, id_credential: str, *, deleted_too: bool = False) -> CredentialView:
        await self.catch_up()
        events = [
            e
            for e in await self.tables.credential_events(id_credential, self.hidden_from())
            if e.type.startswith("credentials.")
        ]
        registered = await self.tables.api_credential(id_credential)
        disabled = registered["dt_disable"] if registered else None
        if not events or (disabled is not None and not deleted_too):
            raise not_found("id_credential", id_credential)
        latest = events[-1]
        if caller.id_user is not None and latest.user.get("id_user") != caller.id_user:
            raise not_found("id_credential", id_credential)
        announced = [api.Announced(e.type, e.at, e.user, e.payload) for e in events]
        username = registered["username"] if registered else None
        body = api.fold_credential(id_credential, announced, username, disabled)
        owner = Owner(id_credential, str(body["id_user"]), str(body["id_external"]), api.SiteRef.of(body))
        windows = [Window.from_payload(e.eid, e.payload, e.at) for e in events if e.type == "credentials.refreshed"]
        return CredentialView(body, owner, windows, latest)

    async def credential(self, caller: Caller, id_credential: str) -> dict[str, Any]:
        return api.public_credential((await self.view(caller, id_credential)).body, with_disabled=False)

    async def _scope(self, caller: Caller, params: Params, *, deleted_too: bool = False) -> list[CredentialView]:
        """The credentials a data request covers: `id_credential`'s, else the caller's user's, else all."""
        await self.catch_up()
        wanted = id_param(params, "id_credential")
        if wanted:
            return [await self.view(caller, wanted, deleted_too=deleted_too)]
        views = []
        for id_credential in await self.tables.credentials(caller.id_user, self.hidden_from()):
            try:
                views.append(await self.view(caller, id_credential, deleted_too=deleted_too))
            except NotFound:
                continue  # deleted, or another user's
        return views

    async def credentials(self, caller: Caller, params: Params, *, with_disabled: bool) -> list[dict[str, Any]]:
        skip, limit = paging(params)
        views = await self._scope(caller, params, deleted_too=with_disabled)
        sites = site_filters(params)
        bodies = [v.body for v in views if api.site_matches(api.SiteRef.of(v.body), sites)]
        return [api.public_credential(b, with_disabled) for b in bodies[skip : skip + limit]]

    # -- accounts, transactions, attachments ---------------------------------------------------------------

    async def segments(self, kind: str, caller: Caller, params: Params) -> list[query.Segment]:
        """The rows of `kind` the request covers, one segment per refresh window (accounts: as they stand)."""
        only = id_param(params, f"id_{kind[:-1]}")
        if only and kind != "accounts":
            return await self._tagged(kind, caller, only)
        out: list[query.Segment] = []
        windowed = params.get("dt_refresh_from") not in (None, "") or params.get("dt_refresh_to") not in (None, "")
        sites = site_filters(params)
        for view in await self._scope(caller, params):
            if not api.site_matches(view.owner.site, sites):
                continue
            out.extend(_segments(kind, view, windowed))
        return out

    async def _tagged(self, kind: str, caller: Caller, oid: str) -> list[query.Segment]:
        """The window a row id names (its tag), when the caller may see it."""
        if len(oid) != 24 or any(c not in "0123456789abcdef" for c in oid):
            return []
        await self.catch_up()
        tags = {tag: k for tag, k in window_tags(oid).items() if k == kind}
        out = []
        for event in await self.tables.refreshes_tagged([f"{tag:010x}" for tag in tags], self.hidden_from()):
            try:
                view = await self.view(caller, str(event.payload.get("id_credential")))
            except NotFound:
                continue
            window = Window.from_payload(event.eid, event.payload, event.at)
            out.extend(_segments(kind, view, True, [window]))
        return out

    async def rows(self, kind: str, caller: Caller, params: Params) -> Iterator[str]:
        """A page of rows of `kind` as JSON texts (see `api_query.page` for the filters)."""
        skip, limit = paging(params)
        segments = await self.segments(kind, caller, params)
        return query.page(segments, skip=skip, limit=limit, filters=_filters(kind, params))

    async def credential_transactions(
        self, caller: Caller, id_credential: str, params: Params, *, content: bool, parse: bool
    ) -> Iterator[str]:
        """`GET /credentials/{id}/transactions`: the page `/transactions?id_credential=` lists, each attachment with
        its file as `/attachments/{id}` serves it (`content`, base64) and that file parsed (`parse`)."""
        given = params.get("id_credential")
        if given not in (None, "", id_credential):
            raise bad_input("id_credential must be the path's credential (or absent)", "id_credential")
        skip, limit = paging(params)
        scoped = {**params, "id_credential": id_credential}
        await self.view(caller, id_credential)  # unknown, deleted or another user's: 404 whatever the filters
        segments = [
            s for s in await self.segments("transactions", caller, scoped) if s.owner.id_credential == id_credential
        ]  # `id_transaction` looks its window up by tag, whichever credential it is of
        places = query.places(segments, skip=skip, limit=limit, filters=_filters("transactions", scoped))
        return syncfy_cfdi.with_files(places, content=content, parse=parse)

    async def count(self, kind: str, caller: Caller, params: Params) -> int:
        return query.count(await self.segments(kind, caller, params), _filters(kind, params))

    async def attachment_file(self, caller: Caller, id_attachment: str) -> tuple[str, bytes]:
        """The file an attachment stands for: its name and its bytes."""
        segments = await self._tagged("attachments", caller, id_attachment)
        found = list(query.places(segments, limit=1, filters=query.Filters(only=id_attachment)))
        if not found:
            raise not_found("id_attachment", id_attachment)
        item, data = _file(*found[0])
        return item["file"], data

    async def export(self, caller: Caller, params: Params) -> bytes:
        """A page of attachments as a ZIP: each attachment's file, and `attachments.json` listing them."""
        skip, limit = paging(params)
        segments = await self.segments("attachments", caller, params)
        files = [
            _file(s, i)
            for s, i in query.places(segments, skip=skip, limit=limit, filters=_filters("attachments", params))
        ]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_entry("attachments.json"), json.dumps([item for item, _ in files], ensure_ascii=False))
            for item, data in files:
                archive.writestr(_entry(item["file"]), data)
        return buffer.getvalue()

    # -- documents and catalogues ---------------------------------------------------------------------------

    async def documents(self, caller: Caller, params: Params) -> list[dict[str, Any]]:
        skip, limit = paging(params)
        await self.catch_up()
        webhook = id_param(params, "id_job_webhook")
        if webhook:
            notices = await self._of_live_credentials(await self.tables.webhook_events(webhook, self.hidden_from()))
            if caller.id_user is not None:  # another user's notice is as unknown as their credential
                notices = [n for n in notices if n.user.get("id_user") == caller.id_user]
            if not notices:  # a deleted credential's notice is as unknown as its job (`/v1/jobs/{id}/status`)
                raise not_found("id_job_webhook", webhook)
        elif caller.id_user is not None:
            notices = await self._of_live_credentials(
                await self.tables.user_documents(caller.id_user, self.hidden_from())
            )
        else:
            raise bad_input("id_job_webhook or id_user is required", "id_job_webhook")
        out: list[dict[str, Any]] = []
        for id_job in dict.fromkeys(str(n.payload.get("id_job")) for n in notices):
            out.extend(await self._job_documents(caller, id_job))
        chosen = [d for d in out if api_documents.matches(d, params)]
        return chosen[skip : skip + limit]

    async def _of_live_credentials(self, notices: list[Indexed]) -> list[Indexed]:
        """The documents notices whose credential is not deleted: its documents go with it, as its transactions do
        (`view`), and a deleted user's with their credentials. A notice of no credential an event announced (a
        documents event emitted alone) is kept while its user is."""
        deleted = {row["id_user"] for row in await self.tables.api_users() if row["deleted"]}
        live: dict[str, bool] = {}
        out = []
        for notice in notices:
            if notice.user.get("id_user") in deleted:
                continue  # whether or not a credential of theirs announced it
            id_credential = await self.tables.documents_credential(notice.key)
            if id_credential is not None and id_credential not in live:
                try:
                    await self.view(Caller(True, None), id_credential)  # whoever's: a 404 only once it is deleted
                    live[id_credential] = True
                except NotFound:
                    live[id_credential] = False
            if id_credential is None or live[id_credential]:
                out.append(notice)
        return out

    async def _job_documents(self, caller: Caller, id_job: str) -> list[dict[str, Any]]:
        events = [
            e for e in await self.tables.job_events(id_job, self.hidden_from()) if e.type.startswith("documents.")
        ]
        if not events or (caller.id_user is not None and events[-1].user.get("id_user") != caller.id_user):
            return []
        # An outcome announced, else the one a documents.completed was planned to end with: the job has finished.
        result = api_documents.outcome([e.type for e in events]) or api_documents.outcome(
            [e.ends_with for e in events if e.type == "documents.completed" and e.ends_with is not None]
        )
        external = events[-1].user.get("id_external")
        site = api.SiteRef.of(events[-1].payload)
        # The RFC its credential was registered with (`id_external` is the client's own reference, not one).
        id_credential = await self.tables.documents_credential(events[-1].key)
        rfc = await self.registered_rfc(id_credential) if id_credential else None
        return api_documents.documents(id_job, site, external, result, (events[0].at, events[-1].at), rfc)

    async def registered_rfc(self, id_credential: str) -> str | None:
        """The RFC a SAT credential was registered with through the twin (`CredentialFlows.register`), else None."""
        registered = await self.tables.api_credential(id_credential)
        return (registered["flow"] or {}).get("rfc") if registered else None

    async def sites(self) -> list[api.SiteRef]:
        """Every site of the catalogue: the built-in ones, then every other one an event named."""
        await self.catch_up()
        known = [api.SiteRef(**s.as_dict()) for sites in _SITES.values() for s in sites]
        seen = [api.SiteRef(*ids) for ids in await self.tables.sites()]
        return list(dict.fromkeys([*known, *seen]))


def paging(params: Params) -> tuple[int, int]:
    """`api.paging`, its ValueError a 400 in Syncfy's envelope."""
    try:
        return api.paging(params)
    except ValueError as exc:
        raise bad_input(str(exc), "limit") from None


def _filters(kind: str, params: Params) -> query.Filters:
    try:
        since, until = api.unix(params, "dt_refresh_from"), api.unix(params, "dt_refresh_to")
    except ValueError as exc:
        raise bad_input(str(exc), "dt_refresh_from") from None
    return query.Filters(
        since=since,
        until=until,
        id_account=id_param(params, "id_account"),
        only=id_param(params, f"id_{kind[:-1]}") if kind != "accounts" else None,
        # Documented for transactions (both) and accounts (`is_disable`); elsewhere ignored, as Syncfy's own.
        attached=flag_filter(params, "has_attachment") if kind == "transactions" else None,
        disabled=flag_filter(params, "is_disable") if kind != "attachments" else None,
    )


def _segments(kind: str, view: CredentialView, windowed: bool, windows: list[Window] | None = None) -> list[Any]:
    """A credential's segments of `kind`: per window; accounts without a time filter as they stand now."""
    owner = view.owner
    chosen = view.windows if windows is None else windows
    out: list[query.Segment] = []
    if kind == "accounts" and not windowed:
        refreshed = int(view.body.get("dt_refresh") or view.latest.at)
        out.append(query.current_accounts(owner, refreshed, chosen[-1].eid if chosen else owner.id_credential))
    for window in chosen:
        counts = {k: window.count(k, owner) for k in KINDS}
        if kind == "accounts":
            first = 0 if windowed else owner.base_accounts()
            if counts["accounts"] > first:
                out.append(query.window_accounts(owner, window, counts, first))
        else:
            out.append(query.window_rows(WindowRows(owner, window, counts), kind))
    return out


def _stored_row(row: Any) -> dict[str, Any]:
    return api.index_row(row.key, row.type, parse_time(row.occurred_at).timestamp(), json.loads(row.body))


def _entry(name: str) -> zipfile.ZipInfo:
    """A ZIP entry dated at the format's epoch, as reproducible builds date theirs: `writestr` with a name dates it
    now, so the same export answered other bytes a second later."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _file(segment: query.Segment, i: int) -> tuple[dict[str, Any], bytes]:
    """Attachment row `i` of `segment` and its file: the invoice of its transaction when it has one."""
    item = json.loads(segment.row(i))
    data = segment.file(i, item) if segment.file is not None else cfdi_xml(segment.owner, item)
    return item, data
