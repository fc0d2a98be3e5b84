"""Compute events: proxies and reactors.

Coherence: `reactor.invoked` opens an invocation that the next `reactor.completed` / `reactor.failed` of the
same reactor closes, with the same request id (async only) and trace id; `proxy.*` name the latest proxy.
`proxy.invoked` describes one invocation that can happen: it mostly succeeds; a failing request transform means
the destination was never called; its error objects appear only when something failed.
"""

from __future__ import annotations

import json
from typing import Any

from simulator.ids import derived_fraction
from simulator.models import BuildContext
from simulator.providers.basistheory import _values as v
from simulator.providers.basistheory._common import (
    DAY,
    Entity,
    app_actor,
    application,
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
from simulator.providers.basistheory._errors import AUTHENTICATION_ERROR, problem, transform_error
from simulator.providers.basistheory.provider import PROVIDER
from simulator.providers.draws import weighted_index
from simulator.timeutil import iso_ms

# Where Basis Theory serves pre-configured proxies (ours: the API's proxy endpoint).
PROXY_HOST = "https://api.basistheory.com/proxy"
# A proxy's `timeout` (seconds; the SDK's Proxy.timeout is an optional int): most keep the default (null).
PROXY_TIMEOUTS: tuple[int | None, ...] = (None, None, 15, 30, 60)
# Async invocations that run longer than this are cut off and reported as `reactor.failed`.
ASYNC_TIMEOUT_MS = 300_000
# A reactor's own HTTP call that timed out: only an invocation that ran at least that long can report it.
_AXIOS_TIMEOUT = "AxiosError: timeout of 10000ms exceeded"
_AXIOS_TIMEOUT_MS = 10_000
REACTOR_ERRORS = (
    "TypeError: Cannot read properties of undefined (reading 'number')",
    "Reactor Runtime Error: Request failed with status code 502",
    _AXIOS_TIMEOUT,
    "Error: card_declined",
)
_QUICK_ERRORS = tuple(error for error in REACTOR_ERRORS if error != _AXIOS_TIMEOUT)


# --- proxies --------------------------------------------------------------------------------------


def new_proxy(ctx: BuildContext, created_at: str, created_by: str) -> Entity:
    """A pre-configured proxy to a payment provider, running as the private application."""
    name, url = v.PROXY_TARGETS[int(ctx.rng.random() * len(v.PROXY_TARGETS))]
    proxy_id = uid(ctx, "proxy")
    return {
        "id": proxy_id,
        "name": name,
        "application_id": application(ctx, "private")["id"],
        "destination_url": url,
        "require_authentication": ctx.rng.random() < 0.8,
        "created_at": created_at,
        "created_by": created_by,
        "proxy_host": PROXY_HOST,
        "type": "pre_configured",
        "timeout": proxy_timeout(proxy_id),
    }


def proxy_timeout(proxy_id: str) -> int | None:
    """The proxy's custom timeout in seconds, or None for the default: derived from its id, not drawn, so adding
    the field (the docs list it on proxy.updated) left every seeded event's other values as they were."""
    return PROXY_TIMEOUTS[int(derived_fraction("proxy-timeout", proxy_id) * len(PROXY_TIMEOUTS))]


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
        "timeout",
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


# What the destination answers, by weight, and the body it sends with each status (a card payment API).
DESTINATION_STATUSES = (200, 201, 400, 402, 500)
DESTINATION_WEIGHTS = (78, 8, 4, 7, 3)
DESTINATION_ERRORS = {
    400: '{{"error":{{"code":"parameter_invalid","message":"Invalid amount: {amount}"}}}}',
    402: '{{"error":{{"code":"card_declined","decline_code":"insufficient_funds","charge":"ch_{ref}"}}}}',
    500: '{{"error":{{"type":"api_error","message":"An unknown error occurred","request":"req_{ref}"}}}}',
}
# How an invocation ends, by weight: nearly always the destination answers (its own errors included); a request
# transform that fails means no destination call; a response transform fails on what the destination answered;
# a proxy requiring authentication refuses a caller without a key before anything runs.
PROXY_OUTCOMES = ("answered", "request_transform", "response_transform", "unauthenticated")
PROXY_OUTCOME_WEIGHTS = (88, 5, 4, 3)


def _destination(ctx: BuildContext, url: str, status: int) -> dict[str, Any]:
    rng = ctx.rng
    amount, last4, ref = rng.randint(100, 250_000), f"{rng.randint(0, 9999):04d}", v.base58(rng, 24)
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
    if status < 300:
        body = f'{{"id":"ch_{ref}","amount":{amount},"status":"succeeded"}}'
    else:
        body = DESTINATION_ERRORS[status].format(amount=amount, ref=ref)
    return {
        "request": {
            "body": f'{{"amount":{amount},"currency":"usd","card":{{"number":"XXXXXXXXXXXX{last4}","cvc":"XXX"}}}}',
            "headers": request_headers,
            "method": "POST",
            "query": "",
            "url": url,
        },
        "response": {
            "body": body,
            "elapsed_ms": rng.randint(40, 1800),
            "headers": response_headers,
            "status": status,
        },
    }


def _deprecated(destination: dict[str, Any]) -> dict[str, Any]:
    """The `request` and `response` blocks Basis Theory still sends: header maps serialised as strings."""
    request, response = destination["request"], destination["response"]
    return {
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


@PROVIDER.event("proxy.invoked", "Proxy Invoked: a request went through a proxy to its destination")
def proxy_invoked(ctx: BuildContext) -> dict[str, Any]:
    rng = ctx.rng
    proxy = _proxy(ctx)
    outcome = v.pick(rng, PROXY_OUTCOMES, PROXY_OUTCOME_WEIGHTS)
    if outcome == "unauthenticated" and not proxy["require_authentication"]:
        outcome = "answered"
    error: dict[str, Any] | None = None
    destination = None
    if outcome in ("answered", "response_transform"):
        status = (
            200 if outcome == "response_transform" else DESTINATION_STATUSES[weighted_index(rng, DESTINATION_WEIGHTS)]
        )
        destination = _destination(ctx, proxy["destination_url"], status)
    if outcome == "unauthenticated":
        error, status = problem(AUTHENTICATION_ERROR)
    elif outcome != "answered":
        error, status = transform_error(rng)
    # The caller gets what the proxy answered: the destination's response, or the failure's error; and how long the
    # proxy took in all: the destination's time, if it was called, and the proxy's own few milliseconds (derived,
    # not drawn: the run's later draws, and so its later events, stay as they were).
    own = 3 + int(derived_fraction("proxy-elapsed", proxy["id"], status, error is None) * 37)
    elapsed = own + (destination["response"]["elapsed_ms"] if destination is not None else 0)
    response: dict[str, Any] = {"error": error} if error is not None else {}
    response |= {"elapsed_ms": elapsed, "status": status}
    data: dict[str, Any] = {"proxy": {"id": proxy["id"], "name": proxy["name"], "response": response}}
    data["proxy"]["type"] = proxy["type"]
    if destination is not None:
        data["destination"] = destination
    if outcome in ("request_transform", "response_transform"):
        data[outcome] = {"response": {"error": copy(error)}}
    if destination is not None:
        data.update(_deprecated(destination))
    # Nobody authenticated: no actor to name.
    actor = None if outcome == "unauthenticated" else app_actor(ctx, "private")
    return wrap(ctx, "proxy.invoked", data, actor)


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


def _invocation(ctx: BuildContext, reactor: Entity, fresh: bool, etype: str) -> Entity:
    """The reactor's open invocation; `fresh` (or none open) starts one, sync or async."""
    found = reactor.get("_invocation")
    if fresh or found is None:
        is_async = ctx.rng.random() < 0.35
        found = {
            "id": uid(ctx, "reactor_request") if is_async else None,
            "async": is_async,
            "trace_id": uid(ctx, f"trace:{etype}"),  # the trace of the request `etype` reports
            "actor": app_actor(ctx, "private"),
            "_started": ctx.now.timestamp() if etype == "reactor.invoked" else None,
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
    invocation = _invocation(ctx, reactor, True, "reactor.invoked")
    return wrap(ctx, "reactor.invoked", _reactor_data(reactor, invocation), invocation["actor"], invocation["trace_id"])


@PROVIDER.event("reactor.completed", "Reactor Completed: a reactor invocation finished successfully")
def reactor_completed(ctx: BuildContext) -> dict[str, Any]:
    reactor = _reactor(ctx)
    invocation = _invocation(ctx, reactor, False, "reactor.completed")
    reactor.pop("_invocation")
    data = _reactor_data(reactor, invocation)
    ran = _ran_ms(ctx, invocation)
    drawn = ctx.rng.randint(150, 120_000) if invocation["async"] else ctx.rng.randint(35, 2500)
    data["elapsed_ms"] = drawn if ran is None else ran
    return wrap(ctx, "reactor.completed", data, _finisher(ctx, invocation), invocation["trace_id"])


@PROVIDER.event("reactor.failed", "Reactor Failed: a reactor invocation raised an error or timed out")
def reactor_failed(ctx: BuildContext) -> dict[str, Any]:
    rng = ctx.rng
    reactor = _reactor(ctx)
    invocation = _invocation(ctx, reactor, False, "reactor.failed")
    reactor.pop("_invocation")
    data = _reactor_data(reactor, invocation)
    ran = _ran_ms(ctx, invocation)
    if ran is None:  # no reactor.invoked before it: the failure's length is drawn
        timed_out = invocation["async"] and rng.random() < 0.4
        ran = ASYNC_TIMEOUT_MS + rng.randint(0, 900) if timed_out else rng.randint(20, 3000)
    if invocation["async"] and ran >= ASYNC_TIMEOUT_MS:
        data["error"] = "Reactor invocation timed out after 5 minutes"
    else:
        # An error the reactor's code hit; its own HTTP call timing out only once it has run that long.
        errors = REACTOR_ERRORS if ran >= _AXIOS_TIMEOUT_MS else _QUICK_ERRORS
        data["error"] = v.pick(rng, errors)
    data["elapsed_ms"] = ran
    return wrap(ctx, "reactor.failed", data, _finisher(ctx, invocation), invocation["trace_id"])


def _ran_ms(ctx: BuildContext, invocation: Entity) -> int | None:
    """How long the invocation ran, from its reactor.invoked to now, less the moments before the report
    went out; None when no reactor.invoked of this run started it."""
    started = invocation.get("_started")
    if started is None:
        return None
    gap = int((ctx.now.timestamp() - started) * 1000)
    return max(1, gap - ctx.rng.randint(1, min(40, max(1, gap // 10))))
