"""Basis Theory: tokenization / PCI vault events.

Envelope: `{"event": {"id", "type", "timestamp", "tenant_id", "trace_id", "data": {...}}, "delivered_at"}`,
one event per POST, serialised compact with keys sorted recursively (what `BT-SIGNATURE` signs), so both
raw-body and re-serialising verifiers pass.
"""

from simulator.providers.basistheory import events
from simulator.providers.basistheory.provider import PROVIDER

__all__ = ["PROVIDER", "events"]
