"""Builders of Basis Theory's 48 event types, registered on import.

The builders live by concern: `events_vault` (tokens, token intents, 3DS sessions, account updater),
`events_platform` (tenant, invitations, members, applications and keys, sessions), `events_compute` (proxies,
reactors), `events_traffic` (`http.request`) and `events_wallet` (Google Pay™ resources); `_common` holds the
per-event wrapper, the run's tenant and its actors, `_values` the value tables.
"""

from simulator.providers.basistheory import events_compute, events_platform, events_traffic, events_vault, events_wallet

__all__ = ["events_compute", "events_platform", "events_traffic", "events_vault", "events_wallet"]
