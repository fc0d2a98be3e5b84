"""Syncfy (formerly Paybook Sync API) Webhooks V3: open-banking credential and document events.

Envelope: `{"events": [{"header": {...}, "payload": {...}}, ...], "rid": <uuid4>}`; one POST may carry several
events. Native signature: `request-signature`, an HS256 JWT (see `simulator.signing`).
"""

from simulator.providers.syncfy import events
from simulator.providers.syncfy.provider import PROVIDER

__all__ = ["PROVIDER", "events"]
