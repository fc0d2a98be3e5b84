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
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)

from simulator.errors import FieldError, InvalidInput
from simulator.models import formats
from simulator.models.enums import SigningScheme as Scheme
from simulator.models.faults import Faults
from simulator.models.target_rules import (
    TARGET_ALONE,
    check_secret,
    check_target_alone,
    secret_rules,
    targeted_only,
)

M = TypeVar("M", bound=BaseModel)
# Models refuse NaN and infinities in every float field (JSON cannot carry them; `1e309` parses as one).
_FINITE = ConfigDict(extra="forbid", allow_inf_nan=False)
MAX_RETRY_DELAY = 7 * 24 * 3600.0  # a week: further apart, retries stop being a test of anything
MAX_IDS = 1000


def matching(pattern: str, expected: str) -> AfterValidator:
    """A check that the whole text matches `pattern` (a `simulator.models.formats` expression), refusing it as
    `expected` says, rather than quoting a regular expression at the caller."""
    compiled = re.compile(pattern)

    def check(text: str) -> str:
        if not compiled.fullmatch(text):
            raise ValueError(f"expected {expected}")
        return text

    return AfterValidator(check)


def check_url(url: str) -> str:
    """What the sender needs of a URL, beyond its syntax (`formats.URL`, which implies all of it)."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("must not contain spaces or control characters")
    if not url.isascii():
        # What RFC 3986 and the document's pattern say. A host not in ASCII was looked up as it was given (and
        # `٣٠٠٠`, Arabic-Indic digits, read as a host name, not as port 3000): never the server meant.
        raise ValueError("must be ASCII: percent-encode other characters, and give a host name in its xn-- form")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    try:
        parts.port  # noqa: B018  (raises on a port outside 0-65535)
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    return url


# Every URL the simulator will POST to: absolute http(s) in RFC 3986 syntax (ASCII, other characters
# percent-encoded), a host, an optional port from 1 to 65535. The pattern states all of it, so the document
# leaves out `format: uri`, which would only repeat it (and makes schemathesis' coverage phase draw each
# boundary value through both, about 45 s more per URL field).
Url = Annotated[
    str,
    Field(
        json_schema_extra={
            "pattern": formats.URL,
            "description": "An absolute http:// or https:// URL (RFC 3986 syntax, ASCII; port 1-65535).",
        },
    ),
    matching(formats.URL, "an absolute http:// or https:// URL (RFC 3986: ASCII, a host, a port from 1 to 65535)"),
    AfterValidator(check_url),
]

ScenarioName = Annotated[
    str,
    Field(min_length=1, max_length=formats.SCENARIO_NAME_MAX, json_schema_extra={"pattern": formats.SCENARIO_NAME}),
    matching(
        formats.SCENARIO_NAME,
        "a scenario name: lowercase letters, digits and single hyphens (a scenario in the server's folders)",
    ),
]

# An id of a record (subscription, run…): an unknown one is a 404, not a malformed request.
RecordId = Annotated[str, Field(min_length=1, max_length=200)]


def _moment(value: Any) -> Any:
    """A time the caller names: RFC 3339 text (`formats.DATE_TIME`, from 1970 to 2200), or a datetime in that
    range from Python callers."""
    if isinstance(value, str):
        if not re.fullmatch(formats.DATE_TIME, value):
            raise ValueError(
                f"expected an RFC 3339 time from {formats.FIRST_YEAR} to {formats.LAST_YEAR} with its offset, "
                "such as 2025-03-14T15:09:26Z"
            )
        return datetime.fromisoformat(value)  # parsed here: strict validation takes no text after a validator
    if isinstance(value, datetime):
        if not formats.FIRST_YEAR <= value.year <= formats.LAST_YEAR:
            raise ValueError(f"expected a time from {formats.FIRST_YEAR} to {formats.LAST_YEAR}")
    else:
        raise ValueError("expected an RFC 3339 time such as 2025-03-14T15:09:26Z")
    return value


Moment = Annotated[
    datetime,
    BeforeValidator(_moment),
    # An RFC 3339 date-time, which the pattern states (with the years it allows): see `Url` on `format`.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": formats.DATE_TIME,
            "description": "An RFC 3339 date-time from 1970 to 2200, with its offset: 2025-03-14T15:09:26Z.",
        }
    ),
]


class TimeWindow(BaseModel):
    """Records made at or after `since` and before `until` (each optional): a query's filter, or a body.

    An `until` not later than `since` holds nothing, and is answered so rather than refused: no schema can compare
    two fields, and the document states every refusal (a request it allows is never refused for its form)."""

    model_config = ConfigDict(extra="forbid")
    since: Moment | None = Field(None, description="Only those made at or after this time.")
    until: Moment | None = Field(None, description="Only those made before this time.")


class RedeliverWindow(TimeWindow):
    """The body of POST /subscriptions/{id}/redeliver: which dead deliveries, by when they were made (none or
    `{}`: every one)."""


def _speed(value: float) -> float:
    if 0 < value < MIN_SPEED:
        raise ValueError(f"expected 0 (no waiting) or a speed from {MIN_SPEED:g} to {MAX_SPEED:g}")
    return value


MIN_SPEED, MAX_SPEED = 0.001, 1e9
# 0: no waiting; else simulated seconds per real second. Slower than 1/1000 a run's waits would outlast the
# times the store can show.
Speed = Annotated[
    float,
    Field(ge=0, le=MAX_SPEED),
    AfterValidator(_speed),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "const": 0}, {"type": "number", "minimum": MIN_SPEED, "maximum": MAX_SPEED}],
            "description": "1 real time, 10 ten times faster, 0 no waiting.",
        }
    ),
]

_HEADER_NAME = re.compile(formats.HEADER_NAME)
_FRAMING = set(formats.FRAMING_HEADERS)
_SIGNATURE = set(formats.SIGNATURE_HEADERS)


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Extra request headers: refused here, naming the header, rather than failing every attempt later."""
    if len(headers) > formats.MAX_HEADERS:
        raise ValueError(f"at most {formats.MAX_HEADERS} headers")
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~)")
        if name.lower() in _FRAMING:
            raise ValueError(f"{name} is set by the sender for each request")
        if name.lower() in _SIGNATURE:
            raise ValueError(f"{name} is a signature header, set for each attempt by the signing scheme")
        if not re.fullmatch(formats.HEADER_VALUE, value):
            raise ValueError(
                f"the value of {name} must be one line of at most {formats.HEADER_VALUE_MAX} characters: "
                "visible Latin-1 text, spaces and tabs"
            )
    return headers


