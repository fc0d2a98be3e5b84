"""Compute and traffic events: proxies, reactors, and the API request log (`http.request`).

Coherence: `reactor.invoked` opens an invocation that the next `reactor.completed` / `reactor.failed` of the
same reactor closes, with the same request id (async only) and trace id; `proxy.*` name the latest proxy;
`http.request` shows the acting application's masked API key and the event's trace id.
"""

from __future__ import annotations

import json
from typing import Any

from simulator.models import BuildContext
from simulator.providers.basistheory import _values as v
from simulator.providers.basistheory._common import (
    DAY,
    Entity,
    app_actor,
    application,
    as_actor,
    copy,
    discard,
    obtain,
    portal_actor,
    project,
    store,
    system,
    uid,
    wrap,
)
from simulator.providers.basistheory._errors import custom_error, standard_error
from simulator.providers.basistheory.provider import PROVIDER
from simulator.timeutil import iso_ms

# Where Basis Theory serves pre-configured proxies (ours: the API's proxy endpoint).
PROXY_HOST = "https://api.basistheory.com/proxy"
API_HOST = "api.basistheory.com"
# Async invocations that run longer than this are cut off and reported as `reactor.failed`.
ASYNC_TIMEOUT_MS = 300_000
REACTOR_ERRORS = (
    "TypeError: Cannot read properties of undefined (reading 'number')",
    "Reactor Runtime Error: Request failed with status code 502",
    "AxiosError: timeout of 10000ms exceeded",
    "Error: card_declined",
)
# path, weight, the application type that calls it
ROUTES = (
    ("/tokens", 60, "private"),
    ("/tokens", 15, "public"),
    ("/token-intents", 15, "public"),
    ("/applications", 5, "management"),
    ("/reactors", 3, "management"),
    ("/proxies", 2, "management"),
)
ROUTE_WEIGHTS = tuple(r[1] for r in ROUTES)


# --- proxies --------------------------------------------------------------------------------------


def new_proxy(ctx: BuildContext, created_at: str, created_by: str) -> Entity:
    """A pre-configured proxy to a payment provider, running as the private application."""
    name, url = v.PROXY_TARGETS[int(ctx.rng.random() * len(v.PROXY_TARGETS))]
    return {
        "id": uid(ctx, "proxy"),
        "name": name,
        "application_id": application(ctx, "private")["id"],
        "destination_url": url,
        "require_authentication": ctx.rng.random() < 0.8,
        "created_at": created_at,
        "created_by": created_by,
        "proxy_host": PROXY_HOST,
        "type": "pre_configured",
    }


def _proxy(ctx: BuildContext) -> Entity:
    return obtain(
        ctx, "proxy", lambda c: new_proxy(c, v.before(c.now, c.rng, DAY, 60 * DAY), application(c, "management")["id"])
    )


