"""The `faults` mapping as pydantic models, parsed into the frozen `FaultProfile` the fault injector reads.

`FaultsSpec` has one optional field per fault; each field takes the fault's short form (a probability, a
number or a duration) or its long form (a mapping), told apart by a callable discriminator, and `delay`'s long
form is itself a union tagged by the distribution's kind. The table of forms is in
`simulator.delivery.faults_spec`. Every value checker raises a `PydanticCustomError` whose message is the one a
person should read, and each model restates pydantic's generic errors (unknown or missing keys, a wrong type)
the same way, so one problem is one error at its own path: `duplicate.copies`, never `duplicate.long.copies`.

`Faults` is the type other models give their `faults` field: validated as a `FaultsSpec`, kept as the mapping
the caller wrote, so answers and the store show `{"drop": 0.1}` exactly as it was sent.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    Tag,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError, core_schema

from simulator.errors import FieldError, InvalidInput, did_you_mean, spelled
from simulator.models import formats
from simulator.models.fault_profile import DEFAULT_STALE_AGE, Duplicate, FaultProfile, Kinded, Stale
from simulator.scenarios import distributions
from simulator.scenarios.distributions import Distribution

FAULTS: tuple[str, ...] = (
    "drop",
    "duplicate",
    "reorder",
    "delay",
    "bad_signature",
    "stale_timestamp",
    "malformed",
    "schema_drift",
    "burst",
)
MALFORMED_KINDS: tuple[str, ...] = ("truncated", "content_type", "empty")
DRIFT_KINDS: tuple[str, ...] = ("add", "remove")
MAX_COPIES = 10
MAX_WINDOW = 1000
MAX_BURST = 10000
# Bounds that keep every draw a finite time the clock can reach: a fault's durations are at most a week (longer,
# a delivery is not late but lost, and `drop` says that), and a lognormal's sigma at most 10 (e^(10 × a normal
# draw) still fits a float; above, a draw overflows).
MAX_SECONDS = 7 * 24 * 3600.0
MAX_SIGMA = 10.0

# --- errors ----------------------------------------------------------------------------------------------------


def _problem(message: str) -> PydanticCustomError:
    # The message goes in as context: a `{` in it (`${param}`) must not be read as a placeholder.
    return PydanticCustomError("fault", "{message}", {"message": message})


Restate = Callable[[ErrorDetails, list[ErrorDetails]], "tuple[tuple[int | str, ...], str] | None"]


def _restated(exc: ValidationError, restate: Restate, data: Any) -> ValidationError:
    """`exc` with each error passed through `restate`: a new (path, message), or None to leave it out. Errors
    come in the order of the keys the caller wrote (pydantic's is the fields'), those about absent keys last."""
    found = exc.errors(include_url=False)
    order = {key: i for i, key in enumerate(data)} if isinstance(data, Mapping) else {}
    out: list[InitErrorDetails] = []
    for error in sorted(found, key=lambda e: order.get(e["loc"][0], len(order)) if e["loc"] else -1):
        again = restate(error, found)
        if again is not None:
            out.append({"type": _problem(again[1]), "loc": again[0], "input": error["input"]})
    return ValidationError.from_exception_data(exc.title, out)


class _Form(BaseModel):
    """A long form: only its own keys, and pydantic's generic errors said the way a person would."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _plain_errors(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            raise _restated(exc, cls._restate, data) from None

    @classmethod
    def _restate(cls, error: ErrorDetails, found: list[ErrorDetails]) -> tuple[tuple[int | str, ...], str] | None:
        loc, kind = error["loc"], error["type"]
        keys = tuple(cls.model_fields)
        if kind == "fault":
            return loc, error["msg"]
        if kind == "model_type" and not loc:
            return loc, f"expected a mapping, got {spelled(error['input'])}"
        if kind == "extra_forbidden" and len(loc) == 1:
            return loc, f"unknown key {loc[0]!r}{did_you_mean(loc[0], keys)}: expected {', '.join(keys)}"
        if kind == "missing" and len(loc) == 1:
            # A misspelt key is one problem: the unknown key says it, the missing one would repeat it.
            misspelt = {str(e["loc"][0]) for e in found if e["type"] == "extra_forbidden" and len(e["loc"]) == 1}
            if any(difflib.get_close_matches(m, keys, n=1) == [loc[0]] for m in misspelt):
                return None
            return loc, f"missing {loc[0]!r}"
        return loc, error["msg"]


