"""What the commands that talk to a running server share: `--server` and `--token`, the client, the errors said
plainly, and the one-line form of a delivery that `trigger`, `deliveries` and `resend` print."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from simulator.cli import option_types, options
from simulator.client import ApiError, Client, DeliveryInfo
from simulator.client.wire import auth
from simulator.core.report import plain_error
from simulator.errors import FieldError, InvalidInput, SimError, quoted
from simulator.models.enums import FINAL_DELIVERY_STATUSES
from simulator.models.records import shown_answer

DEFAULT_SERVER = "http://127.0.0.1:8080"
FINAL = frozenset(FINAL_DELIVERY_STATUSES)


class RemoteError(SimError):
    """A refusal of the control API, or no answer from it; exit 2 for a value it refused, 1 otherwise (no answer,
    a refused token, a conflict with a record's state)."""

    title = "Control API error"

    def __init__(self, detail: str, *, exit_code: int, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail, errors=errors)
        self.exit_code = exit_code


# The longest id (a delivery's, a subscription's, a run's) or event type the control API takes (`RecordId`).
ID_MAX = 200
SERVER_URL_MAX = 2048


def identifier(text: str) -> str:
    """An id or an event type, which goes into a request's URL: at most ID_MAX characters. A longer one (a file
    pasted in its place) made a URL the HTTP client refused with a traceback."""
    if len(text) > ID_MAX:
        raise argparse.ArgumentTypeError(f"{len(text)} characters: no id or event type is longer than {ID_MAX}")
    if not _utf8(text):  # bytes a shell passed as they were: the URL could not be made (a traceback)
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not UTF-8 text: no id or event type holds such bytes")
    return text


def _utf8(text: str) -> bool:
    """Whether `text` encodes as UTF-8: an argument of bytes that are not is read with lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def nonempty_id(text: str) -> str:
    """An id or an event type to filter by: not blank (`option_types.nonempty`), at most ID_MAX characters."""
    return identifier(option_types.nonempty(text))


def server_url(text: str) -> str:
    """A `--server` base URL (`option_types.http_url`) short enough for the request URLs made from it: one the HTTP
    client would not take (64 KiB) was refused with a traceback as the client was made."""
    if len(text) > SERVER_URL_MAX:
        raise argparse.ArgumentTypeError(f"{len(text)} characters: a server's base URL is at most {SERVER_URL_MAX}")
    url = option_types.http_url(text)
    if "@" in urlsplit(url).netloc:
        # Sent as Basic auth, they took the place of --token's header: a right token was "wrong", and the error
        # printed the URL with its password. (Not shown here either.)
        raise argparse.ArgumentTypeError("a URL with credentials (user:password@): the server takes --token")
    return url


def bearer_token(text: str) -> str:
    """A `--token` a header can carry (printable ASCII): another was refused by the client with a traceback."""
    try:
        auth(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a value a header can carry (printable ASCII, no line breaks)") from None
    return text


def add_server(p: argparse.ArgumentParser, default: str | None = DEFAULT_SERVER, what: str = "") -> None:
    """`--server` and `--token` on command `p`."""
    # Checked as the command line is read: a URL without a scheme was exit 1 with httpx's words, after the fact.
    options.add(p, "--server", "the control API's base URL" + what, default=default, type=server_url)
    options.add(p, "--token", "the server's bearer token (`serve --token`)", type=bearer_token)


def refuse_token_without_server(args: argparse.Namespace, without: str) -> None:
    """Refuse `--token` without `--server` (InvalidInput, exit 2, naming both): it is the server's bearer token,
    and a command with no server to send it to ignored it without a word. `without` says what the command does
    with no server. A token from WEBHOOK_SIM_TOKEN alone is left alone: `serve` reads the same variable, and a
    shell that exports it for its server still triggers straight to a receiver."""
    if not args.token or args.server or args.token == os.environ.get(options.env_name("token")):
        return
    raise InvalidInput(
        f"--token needs --server: it is the server's bearer token, and without --server {without}. "
        f"Give --server URL (or {options.env_name('server')})",
        errors=[FieldError("--token", "needs --server")],
    )


def client(args: argparse.Namespace, timeout: float = 10.0) -> Client:
    return Client(args.server, token=args.token or None, timeout=timeout)


@contextmanager
def speaking_to(server: str) -> Iterator[None]:
    """Turn the client's errors into `RemoteError`s that say what went wrong, in the CLI's words."""
    try:
        yield
    except ApiError as exc:
        errors = [FieldError(str(e.get("field", "")), str(e.get("message", ""))) for e in exc.errors]
        # A refused token is no bad value on this command line: the server and the caller disagree (exit 1); nor
        # is a conflict, a record's state at that moment (a delivery under way, a disabled subscription).
        code = 2 if 400 <= exc.status < 500 and exc.status not in (401, 403, 409) else 1
        raise RemoteError(f"{server}: {exc.status} {exc.title}: {exc.detail}", exit_code=code, errors=errors) from None
    except httpx.ConnectError as exc:
        why = "connection refused" if "refused" in str(exc).lower() else str(exc)
        raise RemoteError(
            f"cannot reach the control API at {server}: {why} (is `webhook-sim serve` running there?)", exit_code=1
        ) from None
    except httpx.TimeoutException:
        raise RemoteError(f"the control API at {server} did not answer in time", exit_code=1) from None
    except httpx.InvalidURL as exc:  # no HTTPError: a value given made a URL the client will not send
        raise RemoteError(
            f"cannot ask {server}: a value given makes an invalid request URL ({exc})", exit_code=2
        ) from None
    except httpx.HTTPError as exc:
        raise RemoteError(f"{server}: {type(exc).__name__}: {exc}", exit_code=1) from None
    except RecursionError:  # JSON nested deeper than the decoder goes: no answer the control API gives
        raise RemoteError(
            f"{server} answered with something other than webhook-sim's control API (JSON nested too deeply)",
            exit_code=1,
        ) from None
    except (json.JSONDecodeError, ValidationError) as exc:  # an answer that is not the control API's JSON
        raise RemoteError(
            f"{server} answered with something other than webhook-sim's control API ({type(exc).__name__}: {exc})",
            exit_code=1,
        ) from None


def identify(api: Client, server: str) -> None:
    """Make sure `server` is webhook-sim's control API before anything is sent to it: its public `GET /health`,
    which answers `{"status": "ok", "version": …}`. A command that wrote first learnt only from the answer
    that the server was another one, which had been sent the event or subscription by then. RemoteError, exit 2
    naming --server, for another server; exit 1 for one that does not answer or answers 5xx (a proxy with nothing
    behind it), as for any other request."""
    other = "GET /health answered something other than webhook-sim's health"
    try:
        answer = api.health()
    except ApiError as exc:  # below 400: an answer that is not JSON
        if exc.status >= 500:
            raise
        why = f"GET /health answered {exc.status} {exc.title}" if exc.status >= 400 else other
    else:
        # Its two fields, not the whole model: a newer server that tells more in its health is webhook-sim still.
        if isinstance(answer, dict) and answer.get("status") == "ok" and isinstance(answer.get("version"), str):
            return
        why = other
    raise RemoteError(
        f"--server {server} is not webhook-sim's control API ({why}); nothing was sent to it. Give the URL "
        "`webhook-sim serve` prints",
        exit_code=2,
        errors=[FieldError("--server", "not webhook-sim's control API")],
    )


@contextmanager
def identified(args: argparse.Namespace) -> Iterator[Client]:
    """A client of `--server`, its errors in the CLI's words (`speaking_to`), once the server is known to be
    webhook-sim's control API (`identify`): what a command that talks to the server talks through, one that only
    reads (`deliveries`) too."""
    with client(args) as api, speaking_to(args.server):
        identify(api, args.server)
        yield api


def wait_final(
    api: Client, ids: list[str], timeout: float, answered: dict[str, int] | None = None
) -> list[DeliveryInfo]:
    """Each delivery (with its attempts), once every one is final, or has had an attempt with an outcome past the
    number `answered` gives it, or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    interval = 0.02
    done = answered or {}
    while True:
        found = [api.get_delivery(i) for i in ids]
        if all(d.status in FINAL or d.attempts > done.get(d.id, d.attempts + 1) for d in found):
            return found
        if time.monotonic() >= deadline:
            return found
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 1.5, 0.5)