@PROVIDER.event("proxy.created", "Proxy Created: a pre-configured proxy was created")
def proxy_created(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    proxy = store(ctx, "proxy", new_proxy(ctx, iso_ms(ctx.now), actor["id"]))
    fields = ("id", "name", "application_id", "destination_url", "require_authentication", "created_at", "created_by")
    return wrap(ctx, "proxy.created", {"proxy": project(proxy, fields)}, actor)


@PROVIDER.event("proxy.updated", "Proxy Updated: a proxy's destination or settings were changed")
def proxy_updated(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    proxy = _proxy(ctx)
    if ctx.rng.random() < 0.3:
        proxy["require_authentication"] = not proxy["require_authentication"]
    proxy["modified_at"], proxy["modified_by"] = iso_ms(ctx.now), actor["id"]
    fields = (
        "id",
        "name",
        "proxy_host",
        "destination_url",
        "require_authentication",
        "created_at",
        "created_by",
        "modified_at",
        "modified_by",
    )
    return wrap(ctx, "proxy.updated", {"proxy": project(proxy, fields)}, actor)


@PROVIDER.event("proxy.deleted", "Proxy Deleted: a proxy was deleted")
def proxy_deleted(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    proxy = _proxy(ctx)
    discard(ctx, "proxy")
    return wrap(ctx, "proxy.deleted", {"proxy": {"id": proxy["id"]}}, actor)


def _destination(ctx: BuildContext, url: str) -> dict[str, Any]:
    rng = ctx.rng
    amount, last4 = rng.randint(100, 250_000), f"{rng.randint(0, 9999):04d}"
    status = 200 if rng.random() < 0.8 else rng.choice((400, 402, 500))
    request_headers = {
        "Content-Type": ["application/json"],
        "Accept": ["application/json"],
        "Authorization": [v.mask("Bearer sk_live_" + v.base58(rng, 99))],
    }
    response_headers = {
        "Content-Type": ["application/json"],
        "Date": [v.http_date(ctx.now)],
        "Request-Id": ["req_" + v.base58(rng, 14)],
    }
    return {
        "request": {
            "body": f'{{"amount":{amount},"currency":"usd","card":{{"number":"XXXXXXXXXXXX{last4}","cvc":"XXX"}}}}',
            "headers": request_headers,
            "method": "POST",
            "query": "",
            "url": url,
        },
        "response": {
            "body": f'{{"id":"ch_{v.base58(rng, 24)}","amount":{amount},"status":"succeeded"}}',
            "elapsed_ms": rng.randint(40, 1800),
            "headers": response_headers,
            "status": status,
        },
    }


@PROVIDER.event("proxy.invoked", "Proxy Invoked: a request went through a proxy to its destination")
def proxy_invoked(ctx: BuildContext) -> dict[str, Any]:
    rng = ctx.rng
    proxy = _proxy(ctx)
    # One invocation fails one way, in one of the two shapes; every error slot reports that failure.
    make = standard_error if rng.random() < 0.5 else custom_error
    error, status = make(rng)
    destination = _destination(ctx, proxy["destination_url"])
    request, response = destination["request"], destination["response"]
    data = {
        "proxy": {
            "id": proxy["id"],
            "name": proxy["name"],
            "response": {"error": error, "status": status},
            "type": proxy["type"],
        },
        "destination": destination,
        "request_transform": {"response": {"error": copy(error)}},
        "response_transform": {"response": {"error": copy(error)}},
        # Deprecated blocks Basis Theory still sends: header maps serialised as strings.
        "request": {
            "headers": json.dumps(request["headers"], separators=(",", ":")),
            "method": request["method"],
            "url": request["url"],
        },
        "response": {
            "headers": json.dumps(response["headers"], separators=(",", ":")),
            "status_code": str(response["status"]),
            "elapsed_ms": response["elapsed_ms"],
        },
    }
    return wrap(ctx, "proxy.invoked", data, app_actor(ctx, "private"))


# --- reactors -------------------------------------------------------------------------------------


def _reactor(ctx: BuildContext) -> Entity:
    return obtain(
        ctx,
        "reactor",
        lambda c: {
            "id": uid(c, "reactor"),
            "name": v.pick(c.rng, v.REACTOR_NAMES),
            "created_at": v.before(c.now, c.rng, DAY, 90 * DAY),
            "created_by": application(c, "management")["id"],
        },
    )


@PROVIDER.event("reactor.created", "Reactor Created: a reactor (serverless function) was created")
def reactor_created(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    reactor = store(
        ctx,
        "reactor",
        {
            "id": uid(ctx, "reactor"),
            "name": v.pick(ctx.rng, v.REACTOR_NAMES),
            "created_at": iso_ms(ctx.now),
            "created_by": actor["id"],
        },
    )
    return wrap(
        ctx, "reactor.created", {"reactor": project(reactor, ("id", "name", "created_at", "created_by"))}, actor
    )


@PROVIDER.event("reactor.updated", "Reactor Updated: a reactor's code or configuration was changed")
def reactor_updated(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    reactor = _reactor(ctx)
    reactor["modified_by"], reactor["modified_at"] = actor["id"], iso_ms(ctx.now)
    fields = ("id", "name", "created_at", "created_by", "modified_by", "modified_at")
    return wrap(ctx, "reactor.updated", {"reactor": project(reactor, fields)}, actor)


@PROVIDER.event("reactor.deleted", "Reactor Deleted: a reactor was deleted")
def reactor_deleted(ctx: BuildContext) -> dict[str, Any]:
    actor = portal_actor(ctx)
    reactor = _reactor(ctx)
    discard(ctx, "reactor")
    return wrap(ctx, "reactor.deleted", {"reactor": {"id": reactor["id"]}}, actor)


def _invocation(ctx: BuildContext, reactor: Entity, fresh: bool) -> Entity:
    """The reactor's open invocation; `fresh` (or none open) starts one, sync or async."""
    found = reactor.get("_invocation")
    if fresh or found is None:
        is_async = ctx.rng.random() < 0.35
        found = {
            "id": uid(ctx, "reactor_request") if is_async else None,
            "async": is_async,
            "trace_id": uid(ctx, "trace"),
            "actor": app_actor(ctx, "private"),
        }
        reactor["_invocation"] = found
    return found


def _reactor_data(reactor: Entity, invocation: Entity) -> dict[str, Any]:
    # `request.id` exists only for async invocations: it is how their result is fetched later.
    request = (
        {"id": invocation["id"], "invocation_type": "async"} if invocation["async"] else {"invocation_type": "sync"}
    )
    return {"reactor": {"id": reactor["id"], "name": reactor["name"]}, "request": request}


def _finisher(ctx: BuildContext, invocation: Entity) -> Entity:
    """Who reports the end of an invocation: its caller when sync, Basis Theory itself when async."""
    return system(ctx) if invocation["async"] else invocation["actor"]


@PROVIDER.event("reactor.invoked", "Reactor Invoked: a reactor invocation started")
def reactor_invoked(ctx: BuildContext) -> dict[str, Any]:
    reactor = _reactor(ctx)
    invocation = _invocation(ctx, reactor, fresh=True)
    return wrap(ctx, "reactor.invoked", _reactor_data(reactor, invocation), invocation["actor"], invocation["trace_id"])


@PROVIDER.event("reactor.completed", "Reactor Completed: a reactor invocation finished successfully")
def reactor_completed(ctx: BuildContext) -> dict[str, Any]:
    reactor = _reactor(ctx)
    invocation = _invocation(ctx, reactor, fresh=False)
    reactor.pop("_invocation")
    data = _reactor_data(reactor, invocation)
    data["elapsed_ms"] = ctx.rng.randint(150, 120_000) if invocation["async"] else ctx.rng.randint(35, 2500)
    return wrap(ctx, "reactor.completed", data, _finisher(ctx, invocation), invocation["trace_id"])


@PROVIDER.event("reactor.failed", "Reactor Failed: a reactor invocation raised an error or timed out")
def reactor_failed(ctx: BuildContext) -> dict[str, Any]:
    rng = ctx.rng
    reactor = _reactor(ctx)
    invocation = _invocation(ctx, reactor, fresh=False)
    reactor.pop("_invocation")
    data = _reactor_data(reactor, invocation)
    if invocation["async"] and rng.random() < 0.4:
        data["error"] = "Reactor invocation timed out after 5 minutes"
        data["elapsed_ms"] = ASYNC_TIMEOUT_MS + rng.randint(0, 900)
    else:
        data["error"] = v.pick(rng, REACTOR_ERRORS)
        data["elapsed_ms"] = rng.randint(20, 3000)
    return wrap(ctx, "reactor.failed", data, _finisher(ctx, invocation), invocation["trace_id"])


# --- API request log ------------------------------------------------------------------------------


@PROVIDER.event("http.request", "HTTP Request: an API request was served (headers masked as in the logs)")
def http_request(ctx: BuildContext) -> dict[str, Any]:
    rng = ctx.rng
    path, _, app_type = ROUTES[rng.choices(range(len(ROUTES)), ROUTE_WEIGHTS)[0]]
    app = application(ctx, app_type)
    trace_id = uid(ctx, "trace")
    location = f"https://{API_HOST}{path}/{uid(ctx, 'location')}"
    data = {
        "request": {
            "method": "POST",
            "path": path,
            "headers": {
                "Host": [API_HOST],
                "Content-Type": ["application/json; charset=utf-8"],
                "Content-Length": [str(rng.randint(90, 900))],
                "BT-TRACE-ID": [trace_id],
                "BT-API-KEY": [v.mask(app["_api_key"])],
            },
        },
        "response": {
            "status": 201,
            "headers": {
                "Content-Type": ["application/json; charset=utf-8"],
                "Content-Length": [str(rng.randint(300, 1600))],
                "BT-TRACE-ID": [trace_id],
                "Date": [v.mask(v.http_date(ctx.now))],
                "Server": [v.mask("Kestrel")],
                "Location": [v.mask(location)],
            },
        },
    }
    return wrap(ctx, "http.request", data, as_actor(app), trace_id)
