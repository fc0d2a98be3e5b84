"""The control API as a Starlette application: the route table, the middleware, the error handlers, and the
lifespan that starts the schedules (and, for the server, opens and closes the simulator)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from simulator import signing
from simulator.api import (
    dashboard,
    openapi,
    routes_catalog,
    routes_deliveries,
    routes_events,
    routes_misc,
    routes_runs,
    routes_schedules,
    routes_stream,
    routes_subscriptions,
    twins,
)
from simulator.api.endpoints import Api, Endpoint, routes
from simulator.api.middleware import BearerAuth, BodyLimit, NoNul, RequestContext, SameSite
from simulator.api.problem import http_exception, sim_error
from simulator.core import syncfy
from simulator.core.schedules import Schedules
from simulator.core.simulator import Simulator
from simulator.errors import FieldError, SimError
from simulator.scenarios.model import Scenario
from simulator.store.leases import LEASE_TTL
from simulator.store.retention import keep

log = logging.getLogger("webhook_sim.api")

MAX_BODY = 1_048_576
ENDPOINTS: list[Endpoint] = [
    *routes_misc.ENDPOINTS,
    *routes_events.ENDPOINTS,
    *routes_catalog.ENDPOINTS,
    *routes_runs.ENDPOINTS,
    *routes_subscriptions.ENDPOINTS,
    *routes_deliveries.ENDPOINTS,
    *routes_schedules.ENDPOINTS,
    *routes_stream.ENDPOINTS,
]
PUBLIC_PATHS = frozenset(ep.path for ep in ENDPOINTS if ep.public)

SimulatorScope = Callable[[], AbstractAsyncContextManager[Simulator]]


def create_app(sim: Simulator, *, token: str | None = None, max_body: int = MAX_BODY) -> Starlette:
    """The control API over an open simulator. The app runs the schedules; the caller closes `sim`."""

    @asynccontextmanager
    async def borrowed() -> AsyncIterator[Simulator]:
        yield sim

    return build_app(borrowed, token=token, max_body=max_body)


def server_app(
    db: str | None,
    *,
    scenario_dirs: Sequence[Path] = (),
    key: signing.SigningKey | None = None,
    token: str | None = None,
    max_body: int = MAX_BODY,
    grace: float = 10.0,
    provider_key: str | None = None,
    sends: bool = True,
    lease_ttl: float = LEASE_TTL,
    loopback: bool = True,
    allowed_hosts: Sequence[str] = (),
    retention: float | None = None,
) -> Starlette:
    """The control API owning its simulator: opened at startup on `db`, closed at shutdown, letting in-flight
    attempts finish for up to `grace` seconds (pending deliveries stay in the store for the next start).
    `provider_key`: the only key the provider API twins accept (None: any non-empty key). `loopback`: the server
    listens on a loopback address only, so it answers only a Host that names one, or one of `allowed_hosts`
    (see `SameSite`). `retention`: seconds after which ended deliveries are deleted (see `store.retention`).
    """

    @asynccontextmanager
    async def owned() -> AsyncIterator[Simulator]:
        sim = await Simulator.open(
            db, scenario_dirs=scenario_dirs, key=key, sends=sends, lease_ttl=lease_ttl, claims=sends
        )
        sim.provider_key = provider_key
        pruning = asyncio.create_task(keep(sim.store, retention, sim.redelivering)) if retention is not None else None
        try:
            yield sim
        finally:
            if pruning is not None:
                pruning.cancel()
                await asyncio.gather(pruning, return_exceptions=True)
            await sim.close(grace=grace)

    return build_app(owned, token=token, max_body=max_body, owns=True, loopback=loopback, allowed_hosts=allowed_hosts)


def build_app(
    simulator: SimulatorScope,
    *,
    token: str | None = None,
    max_body: int = MAX_BODY,
    owns: bool = False,
    loopback: bool = True,
    allowed_hosts: Sequence[str] = (),
) -> Starlette:
    """The application; `simulator()` is entered at startup and left at shutdown. When the app `owns` the
    simulator, shutting down first stops it accepting runs. `loopback`, `allowed_hosts`: see `server_app`."""

    def describe(scenarios: Mapping[str, Scenario]) -> dict[str, Any]:
        return openapi.document(ENDPOINTS, secured=token is not None, scenarios=scenarios)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with simulator() as sim:
            schedules = await Schedules.start(sim.store, sim.start_run, sim.validate_run)
            await syncfy.resume_unfinished(sim)
            # On a shared store another server's credential jobs are this one's to finish if that server stops.
            adopting = asyncio.create_task(syncfy.adopt_orphans(sim)) if sim.engine.leases is not None else None
            app.state.api = Api(sim, schedules, describe)
            # The scenarios read now, off the loop and without holding up start-up, so that the first dashboard to
            # list them is answered at once (kept on the state: what waits for that reading can see it end).
            reading = app.state.scenarios_read = asyncio.create_task(sim.scenarios())
            reading.add_done_callback(_tell_skipped)
            try:
                yield
            finally:
                await asyncio.gather(reading, return_exceptions=True)  # what it finds, or fails on, a request finds too
                if adopting is not None:
                    adopting.cancel()
                    await asyncio.gather(adopting, return_exceptions=True)
                if owns:
                    sim.accepting = False  # before the schedules stop, so a last firing starts nothing
                await schedules.close()

    app = Starlette(
        routes=[*routes(ENDPOINTS), *twins.mounts(), *dashboard.routes(token_required=token is not None)],
        middleware=[
            Middleware(RequestContext),
            # Before the token: a page of another site is refused whatever the token, twins' paths included.
            Middleware(SameSite, loopback=loopback, shaped=twins.refusal, allowed_hosts=allowed_hosts),
            Middleware(
                BearerAuth,
                token=token,
                public=PUBLIC_PATHS | dashboard.PUBLIC_PATHS,
                public_prefixes=twins.PREFIXES + dashboard.PUBLIC_PREFIXES,
            ),
            Middleware(BodyLimit, limit=max_body, shaped=twins.refusal),
            Middleware(NoNul, shaped=twins.refusal),
        ],
        exception_handlers={HTTPException: http_exception, SimError: sim_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # `/runs/` is an unknown route (404), not a redirect
    return app


def stopping(app: Starlette) -> None:
    """The server serving `app` begins to stop: its event streams end now (`runtime.Server`'s `before_stopping`)."""
    api = getattr(app.state, "api", None)
    if api is not None:
        api.stopping.set()


def _tell_skipped(reading: asyncio.Task[tuple[dict[str, Scenario], list[FieldError]]]) -> None:
    """Log each scenario file the start-up's reading skipped, and why: one with a mistake was otherwise only
    missing from the lists (`GET /scenarios` and the dashboard say why too)."""
    if reading.cancelled() or reading.exception() is not None:
        return  # a request reading them meets the same failure, and is answered it
    for problem in reading.result()[1]:
        log.warning("scenario file skipped: %s", problem)
