"""Options of every command: each reads a `WEBHOOK_SIM_<OPTION>` variable, and `--help` shows its default and
its variable. The command line wins over the environment: a list option given on the command line replaces the
variable's list, and a boolean set by the variable can be turned off with `--no-<option>`. The types that read
their values are in `option_types`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simulator import files
from simulator.cli.option_types import decimal, field_bounds, host_name, whole_between
from simulator.errors import FieldError, InvalidInput, quoted, quoted_path
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


class _Given(argparse.Action):
    """An option that notes its use on the command line (in `_given`), as a value from the environment is not: a
    list the command line gives replaces the environment's, and a refusal says where a value came from."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        seen: set[str] = getattr(namespace, "_given", set())
        again = self.dest in seen
        seen.add(self.dest)
        namespace._given = seen
        self.take(namespace, values, again)

    def take(self, namespace: argparse.Namespace, values: Any, again: bool) -> None:
        raise NotImplementedError


class _ReplaceList(_Given):
    """`append` whose first use on the command line replaces the list the environment gave."""

    def take(self, namespace: argparse.Namespace, values: Any, again: bool) -> None:
        current = list(getattr(namespace, self.dest) or []) if again else []
        setattr(namespace, self.dest, [*current, values])


class _Store(_Given):
    """`store` that notes its use on the command line (`given_on_command_line`)."""

    def take(self, namespace: argparse.Namespace, values: Any, again: bool) -> None:
        setattr(namespace, self.dest, values)


class _Once(_Given):
    """`store` that refuses a second value on the command line: argparse keeps the last, so `deliveries --run a
    --run b` listed b's deliveries alone, as if a had not been asked for (the control API takes one value of a
    filter, and refuses a repeated query parameter). A value from the environment is replaced, as ever."""

    def take(self, namespace: argparse.Namespace, values: Any, again: bool) -> None:
        if again:
            first = quoted(str(getattr(namespace, self.dest)))
            raise argparse.ArgumentError(self, f"given twice ({first}, then {quoted(str(values))}): give one value")
        setattr(namespace, self.dest, values)


def given_on_command_line(args: argparse.Namespace, flag: str) -> bool:
    """Whether the command line gave option `flag` (a value from the environment alone is not)."""
    return flag.lstrip("-").replace("-", "_") in getattr(args, "_given", set())


def from_environment(args: argparse.Namespace, flag: str) -> str:
    """The words " (from the environment: VARIABLE)" when option `flag`'s value is its variable's (the command line
    did not give it), else none: a refusal of the value, made after parsing (one of a list's items, an HTTP status
    out of range), then says where it came from."""
    dest = flag.lstrip("-").replace("-", "_")
    variable = getattr(args, f"_env_{dest}", None)
    if variable is None or given_on_command_line(args, flag) or not os.environ.get(variable):
        return ""
    return f" (from the environment: {variable})"


def repeated_key(flag: str, key: str, what: str, where: str = "") -> InvalidInput:
    """The refusal (exit 2) of the K=V option `flag` naming `key` a second time: read into a dict, the last value
    was kept without a word (`--param refreshes=1 --param refreshes=2` ran with 2), where the control API refuses
    a body whose object names a key twice. `what` names a key (a parameter), `where` is `from_environment`'s."""
    message = f"{quoted(key)} is given twice{where}: give each {what} once"
    return InvalidInput(f"{flag} {message}", errors=[FieldError(flag, message)])


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
    once: bool = False,
) -> None:
    """Add `--flag` reading WEBHOOK_SIM_<FLAG>, or the variable named (an option whose name another command
    uses with another meaning gets one of its own: `WEBHOOK_SIM_PORT` of `serve` is no port for `listen`). `many`
    (a separator) makes it a repeatable list option, and `pairs` a list of K=V whose values may hold the separator
    in the variable (see `split_pairs`); `flag_only` a boolean with a `--no-` form; `once` refuses a second value on
    the command line (a filter the API takes one value of)."""
    dest = flag.lstrip("-").replace("-", "_")
    variable = variable or env_name(dest)
    parser.set_defaults(**{f"_env_{dest}": variable})  # for a refusal made after parsing (`from_environment`)
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
        action=_Once if once else _Store,
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
        found = files.kind(folder)
        if found != "folder":
            what = {"missing": "no such folder", "file": "not a folder", "other": "not a folder"}.get(found, found)
            raise InvalidInput(
                f"--scenarios: {quoted_path(folder)}: {what}: expected a folder of scenario files",
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
        type=decimal,
    )


def check_host(host: str) -> None:
    """An empty `--host` listened on every interface, where the default (127.0.0.1) was meant: refused."""
    if not host.strip():
        message = "empty: give an address, or leave the option out"
        raise InvalidInput(f"--host: {message}", errors=[FieldError("--host", message)])


def check_lease_ttl(value: float) -> None:
    low, high = LEASE_TTL_RANGE
    if not low <= value <= high:
        raise InvalidInput(
            f"--lease-ttl must be from {low} to {high} seconds, not {value}",
            errors=[FieldError("lease-ttl", "out of range")],
        )