# --- values ----------------------------------------------------------------------------------------------------


def _probability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _problem(f"expected a probability between 0 and 1, got {spelled(value)}")
    return float(value)


def _whole(low: int, high: int, what: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _problem(f"expected {what}: a whole number from {low} to {high}, got {spelled(value)}")
        return value

    return check


def _seconds(value: Any) -> float:
    # Faults are set before any run's parameters exist, so there is nothing a template could refer to.
    if isinstance(value, str) and "${" in value:
        raise _problem(f"{spelled(value)}: ${{param}} templates are not accepted in faults")
    try:
        seconds = distributions.to_seconds(value, {})
    except ValueError as exc:
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_SECONDS:
            seconds = math.inf  # past a float: too long, as a shorter one is, not "not a duration"
        else:
            raise _problem(str(exc)) from None
    if seconds > MAX_SECONDS:
        raise _problem(f"expected a duration of at most a week (7d), got {spelled(value)}")
    if isinstance(value, str) and not _DURATION_TEXT.fullmatch(value):  # what the document's pattern allows
        raise _problem(
            f"not a duration: {spelled(value)} (expected a number and a unit with no spaces, such as 500ms, 2s, 5m, 1h)"
        )
    return seconds


def _delay_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _problem(f"expected a duration or a distribution, got {spelled(value)}")
    return _seconds(value)


def _positive(value: Any) -> float:
    seconds = _seconds(value)
    if seconds <= 0:
        raise _problem("expected a duration greater than 0")
    return seconds


def _sigma(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_SIGMA:
        raise _problem(f"expected a number from 0 to {MAX_SIGMA:g}, got {spelled(value)}")
    return float(value)


def _pair(value: Any) -> tuple[Any, Any]:
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise _problem("expected two durations [low, high]")
    return value[0], value[1]


def _kind(kinds: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value != "any" and value not in kinds:
            raise _problem(f"expected one of {', '.join((*kinds, 'any'))}, got {spelled(value)}")
        return str(value)

    return check


_copies = _whole(1, MAX_COPIES, "a number of copies")
_window = _whole(2, MAX_WINDOW, "a window of events")
_burst_size = _whole(2, MAX_BURST, "a burst size")

_DURATION_TEXT = re.compile(formats.duration(int(MAX_SECONDS)))
_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
        {"type": "string", "pattern": formats.duration(int(MAX_SECONDS))},
    ],
    "description": "Seconds, or a duration such as `500ms`, `2s`, `5m`, `1h`; at most a week.",
}
_POSITIVE_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SECONDS},
        {"type": "string", "pattern": formats.duration(int(MAX_SECONDS), positive=True)},
    ],
    "description": "Seconds, or a duration such as `500ms`, `2s`, `5m`, `1h`; more than 0, at most a week.",
}
Probability = Annotated[float, Field(ge=0, le=1), BeforeValidator(_probability)]
Copies = Annotated[int, Field(ge=1, le=MAX_COPIES), BeforeValidator(_copies)]
Window = Annotated[int, Field(ge=2, le=MAX_WINDOW), BeforeValidator(_window)]
BurstSize = Annotated[int, Field(ge=2, le=MAX_BURST), BeforeValidator(_burst_size)]
Duration = Annotated[float, BeforeValidator(_seconds), WithJsonSchema(_DURATION_SCHEMA)]
DelayDuration = Annotated[float, BeforeValidator(_delay_seconds), WithJsonSchema(_DURATION_SCHEMA)]
Positive = Annotated[float, BeforeValidator(_positive), WithJsonSchema(_POSITIVE_SCHEMA)]
Sigma = Annotated[float, Field(ge=0, le=MAX_SIGMA), BeforeValidator(_sigma)]
MalformedKind = Annotated[Literal["truncated", "content_type", "empty", "any"], BeforeValidator(_kind(MALFORMED_KINDS))]
DriftKind = Annotated[Literal["add", "remove", "any"], BeforeValidator(_kind(DRIFT_KINDS))]


