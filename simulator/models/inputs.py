"""Input models shared by the control API, the CLI and the Python API: what a caller may ask for.

Field names are part of the contract (DESIGN.md). pydantic validates them; `parse` turns its errors into the
simulator's `InvalidInput` with one `FieldError` per field.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from simulator.errors import FieldError, InvalidInput
from simulator.models.enums import SigningScheme as Scheme

M = TypeVar("M", bound=BaseModel)


def check_url(url: str) -> str:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    try:
        parts.port  # noqa: B018  (raises on a port outside 0-65535)
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    return url


# Every URL the simulator will POST to: absolute http(s), no spaces or control characters, a valid port.
Url = Annotated[str, Field(max_length=2048), AfterValidator(check_url)]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field name
_FRAMING = {"host", "content-length", "transfer-encoding", "connection"}


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Extra request headers: refused here, naming the header, rather than failing every attempt later."""
    if len(headers) > 50:
        raise ValueError("at most 50 headers")
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~)")
        if name.lower() in _FRAMING:
            raise ValueError(f"{name} is set by the sender for each request")
        if len(value) > 8192 or any(c in value for c in "\r\n\0"):
            raise ValueError(f"the value of {name} must be one line of at most 8192 characters")
        if not value.isascii() and not all(ord(c) < 256 for c in value):
            raise ValueError(f"the value of {name} must be Latin-1 text (HTTP/1.1 sends bytes)")
    return headers


Headers = Annotated[dict[str, str], AfterValidator(check_headers)]


class RetrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delays: list[float] = Field(description="Seconds before each retry (simulated time, before speed).")
    jitter: float = Field(0.2, ge=0, le=1)

    @field_validator("delays")
    @classmethod
    def _non_negative(cls, v: list[float]) -> list[float]:
        if any(d < 0 for d in v) or len(v) > 50:
            raise ValueError("delays must be at most 50 non-negative numbers")
        return v


class SubscriptionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url
    events: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Filters: exact types, aliases, `provider:*`, globs like `token.*`.",
    )
    signing: Scheme | None = Field(None, description="Default: each event's provider's native scheme.")
    secret: str | None = Field(None, max_length=512, description="Generated when not given; shown once.")
    headers: Headers = Field(default_factory=dict)
    timeout: float = Field(30.0, gt=0, le=600)
    retry: RetrySpec | None = None
    max_in_flight: int = Field(1, ge=1, le=1000)
    strict_order: bool = False
    batch: int = Field(1, ge=1, le=100, description="Syncfy: events per POST.")
    faults: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    disable_after: int = Field(
        5, ge=0, le=100000, description="Consecutive dead deliveries before disabling; 0 never disables."
    )


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def patch_of(model: type[BaseModel], name: str) -> type[BaseModel]:
    """A PATCH body for `model`: every field optional, with the same types and constraints. An absent field is
    left as it is; `null` is accepted only where the field itself may be null (`"events": null` is refused)."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        patched = copy.copy(info)
        patched.default, patched.default_factory = None, None
        patched.json_schema_extra = _without_default  # absent means "unchanged", not null
        fields[field_name] = (info.rebuild_annotation(), patched)
    return create_model(
        name, __config__=ConfigDict(extra="forbid"), __doc__=f"A change to a {model.__name__}.", **fields
    )


# Every field of a subscription, each one optional: the body of PATCH /subscriptions/{id}.
SubscriptionPatch = patch_of(SubscriptionSpec, "SubscriptionPatch")


class RunSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: str = Field(min_length=1, max_length=4096)
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Default: a random seed, reported.")
    speed: float = Field(1.0, ge=0, le=1e9, description="1 real time, 10 ten times faster, 0 no waiting.")
    start_time: datetime | None = Field(None, description="The simulated time of the first event.")
    subscriptions: list[str] | None = Field(None, description="Default: every matching subscription.")
    target: Url | None = Field(None, description="An ad-hoc URL instead of subscriptions.")
    signing: Scheme | None = Field(None, description="With `target`: the signing scheme.")
    secret: str | None = Field(None, max_length=512, description="With `target`: the secret.")
    faults: dict[str, Any] = Field(default_factory=dict)
    max_in_flight: int = Field(1, ge=1, le=1000, description="With `target`: concurrent requests.")


class EventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=200)
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted paths into the event.")
    subscriptions: list[str] | None = None
    target: Url | None = None
    seed: int | None = Field(None, ge=0, le=2**63 - 1)


class ScheduleSpec(RunSpec):
    cron: str | None = Field(None, max_length=200)
    interval: float | None = Field(None, ge=1, le=10**8)
    at: datetime | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleSpec:
        if sum(x is not None for x in (self.cron, self.interval, self.at)) != 1:
            raise ValueError("exactly one of cron, interval or at is required")
        return self


def parse(model: type[M], data: Any, *, strict: bool = False) -> M:
    """Validate `data` as `model`, raising InvalidInput naming every bad field.

    `strict` is for JSON bodies: `"5"` is not an integer and `false` is not 0 (query strings and CLI options,
    text by nature, are validated leniently).
    """
    try:
        if strict:
            return model.model_validate_json(json.dumps(data), strict=True)
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"]) for e in exc.errors()]
        raise InvalidInput(
            f"invalid {model.__name__.removesuffix('Spec').lower()}: " + "; ".join(str(e) for e in errors),
            errors=errors,
        ) from None
