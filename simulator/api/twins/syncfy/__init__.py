"""The Syncfy API twin's routes, mounted at `/syncfy`: a consumer whose base URL is `http://HOST:PORT/syncfy`
resolves the relative `endpoints` of Syncfy's webhooks against it unchanged. Every answer, errors included, is
Syncfy's envelope; every method is also reachable as a POST with `X-Http-Method-Override` (the official Python
SDK's way)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from simulator.api.twins.syncfy import routes_account as a
from simulator.api.twins.syncfy import routes_data as d
from simulator.api.twins.syncfy._http import fallback, route
from simulator.providers.syncfy import api_documents


def routes() -> list[BaseRoute]:
    return [
        route("/v1/sessions", {"POST": a.create_session}),
        route("/v1/sessions/{token}/verify", {"GET": a.verify_session}),
        route("/v1/sessions/{token}", {"DELETE": a.delete_session}),
        route("/v1/users", {"GET": a.list_users, "POST": a.create_user}),
        route("/v1/users/{id}", {"PUT": a.update_user, "DELETE": a.delete_user}),
        route("/v1/webhooks", {"GET": a.list_webhooks, "POST": a.create_webhook}),
        route("/v1/webhooks/{id}", {"GET": a.get_webhook, "PUT": a.update_webhook, "DELETE": a.delete_webhook}),
        route("/v1/catalogues/sites", {"GET": a.sites}),
        route("/v1/catalogues/organizations/sites", {"GET": a.organizations_sites}),
        route("/v1/catalogues/site_organizations", {"GET": a.site_organizations}),
        route("/v1/catalogues/account_types", {"GET": a.static(a.ACCOUNT_TYPES)}),
        route("/v1/catalogues/countries", {"GET": a.static(api_documents.countries())}),
        route("/v1/catalogues/attachment_types", {"GET": a.static(a.ATTACHMENT_TYPES)}),
        route("/v1/catalogues/site_organization_types", {"GET": a.static(a.ORGANIZATION_TYPES)}),
        route("/v1/credentials", {"GET": d.list_credentials, "POST": d.register_credential}),
        route("/v1/credentials/all", {"GET": d.all_credentials}),
        route("/v1/credentials/pulls", {"POST": d.register_credential}),
        route("/v1/credentials/{id}/pulls", {"PUT": d.pull_credential}),
        route("/v1/credentials/{id}/transactions", {"GET": d.credential_transactions}),
        route(
            "/v1/credentials/{id}",
            {"GET": d.get_credential, "PUT": d.update_credential, "DELETE": d.delete_credential},
        ),
        route("/v1/jobs/{id}/status", {"GET": d.job_status}),
        route("/v1/jobs/{id}/twofa", {"POST": d.job_twofa}),
        route("/v1/accounts", {"GET": d.rows("accounts")}),
        route("/v1/transactions", {"GET": d.rows("transactions")}),
        route("/v1/transactions/count", {"GET": d.count("transactions")}),
        route("/v1/attachments", {"GET": d.rows("attachments")}),
        route("/v1/attachments/count", {"GET": d.count("attachments")}),
        route("/v1/attachments/export", {"GET": d.export_attachments}),
        route("/v1/attachments/{id}", {"GET": d.attachment_file}),
        route("/v1/documents", {"GET": d.documents}),
        route("/v1/documents/catalogues/document_status", {"GET": d.document_statuses}),
        route("/v1/documents/catalogues/document_types", {"GET": d.document_types}),
        fallback(),
    ]