Headers = Annotated[
    dict[str, str],
    AfterValidator(check_headers),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": formats.MAX_HEADERS,
            "propertyNames": {"pattern": formats.HEADER_NAME, "not": {"pattern": formats.FRAMING_HEADER}},
            "additionalProperties": {
                "type": "string",
                "pattern": formats.HEADER_VALUE,
            },
            "description": "Sent with every request. Not Host, Content-Length, Transfer-Encoding or Connection.",
        }
    ),
]

Secret = Annotated[str, Field(max_length=formats.SECRET_MAX)]


class RetrySpec(BaseModel):
    model_config = _FINITE
    delays: list[Annotated[float, Field(ge=0, le=MAX_RETRY_DELAY)]] = Field(
        max_length=50, description="Seconds before each retry (simulated time, before speed); at most a week each."
    )
    jitter: float = Field(0.2, ge=0, le=1)


class SubscriptionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"allOf": [secret_rules()]})
    url: Url
    events: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=200,
        description="Filters: exact types, aliases, `provider:*`, globs like `token.*`. Empty (the default): "
        "every event of both providers.",
    )
    signing: Scheme | None = Field(None, description="Default: each event's provider's native scheme.")
    secret: Secret | None = Field(
        None,
        description="Generated when not given; shown once. Syncfy (and the default): base64; standard: "
        "whsec_<base64>; basistheory and none take none.",
    )
    headers: Headers = Field(default_factory=dict)
    timeout: float = Field(30.0, gt=0, le=600)
    retry: RetrySpec | None = None
    max_in_flight: int = Field(1, ge=1, le=1000)
    strict_order: bool = False
    batch: int = Field(
        1,
        ge=1,
        le=100,
        description=(
            "Syncfy: events per POST. A run's batch goes once full, or when the run waits or ends; events sent "
            "outside a run (POST /events, the API twin's jobs) are collected for at most 1 s."
        ),
    )
    faults: Faults = Field(default_factory=dict)
    enabled: bool = True
    disable_after: int = Field(
        5, ge=0, le=100000, description="Consecutive dead deliveries before disabling; 0 never disables."
    )

    @model_validator(mode="after")
    def _secret_fits_scheme(self) -> SubscriptionSpec:
        check_secret(self.signing, self.secret)
        return self


