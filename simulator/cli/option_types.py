"""The types of option values: each reads an option's text (from the command line or from its variable) into
its value, or refuses it with argparse's error (exit 2 naming the option); the few read after parsing (a JSON
value, a small file, a secret against its scheme) raise InvalidInput naming the option instead."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator import files, json_input, signing
from simulator.errors import FieldError, InvalidInput, quoted, quoted_path
from simulator.json_input import MAX_DEPTH


def whole(text: str, signed: bool = False) -> int:
    """`text` as an integer written in ASCII digits, with a leading sign where `signed` (a negative number is
    still read where it is not, so that the option's range check says why it is refused). int() reads more:
    any script's digits (`٣` is 3), `_` between digits (`1_000`), a `+`, and whitespace around; each was taken
    as a number without a word, where the control API and a scenario's parameters take ASCII digits alone. Words
    int() refuses too stay argparse's "invalid … value" (a ValueError)."""
    if re.fullmatch("[-+]?[0-9]+" if signed else "-?[0-9]+", text):
        return int(text)
    int(text)  # ValueError for what is no number at all
    raise argparse.ArgumentTypeError(f"{quoted(text)} is not a whole number written in the digits 0-9")


def integer(text: str) -> int:
    """A whole number in ASCII digits, whose range is checked where it is used (`--max-attempts`, `listen
    --status`)."""
    return whole(text)


integer.__name__ = "int"  # what argparse names in "invalid int value: 'x'"


# A number as JSON and the control API write one (ASCII digits, a point, an exponent), or `inf` and `nan` for the
# range checks to refuse by name.
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?:inf|infinity|nan)", re.I)


def decimal(text: str) -> float:
    """`text` as a number written in ASCII. float() reads more, as int() does (see `whole`): `--speed ٣` played at
    speed 3 and `--fail-rate ٠.٥` answered half the requests 500, where the control API refuses both."""
    if _DECIMAL.fullmatch(text):
        return float(text)
    float(text)  # ValueError for what is no number at all: argparse's "invalid float value"
    raise argparse.ArgumentTypeError(f"{quoted(text)} is not a number written in the digits 0-9")


decimal.__name__ = "float"  # what argparse names in "invalid float value: 'x'"