# --- long forms ------------------------------------------------------------------------------------------------


class _Fault(_Form):
    """A fault's long form: `setting` is what the profile holds for it."""

    def setting(self) -> Any:
        raise NotImplementedError


class ProbabilityForm(_Fault):
    """`drop` and `bad_signature` written out."""

    probability: Probability

    def setting(self) -> float:
        return self.probability


class DuplicateForm(_Fault):
    probability: Probability
    copies: Copies = Field(1, description="Copies sent after the original.")
    spacing: Duration = Field(1.0, description="Simulated time between copies.")

    def setting(self) -> Duplicate:
        return Duplicate(self.probability, self.copies, self.spacing)


class ReorderForm(_Fault):
    window: Window = Field(description="Deliveries shuffled together.")

    def setting(self) -> int:
        return self.window


class BurstForm(_Fault):
    size: BurstSize = Field(description="Deliveries held back, then let go at once.")

    def setting(self) -> int:
        return self.size


class StaleTimestampForm(_Fault):
    probability: Probability
    age: Positive = Field(DEFAULT_STALE_AGE, description="How old the signed timestamp is.")

    def setting(self) -> Stale:
        return Stale(self.probability, self.age)


class MalformedForm(_Fault):
    probability: Probability
    kind: MalformedKind = "any"

    def setting(self) -> Kinded:
        return Kinded(self.probability, MALFORMED_KINDS if self.kind == "any" else (self.kind,))


class SchemaDriftForm(_Fault):
    probability: Probability
    kind: DriftKind = "any"

    def setting(self) -> Kinded:
        return Kinded(self.probability, DRIFT_KINDS if self.kind == "any" else (self.kind,))


# --- delay distributions ---------------------------------------------------------------------------------------


class _Distribution(_Fault):
    """One of a scenario's `wait:` distributions; `simulator.scenarios.distributions` checks its bounds."""

    @model_validator(mode="after")
    def _bounded(self) -> _Distribution:
        try:
            self.setting()
        except distributions.DistributionError as exc:
            error: InitErrorDetails = {"type": _problem(exc.message), "loc": exc.field, "input": self.model_dump()}
            raise ValidationError.from_exception_data(type(self).__name__, [error]) from None
        return self

    def setting(self) -> Distribution:
        bound = distributions.bind(distributions.parse(self.model_dump()), {})
        # A delay is at most a week, drawn ones too: a `max` given past it is refused, and the default one (ten
        # times the centre) is kept to it, where it drew delays of weeks from a mean of days.
        if isinstance(bound, distributions.Exponential | distributions.Lognormal) and (
            distributions.bounds(bound)[1] > MAX_SECONDS
        ):
            bound = dataclasses.replace(bound, max=MAX_SECONDS)
        return bound


class FixedDelay(_Distribution):
    fixed: Duration


class UniformDelay(_Distribution):
    uniform: Annotated[tuple[Duration, Duration], BeforeValidator(_pair)] = Field(description="[low, high]")


class ExponentialParams(_Form):
    mean: Positive
    max: Positive | None = Field(None, description="Default: ten times the mean.")


class ExponentialDelay(_Distribution):
    exponential: ExponentialParams


class LognormalParams(_Form):
    median: Positive
    sigma: Sigma
    max: Positive | None = Field(None, description="Default: ten times the median.")


class LognormalDelay(_Distribution):
    lognormal: LognormalParams


