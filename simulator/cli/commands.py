"""The argparse tree of `webhook-sim`, one module per command, and the run of one command line.

Exit codes: 0 success, 1 failure, 2 bad input, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from simulator import __version__
from simulator.cli.options import refuse_bad_switches
from simulator.errors import ECHOED, SimError, quoted
from simulator.escapes import escape_controls

# Each command's module (`simulator.cli.<module>`), which adds it to the tree with `handler` set to the function
# that runs it; in this order in `--help`. A command line imports only its command's module: all of them at once
# cost a fresh interpreter another 0.5 s of the 1.5-2 s it takes to start.
MODULES = {
    "serve": "serve",
    "worker": "worker",
    "run": "run",
    "trigger": "trigger",
    "deliveries": "deliveries",
    "resend": "resend",
    "subscriptions": "subscriptions",
    "events": "catalog",
    "sample": "catalog",
    "schema": "catalog",
    "asyncapi": "catalog",
    "scenarios": "scenarios",
    "validate": "scenarios",
    "listen": "listen",
    "docs": "docs",
}
DESCRIPTION = (
    "Imitate the webhooks of Syncfy and Basis Theory, and their APIs: play scenarios of signed, retried deliveries "
    "against your service, serve them to a dashboard, and listen for them. `webhook-sim COMMAND --help` tells more."
)


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The tree of `command` alone (what a command line naming it needs), or of every command when `command` is
    None or names none."""
    root = Parser(prog="webhook-sim", description=DESCRIPTION)
    root.add_argument("--version", action="version", version=f"webhook-sim {__version__}")
    sub = root.add_subparsers(dest="command", required=True)
    for module in _modules(command):
        module.register(sub)
    return root


class Parser(argparse.ArgumentParser):
    """argparse's parser (and its subcommands', which take its class), whose own refusals (`invalid int value`,
    `invalid choice`) echo the value given as every other message does (`quoted`): whole, a file pasted in
    place of a port or a command was repeated to the last byte."""

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as exc:
            raise _echoing(exc, action, arg_string) from None

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            raise _echoing(exc, action, value) from None


def _echoing(exc: argparse.ArgumentError, action: argparse.Action, value: Any) -> argparse.ArgumentError:
    """`exc` with the value it repeats as `quoted` gives it."""
    if not isinstance(value, str) or len(value) <= ECHOED:
        return exc
    return argparse.ArgumentError(action, exc.message.replace(repr(value), quoted(value)))


def _command_parser(tree: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost parser the command line chose in `tree` (`subscriptions list`'s, not the tree's)."""
    current = tree
    while True:
        chosen = [
            action.choices[name]
            for action in current._actions
            if isinstance(action, argparse._SubParsersAction)
            and isinstance(name := getattr(args, action.dest or "", None), str)
            and name in action.choices
        ]
        if not chosen:
            return current
        current = chosen[0]


def _modules(command: str | None) -> list[ModuleType]:
    names = [MODULES[command]] if command in MODULES else list(dict.fromkeys(MODULES.values()))
    return [importlib.import_module(f"simulator.cli.{name}") for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # A command comes first: only `--help` and `--version` may come before it, and they get the whole tree.
    tree = parser(argv[0] if argv else None)
    args, extra = tree.parse_known_args(argv)
    if extra:  # said with the command's usage, which names its options, not the tree's
        shown = " ".join(word if len(word) <= ECHOED else quoted(word) for word in extra)
        _command_parser(tree, args).error(f"unrecognized arguments: {shown}")
    refuse_bad_switches(tree, args)
    try:
        code: int = args.handler(args)
        return code
    except SimError as exc:
        # Escaped: a detail can hold a file's name or a value from a file, and a control character in either
        # forged a line or rewrote the terminal.
        print(f"error: {escape_controls(exc.detail)}", file=sys.stderr)
        for err in exc.errors:
            if str(err) not in exc.detail and err.message not in exc.detail:  # each problem said once
                print(f"  {escape_controls(str(err))}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`webhook-sim events | head`): end quietly, as a filter does. Python would report
        # the pipe again when it flushes stdout at exit, so stdout now goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command a closed pipe stopped
    except OSError as exc:
        if exc.filename is not None or exc.errno not in _FULL:
            raise
        # A write to a file already open failed for want of room: standard output (`> /dev/full`, a full disk;
        # files the options name say so themselves, the store's errors are SQLite's). One line, as `--output` to
        # such a file says it, where it was a traceback; what is still buffered goes nowhere, or Python would
        # report it again as it flushes at exit.
        print(f"error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


# A write that failed for want of room: a full disk or device, a file past its size limit, a quota.
_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
