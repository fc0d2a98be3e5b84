"""Every closed set of names, written once: the API's enums, the CLI's choices and the core's checks read these."""

from __future__ import annotations

from typing import Literal, get_args

SigningScheme = Literal["standard", "basistheory", "syncfy", "none"]
SIGNING_SCHEMES: tuple[str, ...] = get_args(SigningScheme)

DeliveryStatus = Literal["pending", "succeeded", "failed", "dead", "dropped"]
DELIVERY_STATUSES: tuple[str, ...] = get_args(DeliveryStatus)
FINAL_DELIVERY_STATUSES = ("succeeded", "dead", "dropped")  # the rest: sent again, or still to be

# What kind of failure an attempt met (`simulator.models.records.error_kind`).
ErrorKind = Literal[
    "http", "cut", "timeout", "tls", "refused", "dns", "protocol", "connection", "signing", "internal", "other"
]
ERROR_KINDS: tuple[str, ...] = get_args(ErrorKind)

RunStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
FINISHED_RUN_STATUSES = frozenset({"completed", "failed", "cancelled"})
LIVE_RUN_STATUSES = ("pending", "running")  # the rest: a run not started yet, or playing

SubscriptionStatus = Literal["enabled", "disabled"]
