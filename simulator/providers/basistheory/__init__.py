"""Basis Theory: tokenization / PCI vault events.

Envelope: `{"event": {"id", "type", "timestamp", "tenant_id", "trace_id", "data": {...}}, "delivered_at"}`,
one event per POST, serialised compact in the documents' field order; `BT-SIGNATURE` covers the body as Basis
Theory's sample verifier re-serialises it (`json-stable-stringify`), so only a re-serialising verifier passes, as
at Basis Theory (see `provider`).
"""

from simulator.providers.basistheory import events
from simulator.providers.basistheory.provider import PROVIDER

__all__ = ["PROVIDER", "events"]