def _without_default(extra: Any) -> Any:
    """A field's `json_schema_extra` that also drops the default: in a PATCH, absent means "unchanged"."""

    def update(schema: dict[str, Any]) -> None:
        if isinstance(extra, dict):
            schema.update(extra)
        elif callable(extra):
            extra(schema)
        schema.pop("default", None)

    return update


def patch_of(model: type[BaseModel], name: str) -> type[BaseModel]:
    """A PATCH body for `model`: every field optional, with the same types and constraints. An absent field is
    left as it is; `null` is accepted only where the field itself may be null (`"events": null` is refused)."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        patched = copy.copy(info)
        patched.default, patched.default_factory = None, None
        patched.json_schema_extra = _without_default(info.json_schema_extra)
        fields[field_name] = (info.rebuild_annotation(), patched)
    return create_model(
        name,
        __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
        __doc__=f"A change to a {model.__name__}.",
        **fields,
    )


def _patch_secret_rules(schema: dict[str, Any]) -> None:
    """A PATCH may send a secret alone (the stored scheme decides: 409 when it does not fit), or with a
    scheme it must fit."""
    rules = secret_rules()["anyOf"]
    schema["allOf"] = [
        {"anyOf": [{"not": {"required": ["signing"]}}, {**rules[0], "required": ["signing"]}, *rules[1:]]}
    ]
    schema["description"] = (
        "Only the fields given change; an empty body (or `{}`) changes nothing. `secret: null` makes a new secret."
    )


class SubscriptionPatch(patch_of(SubscriptionSpec, "SubscriptionChange")):  # type: ignore[misc]
    """Every field of a subscription, each one optional: the body of PATCH /subscriptions/{id}."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra=_patch_secret_rules)

    @model_validator(mode="after")
    def _secret_fits_scheme(self) -> SubscriptionPatch:
        if "signing" in self.model_fields_set and "secret" in self.model_fields_set:
            check_secret(self.signing, self.secret)
        return self


RUN_TARGET_FIELDS = ("signing", "secret", "max_in_flight")
EVENT_TARGET_FIELDS = ("signing", "secret", "retry")


class RunSpec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"allOf": [secret_rules(), TARGET_ALONE, targeted_only(RUN_TARGET_FIELDS)]},
    )
    scenario: ScenarioName
    params: dict[str, Any] = Field(default_factory=dict, description="The scenario's parameters.")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Default: a random seed, reported.")
    speed: Speed = 1.0
    start_time: Moment | None = Field(
        None, description="The simulated time of the first event (default: now); from 1970 to 2200."
    )
    subscriptions: list[RecordId] | None = Field(
        None, max_length=MAX_IDS, description="Default: every matching subscription."
    )
    target: Url | None = Field(None, description="An ad-hoc URL instead of subscriptions.")
    signing: Scheme | None = Field(None, description="With `target`: the signing scheme.")
    secret: Secret | None = Field(None, description="With `target`: the secret (the same forms as a subscription's).")
    faults: Faults = Field(default_factory=dict)
    max_in_flight: int = Field(1, ge=1, le=1000, description="With `target`: concurrent requests.")

    @model_validator(mode="after")
    def _secret_fits_scheme(self) -> RunSpec:
        check_target_alone(self, RUN_TARGET_FIELDS)
        check_secret(self.signing, self.secret)
        return self


