"""The provider API twins on a port of their own, without the control API: what `webhook-sim run --api-port`
serves while its run lasts, so a consumer under test can call the provider back (`<url>/basistheory/…`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from simulator.api import twins
from simulator.api.app import MAX_BODY
from simulator.api.middleware import BodyLimit, NoNul, RequestContext, SameSite
from simulator.errors import SimError
from simulator.runtime import bind_tcp, is_loopback

if TYPE_CHECKING:
    from simulator.core.simulator import Simulator


@dataclass(frozen=True)
class TwinsState:
    """What the twins' handlers read from `request.app.state.api`: the simulator."""

    sim: Simulator


def twins_app(sim: Simulator, loopback: bool = True, allowed_hosts: Sequence[str] = ()) -> Starlette:
    """The twins' routes behind the guards `serve` puts before them: a page of another site may not drive them
    (a V1 webhook made cross-site would send the run's events anywhere), nor read them through a rebound name,
    a body is bounded, and a NUL in the path or the query is refused before a read looks for it (on PostgreSQL
    such a read answered 500)."""
    app = Starlette(
        routes=twins.mounts(),
        middleware=[
            Middleware(RequestContext),
            Middleware(SameSite, loopback=loopback, shaped=twins.refusal, allowed_hosts=allowed_hosts),
            Middleware(BodyLimit, limit=MAX_BODY, shaped=twins.refusal),
            Middleware(NoNul, shaped=twins.refusal),
        ],
    )
    app.state.api = TwinsState(sim)
    return app


@asynccontextmanager
async def serving(
    sim: Simulator, port: int, host: str = "127.0.0.1", allowed_hosts: Sequence[str] = ()
) -> AsyncIterator[str]:
    """Serve the twins over `sim` on `host:port` (0: any free port) for the block; yields the base URL. On
    loopback they answer only local names, IP addresses and `allowed_hosts` as Host (see `SameSite`)."""
    try:
        sock = bind_tcp(host, port)
    except OSError as exc:
        raise SimError(f"cannot serve the provider API twins on {host}:{port}: {exc.strerror or exc}") from None
    config = uvicorn.Config(
        twins_app(sim, is_loopback(host), allowed_hosts),
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task  # it could not start: say why
                raise RuntimeError("the provider API twins stopped before serving")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
