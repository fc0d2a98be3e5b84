"""`--since` and `--until` of the commands that pick deliveries by when they were made (`deliveries`, `resend
--dead`): checked here, so a refusal names the option rather than the API's field. An `--until` not later than
`--since` is refused too: the API answers such a window with nothing (its document can state no rule between two
fields), and typed on a command line it is a slip that would read as "none found"."""

from __future__ import annotations

import argparse
import re
from datetime import datetime
from typing import Any

from simulator.cli import options
from simulator.errors import FieldError, InvalidInput, quoted
from simulator.models import formats

_EXAMPLE = "2025-03-14T15:09:26Z"


def moment(text: str) -> str:
    """An RFC 3339 time with its offset, as the API takes it (passed on as written: the server reads it)."""
    if not re.fullmatch(formats.DATE_TIME, text.strip()):
        naive = re.fullmatch(formats.DATE_TIME, text.strip() + "Z") is not None
        why = "it has no offset (Z or ±hh:mm)" if naive else "not an RFC 3339 time"
        raise argparse.ArgumentTypeError(
            f"{quoted(text)}: {why}; expected a time from {formats.FIRST_YEAR} to {formats.LAST_YEAR} with its "
            f"offset, such as {_EXAMPLE}"
        )
    return text.strip()


moment.__name__ = "time"  # what argparse names in "invalid time value"


def add(parser: argparse.ArgumentParser, what: str) -> None:
    # Once each: a second --since was dropped without a word, and the window was another than the one asked for.
    since = f"only {what} made at or after this ISO time ({_EXAMPLE})"
    options.add(parser, "--since", since, type=moment, once=True)
    options.add(
        parser, "--until", f"only {what} made before this ISO time (later than --since)", type=moment, once=True
    )


def given(args: argparse.Namespace) -> dict[str, Any]:
    """`since` and `until` as the API takes them, after checking that the window is not empty."""
    since, until = args.since, args.until
    if since is not None and until is not None and _instant(until) <= _instant(since):
        message = f"--until ({until}) must be later than --since ({since})"
        raise InvalidInput(message, errors=[FieldError("--until", message)])
    return {"since": since, "until": until}


def _instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