OverridePath = Annotated[
    str,
    Field(json_schema_extra={"pattern": formats.OVERRIDE_PATH}),
    matching(formats.OVERRIDE_PATH, formats.OVERRIDE_PATH_SAYS),
]


class EventSpec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"allOf": [secret_rules(), TARGET_ALONE, targeted_only(EVENT_TARGET_FIELDS)]},
    )
    type: str = Field(min_length=1, max_length=200)
    overrides: dict[OverridePath, Any] = Field(
        default_factory=dict, max_length=100, description="Dotted paths into the event."
    )
    subscriptions: list[RecordId] | None = Field(
        None, max_length=MAX_IDS, description="Default: every matching subscription."
    )
    target: Url | None = Field(None, description="An ad-hoc URL instead of subscriptions.")
    signing: Scheme | None = Field(None, description="With `target`: the signing scheme (default: the provider's).")
    secret: Secret | None = Field(
        None,
        description="With `target`: the secret its deliveries are signed with, so the receiver can verify them "
        "(default: one generated for the target, which no answer shows).",
    )
    retry: RetrySpec | None = Field(
        None, description="With `target`: how its delivery is retried (default: as a subscription's default)."
    )
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _secret_fits_scheme(self) -> EventSpec:
        check_target_alone(self, EVENT_TARGET_FIELDS)
        check_secret(self.signing, self.secret)
        return self


Cron = Annotated[
    str,
    Field(json_schema_extra={"pattern": formats.CRON, "not": {"pattern": formats.CRON_NEVER}}),
    matching(
        formats.CRON,
        "a 5-field crontab expression (minute hour day month weekday, single spaces; `*`, numbers, a-b "
        "ranges, lists and */n steps)",
    ),
]


def _schedule_rules(schema: dict[str, Any]) -> None:
    """A run's secret rules, and exactly one trigger that is not null."""
    triggers = [
        {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in ("cron", "interval", "at")
    ]
    schema["allOf"] = [secret_rules(), TARGET_ALONE, targeted_only(RUN_TARGET_FIELDS), {"oneOf": triggers}]


class ScheduleSpec(RunSpec):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra=_schedule_rules)
    cron: Cron | None = Field(
        None, description="Crontab, UTC: minute hour day month weekday (0 and 7 are Sunday). It must fire some day."
    )
    interval: float | None = Field(None, ge=1, le=10**8, description="Seconds between runs.")
    at: Moment | None = Field(None, description="Once, at this time (a time already past fires at once).")

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleSpec:
        given = [name for name in ("cron", "interval", "at") if getattr(self, name) is not None]
        if len(given) != 1:
            message = "exactly one of cron, interval or at is required" + (
                f", not {' and '.join(given)}" if given else ""
            )
            # The errors name the fields (a client, or a test generator, learns nothing from "body").
            raise InvalidInput(
                message, errors=[FieldError(name, message) for name in given or ("cron", "interval", "at")]
            )
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
        # A mapping's refused key is at `(…, key, "[key]")`: the field is the key's path. A validator's own
        # message comes without pydantic's "Value error, " before it, as the CLI's options say theirs.
        errors = [
            FieldError(".".join(str(p) for p in e["loc"] if p != "[key]") or "body", _message(e["msg"]))
            for e in exc.errors()
        ]
        raise InvalidInput(
            f"invalid {_words(model.__name__)}: " + "; ".join(str(e) for e in errors),
            errors=errors,
        ) from None


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def _words(name: str) -> str:
    """A model's name as a message says it: `DeliveriesQuery` is "deliveries query" (it read "deliveriesquery")."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.removesuffix("Spec")).lower()
