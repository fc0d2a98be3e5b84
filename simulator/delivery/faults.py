"""Fault injection."""

from __future__ import annotations

from simulator.delivery.hooks import FaultHooks


class FaultInjector(FaultHooks):
    pass
