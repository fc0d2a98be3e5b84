"""Options of every command: each reads a `WEBHOOK_SIM_<OPTION>` variable, and `--help` shows its default and
its variable. The command line wins over the environment: a list option given on the command line replaces the
variable's list, and a boolean set by the variable can be turned off with `--no-<option>`."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simulator import files, json_input, signing
from simulator.errors import FieldError, InvalidInput, quoted
from simulator.json_input import MAX_DEPTH
from simulator.words import OFF_WORDS, ON_WORDS

ENV_PREFIX = "WEBHOOK_SIM_"
# Shorter than half a second, a busy process would lose its leases between two renewals; longer than an hour, a
# dead one's subscriptions would wait that long.
LEASE_TTL_RANGE = (0.5, 3600)


def env_name(dest: str) -> str:
    return ENV_PREFIX + dest.upper().replace("-", "_")


def env(name: str, default: Any = None, convert: Callable[[str], Any] = str) -> Any:
    """The default of option `name` from WEBHOOK_SIM_<NAME>, else `default`."""
    value = os.environ.get(env_name(name))
    return default if value is None or value == "" else convert(value)


def env_list(name: str, sep: str = ",") -> list[str]:
    value = env(name, "")
    return [v for v in value.split(sep) if v] if value else []


def port(text: str) -> int:
    """A TCP port (0: any free one)."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: expected 0 to 65535")
    return value


def seed(text: str) -> int:
    """A seed, as the API takes it: 0 to 2**63 - 1."""
    value = int(text)
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
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0: expected a number >= 0")
    if value > sys.maxsize:
        raise argparse.ArgumentTypeError(f"{value} is too large: expected at most {sys.maxsize}")
    return value


def seconds(text: str) -> float:
    """A finite number of seconds, at least 0 (`nan` and `inf` read as floats, and no timer takes them)."""
    value = float(text)
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
        value = float(text)
        if not low <= value <= high:  # false for nan too
            raise argparse.ArgumentTypeError(f"{text} is not a number of seconds from {low:g} to {high:g}")
        return value

    check.__name__ = "seconds"  # what argparse names in "invalid seconds value: 'x'"
    return check


