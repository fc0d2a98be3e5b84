"""The providers' own REST APIs, mounted beside the control API: `/syncfy/v1/…` and `/basistheory/…`.

They answer with the provider's auth, envelope, errors and pagination (never the control API's problem+json),
read the same world the emitter writes, and can start flows that emit events, as the real provider does.
"""

from __future__ import annotations

from starlette.routing import Mount

from simulator.api.twins import basistheory, syncfy

# Paths under these belong to a provider twin: the control API's bearer token does not apply there.
PREFIXES = ("/syncfy/", "/basistheory/")


def mounts() -> list[Mount]:
    # Routers, not Starlette apps: `request.app` stays the control API's app, whose state holds the simulator.
    return [Mount("/syncfy", routes=syncfy.routes()), Mount("/basistheory", routes=basistheory.routes())]