# -- a delivery in one line -----------------------------------------------------------------------------------

COLUMNS = (("time", 12), ("delivery", 30), ("type", 34), ("status", 9), ("tries", 5), ("http", 4))


def header() -> str:
    """The column titles, aligned with `line`."""
    return row([name for name, _ in COLUMNS] + ["error / answer"])


def line(d: DeliveryInfo, note: str = "") -> str:
    """One delivery: when it was made, id, type, status, attempts, last HTTP status, and why it failed."""
    when = datetime.fromtimestamp(d.created_at.timestamp()).strftime("%H:%M:%S.%f")[:-3]
    why = plain_error(d.last_error) if d.last_error != f"HTTP {d.last_status}" else ""
    why = why or ""
    if retry := next_retry(d):
        why = f"{why}; retry {retry}"
    cells = [
        when,
        d.id,
        d.type,
        d.status,
        str(d.attempts),
        "-" if d.last_status is None else str(d.last_status),
        why.strip("; ") or "-",
    ]
    return row(cells) + (f"  {note}" if note else "")


def next_retry(d: DeliveryInfo) -> str | None:
    """When a failed delivery's next attempt is due, true as it is printed: `at 12:00:05` while that is ahead,
    `due since 12:00:05 (it may be under way)` once it has passed (the attempt is being sent, or waits for a
    sender). A time already past, printed as the time of a retry to come, read as one the sender had not made yet.
    None when no retry is due (a delivery not failed)."""
    if d.status != "failed" or d.next_attempt_at is None:
        return None
    at = d.next_attempt_at.timestamp()
    shown = datetime.fromtimestamp(at).strftime("%H:%M:%S")
    return f"at {shown}" if at > time.time() else f"due since {shown} (it may be under way)"