# --- one field per fault ---------------------------------------------------------------------------------------


def _form(value: Any) -> str:
    return "long" if isinstance(value, Mapping | BaseModel) else "short"


def _delay_form(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    if not isinstance(value, Mapping):
        return "duration"
    kind = next(iter(value), None)
    return kind if len(value) == 1 and kind in distributions.KINDS else None


_BY_FORM = Discriminator(_form)
ChanceFault = Annotated[Annotated[Probability, Tag("short")] | Annotated[ProbabilityForm, Tag("long")], _BY_FORM]
DuplicateFault = Annotated[Annotated[Probability, Tag("short")] | Annotated[DuplicateForm, Tag("long")], _BY_FORM]
ReorderFault = Annotated[Annotated[Window, Tag("short")] | Annotated[ReorderForm, Tag("long")], _BY_FORM]
StaleFault = Annotated[Annotated[Probability, Tag("short")] | Annotated[StaleTimestampForm, Tag("long")], _BY_FORM]
MalformedFault = Annotated[Annotated[Probability, Tag("short")] | Annotated[MalformedForm, Tag("long")], _BY_FORM]
DriftFault = Annotated[Annotated[Probability, Tag("short")] | Annotated[SchemaDriftForm, Tag("long")], _BY_FORM]
BurstFault = Annotated[Annotated[BurstSize, Tag("short")] | Annotated[BurstForm, Tag("long")], _BY_FORM]
DelayFault = Annotated[
    Annotated[DelayDuration, Tag("duration")]
    | Annotated[FixedDelay, Tag("fixed")]
    | Annotated[UniformDelay, Tag("uniform")]
    | Annotated[ExponentialDelay, Tag("exponential")]
    | Annotated[LognormalDelay, Tag("lognormal")],
    Discriminator(
        _delay_form,
        custom_error_type="delay_form",
        custom_error_message=f"expected exactly one of {', '.join(distributions.KINDS)}",
    ),
]


# `null` is refused by the short form's own check: a fault is left out by leaving its key out.
_NULL_CHECK: dict[str, Callable[[Any], Any]] = {"reorder": _window, "delay": _delay_seconds, "burst": _burst_size}


# A fault's short form as its long form: `drop: 0.1` is `drop: {probability: 0.1}`, `delay: 2s` is `{fixed: 2s}`.
_SHORT: dict[str, tuple[type[_Fault], str]] = {
    "drop": (ProbabilityForm, "probability"),
    "duplicate": (DuplicateForm, "probability"),
    "reorder": (ReorderForm, "window"),
    "delay": (FixedDelay, "fixed"),
    "bad_signature": (ProbabilityForm, "probability"),
    "stale_timestamp": (StaleTimestampForm, "probability"),
    "malformed": (MalformedForm, "probability"),
    "schema_drift": (SchemaDriftForm, "probability"),
    "burst": (BurstForm, "size"),
}


def _absent_not_null(schema: dict[str, Any]) -> None:
    """A fault is left out by leaving its key out, and `null` is refused (`FaultsSpec._not_null`): the document
    says so. (`| None` on the fields is for Python: a plain `Optional` adds no union branch to error paths.)"""
    for prop in schema["properties"].values():
        prop.update(next(s for s in prop.pop("anyOf") if s != {"type": "null"}))
        prop.pop("default", None)


class FaultsSpec(_Form):
    """The faults to inject: each a short form or a long form (`drop: 0.1` or `drop: {probability: 0.1}`)."""

    model_config = ConfigDict(json_schema_extra=_absent_not_null)

    drop: ChanceFault | None = Field(None, description="Never send the delivery.")
    duplicate: DuplicateFault | None = Field(None, description="Send it again, `copies` times, `spacing` apart.")
    reorder: ReorderFault | None = Field(None, description="Shuffle each window of N deliveries (N >= 2).")
    delay: DelayFault | None = Field(None, description="Delay the first attempt: a duration or a distribution.")
    bad_signature: ChanceFault | None = Field(None, description="A first attempt whose signature does not verify.")
    stale_timestamp: StaleFault | None = Field(None, description="A first attempt signed with an old timestamp.")
    malformed: MalformedFault | None = Field(None, description="A first attempt with a damaged body or type.")
    schema_drift: DriftFault | None = Field(None, description="A payload with a field added or one left out.")
    burst: BurstFault | None = Field(None, description="Hold deliveries until N are ready (N >= 2), then all.")

    @field_validator(*FAULTS, mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        # Before the field's own schema: its `| None` would take `null` as "not set".
        if value is None:
            _NULL_CHECK.get(info.field_name or "", _probability)(value)
        return value

    @classmethod
    def _restate(cls, error: ErrorDetails, found: list[ErrorDetails]) -> tuple[tuple[int | str, ...], str] | None:
        loc, kind = error["loc"], error["type"]
        if len(loc) > 1:
            loc = (loc[0], *loc[2:])  # below a fault's name comes the tag of the form it took: not a key
        if kind == "fault":
            return loc, error["msg"]
        if kind == "model_type" and not loc:
            return loc, "expected a mapping of fault names to settings"
        if kind == "extra_forbidden" and len(loc) == 1:
            return loc, f"unknown fault {loc[0]!r}{did_you_mean(loc[0], FAULTS)}: expected one of {', '.join(FAULTS)}"
        if kind == "delay_form":
            got = sorted(map(str, error["input"]))
            return loc, f"expected exactly one of {', '.join(distributions.KINDS)}, got {got}"
        return loc, error["msg"]

    def profile(self) -> FaultProfile:
        """The frozen profile the injector reads."""
        settings: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if not isinstance(value, _Fault):
                form, key = _SHORT[name]
                value = form.model_validate({key: value})
            settings[name] = value.setting()
        return FaultProfile(**settings)


def check_faults(faults: Any, field: str = "faults") -> FaultsSpec:
    """`faults` as a `FaultsSpec`. Raises `InvalidInput` with one `FieldError` per problem, each at
    `{field}.{fault}` (or deeper), naming what was expected."""
    try:
        return FaultsSpec.model_validate(faults)
    except ValidationError as exc:
        raise _invalid(exc, field) from None


def _invalid(exc: ValidationError, field: str) -> InvalidInput:
    errors = [FieldError(".".join((field, *map(str, e["loc"]))), e["msg"]) for e in exc.errors(include_url=False)]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidInput(f"invalid faults: {errors[0]}{more}", errors=errors)


def parse_faults(faults: Mapping[str, Any] | None, field: str = "faults") -> FaultProfile:
    """The profile `faults` describes (an empty one for None); errors as `check_faults`."""
    return FaultProfile() if faults is None else check_faults(faults, field).profile()


# --- the `faults` field of other models ------------------------------------------------------------------------


def _as_given(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> dict[str, Any]:
    try:
        spec = handler(value)
    except ValidationError as exc:
        # Not a ValidationError: pydantic would fold it into the host model's errors, under that model's name
        # ("invalid run" here, "invalid schedule" there). Bad faults are the same problem wherever they are
        # written, and the core's own check (`check_faults`) says it in these words.
        raise _invalid(exc, info.field_name or "faults") from None
    return dict(value) if isinstance(value, Mapping) else spec.model_dump(exclude_unset=True)


class _AsGiven:
    """Validated and documented as a `FaultsSpec`, kept as the caller's mapping: stored and answered as written
    (`{"bad_signature": 1}` stays `1`, `{"delay": "2s"}` stays `"2s"`), never in a normalised form."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_wrap_validator_function(
            _as_given, handler.generate_schema(FaultsSpec), serialization=core_schema.simple_ser_schema("dict")
        )


# The type of a `faults` field: refusing with `InvalidInput` (one `FieldError` per problem), never pydantic's error.
Faults = Annotated[dict[str, Any], _AsGiven]
