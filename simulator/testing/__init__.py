"""Test support: the in-process simulator behind the pytest plugin, and the receiving side's signature checks.

What it names lives in `simulator.testing.local` (see there) and is imported on first use: the pytest plugin,
`simulator.testing.plugin`, is loaded by every pytest run where the package is installed, and importing this
package with it imported the client, the catalog and the servers (about 700 modules, half a second) into test
runs that never use them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.testing.local import SIGNATURE_HEADERS as SIGNATURE_HEADERS
    from simulator.testing.local import AppServer as AppServer
    from simulator.testing.local import LocalSimulator as LocalSimulator
    from simulator.testing.local import RunHandle as RunHandle
    from simulator.testing.local import Verifier as Verifier
    from simulator.testing.local import WebhookSim as WebhookSim
    from simulator.testing.local import detect_scheme as detect_scheme
    from simulator.testing.local import make_verifier as make_verifier
    from simulator.testing.local import native_scheme as native_scheme
    from simulator.testing.local import serve_app as serve_app
    from simulator.testing.local import signing_secret as signing_secret
    from simulator.testing.local import verifier_for as verifier_for
    from simulator.testing.local import webhook_sim as webhook_sim

__all__ = [
    "SIGNATURE_HEADERS",
    "AppServer",
    "LocalSimulator",
    "RunHandle",
    "Verifier",
    "WebhookSim",
    "detect_scheme",
    "make_verifier",
    "native_scheme",
    "serve_app",
    "signing_secret",
    "verifier_for",
    "webhook_sim",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("simulator.testing.local"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
