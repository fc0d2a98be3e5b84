"""The built-in providers, one folder each. The catalog registers `BUILTIN` on first use."""

from simulator.providers.basistheory import PROVIDER as BASISTHEORY
from simulator.providers.syncfy import PROVIDER as SYNCFY

BUILTIN = (SYNCFY, BASISTHEORY)

__all__ = ["BASISTHEORY", "BUILTIN", "SYNCFY"]
