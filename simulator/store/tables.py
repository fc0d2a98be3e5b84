"""The store's tables (SQLAlchemy Core). JSON columns hold text written by the store itself."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String, primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # JSON list of filters
    Column("signing", String),  # null: each provider's native scheme
    Column("secret", Text),
    Column("headers", Text, nullable=False),  # JSON object
    Column("timeout", Float, nullable=False),
    Column("retry", Text),  # JSON RetryPolicy or null: the provider's default
    Column("max_in_flight", Integer, nullable=False),
    Column("strict_order", Boolean, nullable=False),
    Column("batch", Integer, nullable=False),
    Column("faults", Text, nullable=False),  # JSON object
    Column("status", String, nullable=False),
    Column("disable_after", Integer, nullable=False),
    Column("consecutive_dead", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("ephemeral", Boolean, nullable=False, default=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String, primary_key=True),
    Column("scenario", String, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: params, seed, speed, start_time, target, faults…
    Column("status", String, nullable=False),
    Column("events", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
)

events = Table(
    "events",
    metadata,
    Column("key", String, primary_key=True),  # "<run id>/<seq>"
    Column("id", String, nullable=False),  # the provider's event id (eid / event.id)
    Column("run_id", String),
    Column("seq", Integer, nullable=False),
    Column("provider", String, nullable=False),
    Column("type", String, nullable=False),
    Column("occurred_at", String, nullable=False),
    Column("envelope_id", String),
    Column("body", Text, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String, primary_key=True),  # the message id: webhook-id, constant across retries
    Column("n", Integer, nullable=False),  # global creation order
    Column("subscription_id", String, nullable=False),
    Column("run_id", String),
    Column("event_keys", Text, nullable=False),  # JSON list of events.key (several for a batch)
    Column("event_ids", Text, nullable=False),  # JSON list of the provider's event ids, same order
    Column("type", String, nullable=False),
    Column("envelope_id", String),
    Column("status", String, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("retries", Integer, nullable=False, default=0),  # failures since the last (re)delivery
    Column("sim_offset", Float, nullable=False, default=0.0),
    Column("speed", Float, nullable=False, default=1.0),
    Column("next_attempt_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("faults", Text),  # JSON: what was injected
    Index("ix_deliveries_sub_status_n", "subscription_id", "status", "n"),
    Index("ix_deliveries_run", "run_id"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String, nullable=False),
    Column("number", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("response", Text),
    Column("delivered_at", String),
    Column("faults", Text),
    Index("ix_attempts_delivery", "delivery_id"),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)
