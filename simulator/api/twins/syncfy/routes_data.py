"""The Syncfy twin's data routes: credentials and their jobs, accounts, transactions, attachments, documents.
Each parses, calls the twin's core and serialises; the rules live in `simulator.core.syncfy*`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulator.api.twins.syncfy._http import Ctx, answer, rid, stream
from simulator.core.syncfy_api import flag, flag_filter  # Syncfy's 0/1 flags, refused alike everywhere
from simulator.providers.syncfy import api_documents


async def list_credentials(ctx: Ctx) -> Any:
    return await ctx.twin.backend.credentials(await ctx.caller(), ctx.params, with_disabled=False)


async def all_credentials(ctx: Ctx) -> Any:
    return await ctx.twin.backend.credentials(await ctx.caller(), ctx.params, with_disabled=True)


async def get_credential(ctx: Ctx) -> Any:
    """The URL every credential webhook carries: a list holding the one credential."""
    return [await ctx.twin.backend.credential(await ctx.caller(), ctx.path["id"])]


async def register_credential(ctx: Ctx) -> Any:
    return _absolute(ctx, await ctx.twin.flows.register(await ctx.caller(), ctx.params))


async def pull_credential(ctx: Ctx) -> Any:
    """`PUT /credentials/{id}/pulls`: a new job for a registered credential (its site and username kept)."""
    caller = await ctx.caller()
    view = await ctx.twin.backend.view(caller, ctx.path["id"])
    params = {
        "id_site": view.body["id_site"],
        "credentials": ctx.params.get("credentials") or {"username": view.body["username"]},
    }
    if caller.id_user is None:
        caller = type(caller)(caller.with_key, str(view.body["id_user"]))
    return _absolute(ctx, await ctx.twin.flows.register(caller, params, pulled=ctx.path["id"]))


async def update_credential(ctx: Ctx) -> Any:
    """`PUT /credentials/{id}` with `twofa`: the token a waiting job asked for."""
    return await ctx.twin.flows.answer_twofa(await ctx.caller(), ctx.path["id"], ctx.params)


async def delete_credential(ctx: Ctx) -> Any:
    await ctx.twin.flows.delete(await ctx.caller(), ctx.path["id"])
    return answer(200, True)


async def job_status(ctx: Ctx) -> Any:
    return await ctx.twin.flows.job_status(await ctx.caller(), ctx.path["id"], ctx.base())


async def job_twofa(ctx: Ctx) -> Any:
    """`POST /jobs/{id}/twofa` (the SDK's way): the same as `PUT /credentials/{id}` with `twofa`."""
    caller = await ctx.caller()
    id_credential = await ctx.twin.flows.credential_of_job(ctx.path["id"])
    await ctx.twin.flows.answer_twofa(caller, id_credential, ctx.params)
    return answer(200, True)


def _absolute(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """The job's `ws`, `status` and `twofa` addresses, on this twin."""
    body["ws"] = ctx.base("wss" if ctx.request.url.scheme == "https" else "ws") + body["ws"]
    body["status"] = ctx.base() + body["status"]
    body["twofa"] = ctx.base() + body["twofa"]
    return body


def rows(kind: str) -> Any:
    async def handler(ctx: Ctx) -> Response:
        return stream(await ctx.twin.backend.rows(kind, await ctx.caller(), ctx.params))

    handler.__name__ = f"list_{kind}"
    return handler


async def credential_transactions(ctx: Ctx) -> Response:
    """`GET /credentials/{id}/transactions` (Syncfy's tax collection): `/transactions?id_credential=`'s rows, each
    attachment with its file's bytes (`attachment_content=1`) and the file parsed (`attachment_content_parse=1`)."""
    caller = await ctx.caller()
    content = flag(ctx.params.get("attachment_content", 0), "attachment_content")
    parse = flag(ctx.params.get("attachment_content_parse", 0), "attachment_content_parse")
    return stream(
        await ctx.twin.backend.credential_transactions(caller, ctx.path["id"], ctx.params, content=content, parse=parse)
    )


def count(kind: str) -> Any:
    async def handler(ctx: Ctx) -> Any:
        return {"count": await ctx.twin.backend.count(kind, await ctx.caller(), ctx.params)}

    handler.__name__ = f"count_{kind}"
    return handler


async def export_attachments(ctx: Ctx) -> Response:
    """The attachments of a page as a ZIP download (the envelope only for errors)."""
    data = await ctx.twin.backend.export(await ctx.caller(), ctx.params)
    headers = {"Content-Disposition": 'attachment; filename="attachments.zip"', "Request-ID": rid()}
    return Response(data, media_type="application/zip", headers=headers)


async def attachment_file(ctx: Ctx) -> Response:
    name, data = await ctx.twin.backend.attachment_file(await ctx.caller(), ctx.path["id"])
    headers = {"Content-Disposition": f'filename="{name}"', "Request-ID": rid()}  # as every answer has (recorded)
    return Response(data, media_type="text/xml;charset=UTF-8", headers=headers)


async def documents(ctx: Ctx) -> Any:
    return await ctx.twin.backend.documents(await ctx.caller(), ctx.params)


async def document_statuses(ctx: Ctx) -> Any:
    await ctx.caller()
    return [] if flag_filter(ctx.params, "is_disable") else api_documents.status_catalogue()


async def document_types(ctx: Ctx) -> Any:
    """The recorded catalogue is what `is_disable` 0 (the default) lists; no type in it is disabled."""
    await ctx.caller()
    return [] if flag_filter(ctx.params, "is_disable") else api_documents.type_catalogue()