def whole_between(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`."""

    def check(text: str) -> int:
        value = int(text)
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
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1: expected a whole number >= 1")
    return value


def speed(text: str) -> float:
    """A run's speed: 0 (no waiting), or simulated seconds per real second within the API's bounds."""
    from simulator.models.inputs import MAX_SPEED, MIN_SPEED

    value = float(text)
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
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: expected a file to write")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {str(folder)!r} to write {path.name} in")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {text}: permission denied")
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
    value = float(text)
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


class BadSwitch:
    """A switch's value from the environment that is neither on nor off: refused once the command line is read
    (`refuse_bad_switches`), so that only the command that has the switch is refused, naming it and the variable.
    Read as off, `WEBHOOK_SIM_JSON=maybe` printed a table where JSON was asked for."""

    def __init__(self, flag: str, variable: str, text: str) -> None:
        self.flag, self.variable, self.text = flag, variable, text

    def __bool__(self) -> bool:
        return False


def switch_value(flag: str, variable: str, text: str) -> bool | BadSwitch:
    word = text.strip().lower()
    return True if word in ON_WORDS else False if word in OFF_WORDS else BadSwitch(flag, variable, text)


def refuse_bad_switches(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit 2 naming the switch and its variable when the environment gave it a value that is neither on nor off,
    and the command line did not set it."""
    for value in vars(args).values():
        if isinstance(value, BadSwitch):
            parser.error(
                f"argument {value.flag}: invalid value {quoted(value.text)} (from the environment: {value.variable}); "
                f"expected one of {', '.join(ON_WORDS)} (on) or {', '.join(OFF_WORDS)} (off)"
            )


class _ReplaceList(argparse.Action):
    """`append` whose first use on the command line replaces the list the environment gave."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        seen: set[str] = getattr(namespace, "_given", set())
        current = [] if self.dest not in seen else list(getattr(namespace, self.dest) or [])
        seen.add(self.dest)
        namespace._given = seen
        setattr(namespace, self.dest, [*current, values])


def split_pairs(text: str, separator: str) -> list[str]:
    """A variable's K=V list: a piece without `=` goes on the value before it (`tags=a,b,refreshes=3` is
    `tags=a,b` and `refreshes=3`), so a value may hold the separator; a first piece without one stays alone, and
    is refused as the command line's would be."""
    out: list[str] = []
    for piece in text.split(separator):
        if out and "=" not in piece:
            out[-1] += separator + piece
        elif piece:
            out.append(piece)
    return out


def add(
    parser: argparse.ArgumentParser,
    flag: str,
    help: str,
    *,
    default: Any = None,
    type: Callable[[str], Any] = str,
    choices: Sequence[str] | None = None,
    metavar: str | None = None,
    many: str | None = None,
    flag_only: bool = False,
    variable: str | None = None,
    pairs: bool = False,
) -> None:
    """Add `--flag` reading WEBHOOK_SIM_<FLAG>, or the variable named (an option whose name another command
    uses with another meaning gets one of its own: `WEBHOOK_SIM_PORT` of `serve` is no port for `listen`). `many`
    (a separator) makes it a repeatable list option, and `pairs` a list of K=V whose values may hold the separator
    in the variable (see `split_pairs`); `flag_only` a boolean with a `--no-` form."""
    dest = flag.lstrip("-").replace("-", "_")
    variable = variable or env_name(dest)
    if flag_only:
        switch = os.environ.get(variable)
        value = bool(default) if not switch else switch_value(flag, variable, switch)
        parser.add_argument(
            flag,
            action=argparse.BooleanOptionalAction,
            default=value,
            help=f"{help} (default: {'on' if default else 'off'}; env {variable})",
        )
        return
    if many is not None:
        text = os.environ.get(variable, "")
        given = split_pairs(text, many) if pairs else [v for v in text.split(many) if v]
        where = f"separated by {many!r}" if many != os.pathsep else "a path list"
        shown = f"default: none; env {variable}, {where}"
        parser.add_argument(
            flag,
            action=_ReplaceList,
            default=given,
            metavar=metavar,
            type=type,
            help=f"{help}; repeatable ({shown})",
        )
        return
    # Given as text, argparse converts the environment's value with `type` as it does a command-line value: a bad
    # one is exit 2 naming the option, where converting it here raised a traceback; and naming the variable, which
    # the person may not know is set.
    initial = FromEnv(variable, os.environ[variable]) if os.environ.get(variable) else default
    shown = "" if "default:" in help else f"default: {'none' if default is None else default}; "
    parser.add_argument(
        flag,
        default=initial,
        type=_naming_variable(type, choices),
        choices=choices,
        metavar=metavar,
        help=f"{help} ({shown}env {variable})",
    )


class FromEnv(str):
    """An option's value as an environment variable gave it: text that knows the variable's name."""

    variable: str

    def __new__(cls, variable: str, text: str) -> FromEnv:
        made = super().__new__(cls, text)
        made.variable = variable
        return made


def _naming_variable(convert: Callable[[str], Any], choices: Sequence[str] | None) -> Callable[[str], Any]:
    """`convert`, whose refusal of a value from the environment names the variable, and which checks that value
    against `choices` too (argparse checks the choices of command-line values alone)."""

    def check(text: str) -> Any:
        if not isinstance(text, FromEnv):
            return convert(text)
        where = f"(from the environment: {text.variable})"
        try:
            value = convert(str(text))
        except argparse.ArgumentTypeError as exc:  # its words, which echo the value or not (a secret is not)
            raise argparse.ArgumentTypeError(f"{exc} {where}") from None
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"invalid {check.__name__} value: {quoted(str(text))} {where}") from None
        if choices is not None and value not in choices:
            shown = ", ".join(map(repr, choices))
            raise argparse.ArgumentTypeError(f"invalid choice: {quoted(str(text))} {where} (choose from {shown})")
        return value

    check.__name__ = getattr(convert, "__name__", "value")  # what argparse names in "invalid int value: 'x'"
    return check


def add_scenarios(parser: argparse.ArgumentParser, help: str = "a folder of scenario files") -> None:
    """`--scenarios DIR`, repeatable (and `WEBHOOK_SIM_SCENARIOS`, split at the path separator)."""
    add(parser, "--scenarios", help, many=os.pathsep, metavar="DIR")


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


def add_allowed_hosts(parser: argparse.ArgumentParser, what: str) -> None:
    """`--allowed-host NAME`, repeatable (and `WEBHOOK_SIM_ALLOWED_HOST`, comma-separated)."""
    add(
        parser,
        "--allowed-host",
        f"on a loopback address, a Host name {what} answers besides localhost and IP addresses: a local reverse "
        "proxy's or tunnel's name (.NAME: it and its subdomains; all: any)",
        many=",",
        metavar="NAME",
        type=host_name,
    )


def allowed_hosts(values: list[str]) -> list[str]:
    """The `--allowed-host` names, checked: those from the environment reach the command as given (a list option's
    default is not converted). InvalidInput (exit 2) naming the option and the variable."""
    try:
        return [host_name(value) for value in values]
    except argparse.ArgumentTypeError as exc:
        raise InvalidInput(
            f"--allowed-host (or {env_name('allowed_host')}): {exc}",
            errors=[FieldError("--allowed-host", "not a host name")],
        ) from None


def scenario_dirs(folders: list[str]) -> list[Path]:
    """The `--scenarios` folders, each checked to be one: a typo would otherwise show only later, as "unknown
    scenario" when a run names one of its scenarios. InvalidInput (exit 2) naming --scenarios."""
    for folder in folders:
        if not Path(folder).is_dir():
            what = "not a folder" if Path(folder).exists() else "no such folder"
            raise InvalidInput(
                f"--scenarios: {folder}: {what}: expected a folder of scenario files",
                errors=[FieldError("--scenarios", what)],
            )
    return [Path(folder) for folder in folders]


def add_max_in_flight(parser: argparse.ArgumentParser, model: Any, what: str) -> None:
    """`--max-in-flight`, checked against the bounds of `model`'s field, which the API checks again."""
    low, high = field_bounds(model, "max_in_flight")
    add(parser, "--max-in-flight", f"{what} ({low} to {high})", default=1, type=whole_between(low, high))


def add_lease_ttl(parser: argparse.ArgumentParser) -> None:
    # Here, not at the top: the commands that take no store (sample, validate, listen…) start without SQLAlchemy.
    from simulator.store.leases import LEASE_TTL

    add(
        parser,
        "--lease-ttl",
        f"on a shared PostgreSQL store: seconds after which a stopped process's work goes to others "
        f"({LEASE_TTL_RANGE[0]} to {LEASE_TTL_RANGE[1]})",
        default=LEASE_TTL,
        type=float,
    )


def check_lease_ttl(value: float) -> None:
    low, high = LEASE_TTL_RANGE
    if not low <= value <= high:
        raise InvalidInput(
            f"--lease-ttl must be from {low} to {high} seconds, not {value}",
            errors=[FieldError("lease-ttl", "out of range")],
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
