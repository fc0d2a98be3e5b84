"""The exception hierarchy. Each error maps to one HTTP status and one CLI exit code."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


def spelled(value: Any) -> str:
    """A value an error message quotes, as JSON and YAML write a null or a boolean (`null`, `true`), where Python
    would say `None` and `True`; other values as Python shows them."""
    return json.dumps(value) if value is None or isinstance(value, bool) else repr(value)


def did_you_mean(name: object, choices: Sequence[str]) -> str:
    """` (did you mean X?)` for the choice closest to `name`, or nothing when none is close: the hint of a message
    that refuses an unknown name."""
    close = difflib.get_close_matches(str(name), choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


# The characters of a name or value given by a user that a message repeats: enough to recognise it, where a file
# pasted in its place (a hundred kilobytes) was echoed whole.
ECHOED = 80
# A path is repeated whole up to this many characters (PATH_MAX is 4096): cut at 80, a real one lost its file name.
PATH_ECHOED = 1024


def quoted(value: str, limit: int = ECHOED) -> str:
    """`value` as a message repeats it: quoted as Python quotes a string, and past `limit` characters cut, its
    length said (`'xxx…'… (102400 characters)`). Every message that echoes a user's name or value back uses it."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


def quoted_path(path: str) -> str:
    """A path as a message repeats it (`quoted`, to PATH_ECHOED characters)."""
    return quoted(path, PATH_ECHOED)


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of an input: where it is and what was expected."""

    field: str
    message: str
    file: str | None = None
    line: int | None = None

    def location(self) -> str:
        if self.file is None:
            return self.field
        place = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{place}: {self.field}" if self.field else place

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.file is not None:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        return out

    def __str__(self) -> str:
        return f"{self.location()}: {self.message}"


class SimError(Exception):
    """Base of every error the simulator raises on purpose."""

    status: int = 500
    exit_code: int = 1
    title: str = "Internal error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = errors or []

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body


class InvalidInput(SimError):
    status = 422
    exit_code = 2
    title = "Invalid input"


class NotFound(SimError):
    status = 404
    exit_code = 2
    title = "Not found"


class UnknownEventType(NotFound):
    title = "Unknown event type"

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        shown = quoted(name)
        super().__init__(
            f"unknown event type {shown}{hint}", errors=[FieldError("type", f"unknown event type {shown}")]
        )
        self.name = name
        self.suggestions = suggestions


class AmbiguousEventType(InvalidInput):
    title = "Ambiguous event type"


class Conflict(SimError):
    status = 409
    exit_code = 1
    title = "Conflict"


class ShuttingDown(InvalidInput):
    """The simulator is stopping and starts no new run: a schedule firing now is left for the next start to fire
    (its catch-up), not recorded as a firing that failed."""


class TooManyRuns(SimError):
    """As many runs are under way as the server takes: each is a task, lanes and writes, and a client (or a
    schedule every second) starting runs without end would starve the rest."""

    status = 429
    exit_code = 1
    title = "Too many runs"
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


class Unauthorized(SimError):
    status = 401
    exit_code = 2
    title = "Unauthorized"


class StoreInUse(SimError):
    """Another process serves from the same database: two would resume, send and renumber each other's work."""

    status = 503
    exit_code = 1
    title = "Store in use"


class StoreUnavailable(SimError):
    """The store cannot write now (its disk is full, its file locked…): new work is refused until it can, and
    what was already accepted waits in memory, never dropped."""

    status = 503
    exit_code = 1
    title = "Store unavailable"
    headers: ClassVar[dict[str, str]] = {"Retry-After": "5"}  # the writer tries again at most every 5 s
