"""The Syncfy twin's account routes: sessions, users, V1 webhooks (API key only), and the catalogues."""

from __future__ import annotations

from typing import Any

from simulator.api.twins.syncfy._http import Ctx, answer, keyed
from simulator.core.syncfy_api import not_found
from simulator.providers.syncfy import api

# Syncfy's published catalogue entries [Postman collection].
ACCOUNT_TYPES = [
    {"id_account_type": "520d3aa93b8e778e0d000002", "name": "Credit Card"},
    {"id_account_type": "520d3aa93b8e778e0d000000", "name": "Checking"},
    {"id_account_type": "520d3aa93b8e778e0d000001", "name": "Savings"},
    {"id_account_type": "546d4904df527d1844a2e18d", "name": "IRS"},
    {"id_account_type": "5286609bc6901663398b4568", "name": "Other"},
]
ATTACHMENT_TYPES = [
    {"id_attachment_type": "56bcdfca784806d1378b4567", "name": "CFDI (XML)"},
    {"id_attachment_type": "56bcdfca784806d1378b4568", "name": "CFDI (PDF)"},
]
ORGANIZATION_TYPES = [
    {"id_site_organization_type": "56cf4f5b784806cf028b4568", "name": "Bank", "label": "webapp_add_banks"},
    {"id_site_organization_type": "56cf4f5b784806cf028b4569", "name": "Government", "label": "webapp_add_government"},
]


@keyed
async def create_session(ctx: Ctx) -> Any:
    return await ctx.twin.accounts.create_session(ctx.params)


async def verify_session(ctx: Ctx) -> Any:
    """Valid with the API key, or with the token itself as the credential."""
    if ctx.given.key is not None:
        await ctx.caller(key_only=True)
    elif ctx.given.token != ctx.path["token"]:
        await ctx.caller()
    return answer(200, await ctx.twin.accounts.verify_session(ctx.path["token"]))


async def delete_session(ctx: Ctx) -> Any:
    if ctx.given.key is not None or ctx.given.token != ctx.path["token"]:
        await ctx.caller(key_only=ctx.given.token is None)
    return answer(200, await ctx.twin.accounts.delete_session(ctx.path["token"]))


@keyed
async def list_users(ctx: Ctx) -> Any:
    return await ctx.twin.accounts.users(ctx.params)


@keyed
async def create_user(ctx: Ctx) -> Any:
    return await ctx.twin.accounts.create_user(ctx.params)


@keyed
async def update_user(ctx: Ctx) -> Any:
    return await ctx.twin.accounts.update_user(ctx.path["id"], ctx.params)


@keyed
async def delete_user(ctx: Ctx) -> Any:
    await ctx.twin.accounts.delete_user(ctx.path["id"], ctx.twin.flows)
    return answer(200, True)


@keyed
async def list_webhooks(ctx: Ctx) -> Any:
    return await ctx.twin.accounts.webhooks()


@keyed
async def create_webhook(ctx: Ctx) -> Any:
    return await ctx.twin.accounts.create_webhook(ctx.params)


@keyed
async def get_webhook(ctx: Ctx) -> Any:
    found = await ctx.twin.accounts.webhooks(ctx.path["id"])
    if not found:
        raise not_found("id_webhook", ctx.path["id"])
    return found


@keyed
async def update_webhook(ctx: Ctx) -> Any:
    return await ctx.twin.accounts.update_webhook(ctx.path["id"], ctx.params)


@keyed
async def delete_webhook(ctx: Ctx) -> Any:
    await ctx.twin.accounts.delete_webhook(ctx.path["id"])
    return answer(200, True)


async def sites(ctx: Ctx) -> Any:
    await ctx.caller()
    return [api.site_object(s) for s in await ctx.twin.backend.sites() if api.site_matches(s, ctx.params)]


async def organizations_sites(ctx: Ctx) -> Any:
    await ctx.caller()
    return api.organizations_sites([s for s in await ctx.twin.backend.sites() if api.site_matches(s, ctx.params)])


async def site_organizations(ctx: Ctx) -> Any:
    await ctx.caller()
    return [
        {k: v for k, v in o.items() if k != "sites"} for o in api.organizations_sites(await ctx.twin.backend.sites())
    ]


def static(rows: list[dict[str, Any]]) -> Any:
    async def handler(ctx: Ctx) -> Any:
        await ctx.caller()
        return rows

    return handler
