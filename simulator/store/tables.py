"""The store's tables (SQLAlchemy Core). JSON columns hold text written by the store itself."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

# Counts and positions that grow with the store's life (creation order, a run's events, row numbers, Unix
# seconds) are 64-bit: PostgreSQL's `integer` is 32-bit, and a shared store at 10,000 deliveries a second passes
# 2**31 of them in under three days (SQLite's integers are 64-bit whatever the column says). A row number keeps
# SQLite's `INTEGER PRIMARY KEY`, the rowid itself: `BIGINT PRIMARY KEY` there is a column of its own that
# numbers nothing.
ROW_NUMBER = BigInteger().with_variant(Integer(), "sqlite")

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
    # On a shared (PostgreSQL) store: the process that sends this subscription's deliveries, and until when its
    # lease holds unless renewed (see simulator.store.leases).
    Column("lease_owner", String),
    Column("lease_until", Float),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String, primary_key=True),
    Column("scenario", String, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: params, seed, speed, start_time, target, faults…
    Column("status", String, nullable=False),
    Column("events", BigInteger, nullable=False, default=0),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("owner", String),  # the process playing it (a run outlives only a dead owner as "interrupted")
    # Of a run another process plays: its progress as JSON (events so far, next event, end, planned count), and
    # when a cancel was asked of it (the player stops it at its next look).
    Column("progress", Text),
    Column("cancel_at", Float),
)

events = Table(
    "events",
    metadata,
    Column("key", String, primary_key=True),  # "<run id>/<seq>"
    Column("id", String, nullable=False),  # the provider's event id (eid / event.id)
    Column("run_id", String),
    Column("seq", BigInteger, nullable=False),
    Column("provider", String, nullable=False),
    Column("type", String, nullable=False),
    Column("occurred_at", String, nullable=False),
    Column("envelope_id", String),
    Column("body", Text, nullable=False),
    # The type of the later event of its run that ends what this one began, when the run planned one
    # (`Event.ends_with`): a documents job's outcome, which the Syncfy twin shows from `documents.completed` on.
    Column("ends_with", String),
    # PostgreSQL: the order rows were written in, from a sequence (SQLite has it as its rowid, and leaves this
    # empty). The Basis Theory twin folds events in this order.
    Column("ord", BigInteger),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String, primary_key=True),  # the message id: webhook-id, constant across retries
    Column("n", BigInteger, nullable=False),  # global creation order
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
    # The process holding it back (an open Syncfy batch, a `reorder` or `burst` fault): no lane may send it yet.
    Column("held_by", String),
    # Its place in GET /deliveries, given when it is made and never changed: `n`, the order its subscription's
    # lane sends in, moves when a Syncfy batch closes or a held delivery is let go, and a list walked by `n` missed
    # such a delivery, or showed it twice.
    Column("listed", BigInteger),
    # The types of its events, each between spaces, when they are more than one type (a Syncfy batch): `type` is
    # its first event's, and `?type=` matches any of them.
    Column("types", Text),
    Index("ix_deliveries_sub_status_n", "subscription_id", "status", "n"),
    # A run's deliveries, and their count by status from the index alone: every GET /runs counts them, and at a
    # million deliveries reading each row for its status took a second.
    Index("ix_deliveries_run_status", "run_id", "status"),
    Index("ix_deliveries_n", "n"),  # the next position to give, at a million deliveries
    Index("ix_deliveries_listed", "listed"),  # newest first, a page at a time, at a million deliveries
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("delivery_id", String, nullable=False),
    Column("number", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("response", Text),  # the answer's body, up to the sender's bound (64 KiB): see response_encoding
    # NULL: `response` is the body as UTF-8 text; "base64": the body was not UTF-8 and `response` is its base64.
    Column("response_encoding", String),
    Column("delivered_at", String),
    Column("faults", Text),
    # What went out. The body is null when it was the provider's envelope as rendered: the events table holds
    # the events once, and the envelope is re-rendered on reading. A body a fault changed is kept (compressed).
    Column("request_url", Text),
    Column("request_headers", Text),  # JSON object, in the order sent
    Column("request_body", LargeBinary),  # see codec.pack
    Column("response_headers", Text),  # JSON object
    Index("ix_attempts_delivery", "delivery_id"),
)

# The processes sharing a store, each beating while it lives; a process whose beat stops loses its leases and
# what it held back (simulator.store.leases).
processes = Table(
    "processes",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),  # serve, run or worker
    Column("sends", Boolean, nullable=False),  # takes subscriptions' leases
    Column("host", String, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("ttl", Float, nullable=False),  # its own lease length: it counts as stopped that long after its beat
    # The SHA-256 of the public key it signs Basis Theory webhooks with and publishes (see `Leases.register`).
    Column("signing", String),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

# --- the Basis Theory API twin ------------------------------------------------------------------------------
# Its objects: what events announced (folded in from `events`, in insertion order) and what its API created.

bt_objects = Table(
    "bt_objects",
    metadata,
    Column("kind", String, primary_key=True),  # token, token_intent, 3ds_session, application, reactor, proxy
    Column("id", String, primary_key=True),
    Column("n", BigInteger, nullable=False),  # creation order: list pages and their cursors
    Column("tenant_id", String),
    Column("state", String, nullable=False),  # live | deleted | expired | converted
    Column("body", Text, nullable=False),  # JSON: the REST object as it stands
    # Its `created_at` in Unix microseconds (0 for none): lists are newest first by it, as Basis Theory's are.
    Column("created", BigInteger),
    Index("ix_bt_objects_kind_n", "kind", "n"),
    Index("ix_bt_objects_n", "n"),
    Index("ix_bt_objects_listed", "kind", "state", "created", "n"),
)

# How far the fold has read `events`: the SQLite rowid of the last event read, and that event's key (a reset or
# a VACUUM shows as a key that is no longer at that rowid).
bt_projection = Table(
    "bt_projection",
    metadata,
    Column("name", String, primary_key=True),
    Column("event_rowid", BigInteger, nullable=False),
    Column("event_key", String, nullable=False),
)

# The twin's webhooks: each is a subscription (url, events, status live there) plus these fields.
bt_webhooks = Table(
    "bt_webhooks",
    metadata,
    Column("id", String, primary_key=True),
    Column("subscription_id", String, nullable=False, unique=True),
    Column("tenant_id", String, nullable=False),
    Column("name", Text, nullable=False),
    Column("notify_email", Text),
    Column("created_by", String, nullable=False),
    Column("created_at", String, nullable=False),
    Column("modified_by", String),
    Column("modified_at", String),
)

# --- the Syncfy API twin -----------------------------------------------------------------------------------
# Its state is derived from the stored Syncfy events (this index names each one's credential, user, job and
# documents notification) plus what its own API created: users, sessions, webhooks and credentials.

syncfy_index = Table(
    "syncfy_index",
    metadata,
    Column("n", ROW_NUMBER, primary_key=True, autoincrement=True),  # indexing order: the order events happened in
    Column("event_key", String, nullable=False, unique=True),  # events.key
    Column("type", String, nullable=False),
    Column("at", Float, nullable=False),  # the event's time, Unix seconds
    Column("id_user", String),
    Column("id_credential", String),
    Column("id_job", String),
    Column("id_job_webhook", String),  # documents events: the id their endpoint names
    Column("tag", String),  # refresh events: the ten hex digits their rows' ObjectIds carry
    Column("id_site", String),
    Column("id_site_organization", String),
    Column("id_site_organization_type", String),
    Index("ix_syncfy_index_credential", "id_credential", "at"),
    Index("ix_syncfy_index_user", "id_user"),
    Index("ix_syncfy_index_job", "id_job"),
    Index("ix_syncfy_index_webhook", "id_job_webhook"),
    Index("ix_syncfy_index_tag", "tag"),
)

syncfy_users = Table(
    "syncfy_users",
    metadata,
    Column("id_user", String, primary_key=True),
    Column("id_external", Text),
    Column("name", Text),
    Column("dt_create", BigInteger, nullable=False),
    Column("dt_modify", BigInteger),
    Column("deleted", Boolean, nullable=False, default=False),
)

syncfy_sessions = Table(
    "syncfy_sessions",
    metadata,
    Column("token", String, primary_key=True),
    Column("id_user", String, nullable=False),
    Column("last_used", Float, nullable=False),  # sessions expire after 5 minutes without use
)

# A V1 webhook is a subscription (url, events, status, secret live there) plus these fields.
syncfy_webhooks = Table(
    "syncfy_webhooks",
    metadata,
    Column("id_webhook", String, primary_key=True),
    Column("subscription_id", String, nullable=False, unique=True),
    Column("id_user", String),
    Column("events", Text, nullable=False),  # JSON list of the names as given
    Column("delay", Integer, nullable=False),
    Column("dt_created", BigInteger, nullable=False),
    Column("dt_modified", BigInteger),
)

# Credentials the API registered (their lifecycle's progress) or deleted (any credential).
syncfy_credentials = Table(
    "syncfy_credentials",
    metadata,
    Column("id_credential", String, primary_key=True),
    Column("id_user", String, nullable=False),
    Column("username", Text),  # masked
    Column("step", String),  # the lifecycle's next step; null when done or not played by the twin
    Column("flow", Text),  # JSON: the world entities the lifecycle's events are built from
    Column("dt_disable", BigInteger),
    # The process playing the lifecycle, on a shared store: another takes it over once that one's beat stops.
    Column("player", String),
)