def row(cells: list[str], columns: tuple[tuple[str, int], ...] = COLUMNS) -> str:
    """`cells` aligned under `columns`' widths (a longer cell pushes the rest right); cells past them follow."""
    widths = [w for _, w in columns]
    fixed = [cell.ljust(width) if len(cell) <= width else cell for cell, width in zip(cells, widths, strict=False)]
    return "  ".join([*fixed, *cells[len(widths) :]]).rstrip()


def outcome(d: DeliveryInfo) -> str:
    """A delivery's outcome in a phrase: "succeeded (HTTP 204) after 1 attempt", "dead after 3 attempts: …"."""
    plural = "s" if d.attempts != 1 else ""
    text = f"{d.status} after {d.attempts} attempt{plural}"
    if d.last_status is not None:
        text += f", HTTP {d.last_status}"
    if d.last_error and d.last_error != f"HTTP {d.last_status}":
        text += f": {plain_error(d.last_error)}"
    answered = answer(d) if d.status not in ("succeeded", "dropped") else None
    if answered:
        text += f"; answer: {answered}"
    return text


def answer(d: DeliveryInfo) -> str | None:
    """The body of the last answer, on one line and cut at 120 characters (None: no body, or not read)."""
    log: list[Any] = list(getattr(d, "attempt_log", None) or [])
    if not log or not log[-1].response:
        return None
    return " ".join(shown_answer(log[-1].response, log[-1].response_encoding).split())[:120]