def port(text: str) -> int:
    """A TCP port (0: any free one)."""
    value = whole(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: expected 0 to 65535")
    return value


def seed(text: str) -> int:
    """A seed, as the API takes it: 0 to 2**63 - 1."""
    value = whole(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} is not a seed: expected 0 to {2**63 - 1}")
    return value


def nonempty(text: str) -> str:
    """A value that is not blank: an empty filter matched nothing and said only "none found"."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: give a value, or leave the option out")
    return text


def some_types(text: str) -> str:
    """An `--events` value naming at least one type: an empty one (`--events "$UNSET"`) subscribed to every event,
    the widest filter there is, without a word."""
    if not any(part.strip() for part in text.split(",")):
        raise argparse.ArgumentTypeError(
            f"no event type in {quoted(text)}: give one or more, comma-separated, or leave the option out"
        )
    return text


def count(text: str) -> int:
    """A whole number of at least 0, and at most what a size can be (a bound past it was a traceback)."""
    value = whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0: expected a number >= 0")
    if value > sys.maxsize:
        raise argparse.ArgumentTypeError(f"{value} is too large: expected at most {sys.maxsize}")
    return value


def seconds(text: str) -> float:
    """A finite number of seconds, at least 0 (`nan` and `inf` read as floats, and no timer takes them)."""
    value = decimal(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds >= 0")
    return value


def retention(text: str) -> float:
    """A retention period: a duration (`30m`, `12h`, `7d`) of at least a minute."""
    from simulator.timeutil import parse_duration

    try:
        value = parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a duration: write e.g. 30m, 12h or 7d") from None
    if not 60 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{quoted(text)} is shorter than a minute: write e.g. 30m, 12h or 7d")
    return value


def seconds_between(low: float, high: float) -> Callable[[str], float]:
    """A number of seconds from `low` to `high`: a timer given `nan` fails when it is armed, and one given a
    negative or zero delay fires at once."""

    def check(text: str) -> float:
        value = decimal(text)
        if not low <= value <= high:  # false for nan too
            raise argparse.ArgumentTypeError(f"{text} is not a number of seconds from {low:g} to {high:g}")
        return value

    check.__name__ = "seconds"  # what argparse names in "invalid seconds value: 'x'"
    return check


def whole_between(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`."""

    def check(text: str) -> int:
        value = whole(text, signed=low < 0)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: expected a whole number from {low} to {high}")
        return value

    check.__name__ = "int"  # what argparse names in "invalid int value: 'x'"
    return check


def field_bounds(model: Any, name: str) -> tuple[int, int]:
    """The `ge` and `le` of the integer field `name` of a pydantic `model`: an option the API checks again is
    checked here with the same bounds, before anything is sent."""
    from annotated_types import Ge, Le

    metadata = model.model_fields[name].metadata
    low = next(m.ge for m in metadata if isinstance(m, Ge) and isinstance(m.ge, int))
    high = next(m.le for m in metadata if isinstance(m, Le) and isinstance(m.le, int))
    return low, high


def positive(text: str) -> int:
    """A whole number of at least 1."""
    value = whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1: expected a whole number >= 1")
    return value


def speed(text: str) -> float:
    """A run's speed: 0 (no waiting), or simulated seconds per real second within the API's bounds."""
    from simulator.models.inputs import MAX_SPEED, MIN_SPEED

    value = decimal(text)
    if not (value == 0 or MIN_SPEED <= value <= MAX_SPEED):
        raise argparse.ArgumentTypeError(
            f"{text} is not a speed: expected 0 (no waiting) or {MIN_SPEED:g} to {MAX_SPEED:g} (1: real time)"
        )
    return value


def secret(text: str) -> str:
    """A signing secret in one of the forms the HMAC schemes take: `whsec_<base64>` (standard) or base64
    (syncfy). Which scheme it must fit is checked where the scheme is known. The value is never echoed: it is a
    secret, and a message is often pasted where others read it."""
    from simulator.models import formats

    if not text:
        raise argparse.ArgumentTypeError("empty: give a secret, or leave the option out")
    if len(text) > formats.SECRET_MAX:
        raise argparse.ArgumentTypeError(f"longer than {formats.SECRET_MAX} characters")
    if not (re.fullmatch(formats.STANDARD_SECRET, text) or re.fullmatch(formats.SYNCFY_SECRET, text)):
        raise argparse.ArgumentTypeError("not a signing secret: expected whsec_<base64> (standard) or base64 (syncfy)")
    return text


def check_secret(scheme: str | None, secret: str) -> None:
    """Whether `secret` fits `--signing`, as the subscription made for `--target` will ask (without `--signing`
    it is read as a Syncfy secret, whatever the event's provider); InvalidInput naming --secret."""
    try:
        signing.validate_secret(scheme or "syncfy", secret)
    except InvalidInput as exc:
        hint = "" if scheme else " (without --signing a secret is read as syncfy's; --signing standard takes whsec_)"
        message = f"{exc.detail}{hint}"
        raise InvalidInput(f"--secret: {message}", errors=[FieldError("--secret", message)]) from None


def http_url(text: str) -> str:
    """An absolute http:// or https:// URL (a server's base URL)."""
    from simulator.models.inputs import check_url

    try:
        return check_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a URL: {exc}") from None


def webhook_url(text: str) -> str:
    """A URL to deliver to, checked as a subscription's `url` is, before anything is made or sent: refused
    later, the error named the subscription's field (`url`) or the event's (`target`), not the option."""
    from pydantic import TypeAdapter, ValidationError

    from simulator.models.inputs import Url

    try:
        return str(TypeAdapter(Url).validate_python(text))
    except ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a URL to deliver to: {reason}") from None


def output_file(text: str) -> str:
    """A file to write, checked before any work is done: its folder exists and is writable, and it is no folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: give a file's path, or leave the option out")
    path = Path(text)
    folder = path.parent
    here, there = files.kind(path), files.kind(folder)
    if here == "folder":
        raise argparse.ArgumentTypeError(f"{quoted_path(text)} is a folder: expected a file to write")
    if there in ("missing", "file", "other"):
        raise argparse.ArgumentTypeError(f"no folder {quoted_path(str(folder))} to write {quoted_path(path.name)} in")
    for found in (there, here):  # either may say why it cannot be looked at (a name too long)
        if found not in files.KINDS:
            raise argparse.ArgumentTypeError(f"cannot write {quoted_path(text)}: {found}")
    if not os.access(folder, os.W_OK) or (here != "missing" and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {quoted_path(text)}: permission denied")
    return text


# A JSON value on the command line nests at most as deep as a scenario file may: deeper, the event's schema check
# and the encoder walk it recursively, and a few hundred levels exhaust Python's stack.
MAX_JSON_DEPTH = MAX_DEPTH
_TOO_DEEP = f"nested too deeply: expected at most {MAX_JSON_DEPTH} levels of lists and objects"


def json_value(text: str, field: str) -> Any:
    """`text` read as JSON (`0`, `true`, `{"a": 1}`, `"007"`), else, when it is no JSON at all, as the string it
    is. JSON that no request body may carry (`NaN`, `Infinity`, `1e999`, more than 4,300 digits, a lone surrogate,
    a key given twice, more than MAX_JSON_DEPTH levels) is refused: InvalidInput naming `field`."""
    try:
        value = json_input.loads(text, _finite_float, unique_keys=True)
    except json_input.NotJson as exc:
        if not _json_shaped(text):
            return text
        # The parser's own stack ran out: said with the limit, as for a value within its reach.
        problem = _TOO_DEEP if str(exc).startswith("nested too deeply") else str(exc)
    else:
        deep = _too_deep(value)
        if deep is None:
            return value
        problem = deep
    word = text.strip()
    if len(word) <= 40 and word[:1] not in ("[", "{", '"'):  # `NaN`, `1e999`: perhaps meant as text
        problem += f" (to send it as text, quote it: '{json.dumps(word)}')"
    raise InvalidInput(f"{field}: {problem}", errors=[FieldError(field.partition(" ")[0], problem)])


def _finite_float(text: str) -> float:
    value = decimal(text)
    if not math.isfinite(value):  # `1e999` reads as inf, which no JSON encoder writes
        raise json_input.NotJson(f"{text} is beyond the range of a JSON number")
    return value


def _json_shaped(text: str) -> bool:
    """Whether the standard parser reads `text` as JSON at all (deep nesting and huge numbers included): what
    it does not read is a plain string."""
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    except (ValueError, RecursionError):
        return True
    return True


def _too_deep(value: Any) -> str | None:
    stack = [(value, 1)]
    while stack:  # not recursive: the value is as deep as the parser allowed
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return _TOO_DEEP
            stack.extend((inner, depth + 1) for inner in (item.values() if isinstance(item, dict) else item))
    return None


def host_name(text: str) -> str:
    """An `--allowed-host` value: a host name (no port), `.name` for it and its subdomains, or `all`."""
    from simulator.api.middleware import ALL_HOSTS, is_host_name

    name = text.strip().lower().rstrip(".")
    if name == ALL_HOSTS or is_host_name(name.removeprefix(".")):
        return name
    raise argparse.ArgumentTypeError(
        f"{quoted(text)} is not a host name: give a name such as sim.example.test (no port, no scheme), "
        f".example.test for it and every name under it, or {ALL_HOSTS}"
    )


SMALL_FILE = 1024 * 1024  # bytes: a key or a token file is a few kilobytes


def small_file(path: str, field: str) -> bytes:
    """The bytes of the regular file `path` (a key, a token), at most SMALL_FILE of them (`files.read_bounded`);
    InvalidInput (exit 2) naming `field` for anything else."""
    try:
        return files.read_bounded(path, SMALL_FILE)
    except files.NotRegular:
        raise InvalidInput(f"{field}: {path} is not a regular file", errors=[FieldError(field, "not a file")]) from None
    except files.TooLarge:
        raise InvalidInput(
            f"{field}: {path} is larger than {SMALL_FILE // 1024} KiB", errors=[FieldError(field, "too large")]
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidInput(f"{field}: cannot read {path}: {reason}", errors=[FieldError(field, reason)]) from None
