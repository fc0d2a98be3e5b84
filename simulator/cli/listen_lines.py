"""How `listen` writes down a request: `Arrival`, its text line and the columns it is in, its `--print-body` text,
its `--format json` record, and the console that prints the text.

What a request carries (event types, ids, headers, a body) is the sender's text: its control characters are
written as escapes (`\\x1b`), as `run`, `trigger` and `resend` print a receiver's answer, so a sender cannot clear
the terminal, retitle it or rewrite the lines above."""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.markup import escape
from rich.text import Text

from simulator import json_input
from simulator.escapes import CONTROL_BUT_NEWLINE, escape_controls
from simulator.timeutil import iso_ms

MARKS = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]?[/]"}
# The columns of a line and their widths (an id longer than its column pushes the rest right; the check and the
# note come last, as their length varies).
COLUMNS = (("time", 12), ("provider", 11), ("type(s)", 32), ("event id(s)", 36), ("delivery", 25), ("answer", 6))


@dataclass(frozen=True)
class Arrival:
    """One request as `listen` saw and answered it."""

    at: float
    provider: str
    types: tuple[str, ...]
    event_ids: tuple[str, ...]
    delivery_id: str | None
    scheme: str
    verified: bool | None  # None: signed, but nothing to verify it with
    reason: str
    status: int
    note: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: bytes = field(default=b"", repr=False)
    method: str = "POST"
    path: str = "/"


class PipeConsole(Console):
    """Rich's console, raising `BrokenPipeError` when its reader went away. Rich's own ends the program there
    (SystemExit(1), no message): from a request, the sender got a 500 and listen ran on; from the banner, listen
    exited 1 and left its subscription on the server. Raised, it is handled as every command handles it (exit
    141, see `commands.main`) once listen has deleted its subscription."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # what is printed after this goes nowhere, without another error
        raise BrokenPipeError(errno.EPIPE, "the reader of listen's output went away")


def row(cells: list[str]) -> str:
    """Cells padded to their columns' widths (the markup-free text of each decides its width)."""
    out = []
    for cell, (_, width) in zip(cells, COLUMNS, strict=False):
        out.append(cell + " " * max(0, width - len(Text.from_markup(cell).plain)))
    return "  ".join(out)


def header() -> str:
    """The column titles, each where its column starts in `text_line`'s lines."""
    return row([name for name, _ in COLUMNS]) + "  signature  note"


def shown(text: str) -> str:
    """The sender's `text` as Rich markup that prints it as it is, on one line: control characters escaped, and
    brackets not read as markup."""
    return escape(escape_controls(text))


def text_line(arrival: Arrival) -> str:
    """A request as `listen` prints it in text (Rich markup), under the titles of `header`."""
    clock = datetime.fromtimestamp(arrival.at).strftime("%H:%M:%S.%f")[:-3]
    color = "green" if 200 <= arrival.status < 300 else "red"
    check_text = f"{MARKS[arrival.verified]} {arrival.scheme}"
    if arrival.verified is not True:
        check_text += f" ({shown(arrival.reason)})"
    cells = [
        clock,
        arrival.provider,
        shown(", ".join(arrival.types)),
        shown(", ".join(arrival.event_ids) or "-"),
        shown(arrival.delivery_id or "-"),
    ]
    answer = f"[{color}]{arrival.status}[/]" + " " * (COLUMNS[-1][1] - len(str(arrival.status)))
    return f"{row(cells)}  {answer}  {check_text}  {shown(arrival.note)}".rstrip()


def body_text(body: bytes) -> Text:
    """A body as `--print-body` prints it: JSON indented and highlighted, anything else as text; on lines of its
    own either way, its other control characters escaped. JSON writes C0 controls as `\\u001b` itself, but leaves
    C1 controls (CSI is one) and the line separators as they are: those are written as JSON's escapes too, so the
    text is still the body's JSON."""
    try:
        data = json_input.loads(body)
        text = json.dumps(data, indent=2, ensure_ascii=False)
    except (json_input.NotJson, ValueError, RecursionError):  # not JSON, or nested deeper than json.dumps writes
        return Text(escape_controls(body.decode("utf-8", "replace"), CONTROL_BUT_NEWLINE))
    # Outside its strings json.dumps writes no control but LF; inside them, none but these.
    text = CONTROL_BUT_NEWLINE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    highlighted = JSONHighlighter()(text)
    highlighted.no_wrap, highlighted.overflow = True, None  # as Rich's own JSON: long lines run on, not cut
    return highlighted


def record(arrival: Arrival) -> dict[str, Any]:
    """A request as `--format json` prints it: the fields of its text line, and its body parsed (`body` is null
    and `body_text` holds the text when it is not JSON)."""
    fields: dict[str, Any] = {
        "time": iso_ms(datetime.fromtimestamp(arrival.at, UTC)),
        "method": arrival.method,
        "path": arrival.path,
        "provider": arrival.provider,
        "types": list(arrival.types),
        "event_ids": list(arrival.event_ids),
        "delivery_id": arrival.delivery_id,
        "signature": {"scheme": arrival.scheme, "verified": arrival.verified, "reason": arrival.reason},
        "status": arrival.status,
        "note": arrival.note or None,
    }
    try:
        fields["body"] = json_input.loads(arrival.body)
    except json_input.NotJson:
        fields.update(body=None, body_text=arrival.body.decode("utf-8", "replace"))
    return fields


def json_line(arrival: Arrival) -> str:
    """`record` on one line. ASCII escapes: a line any terminal or pipe encoding takes."""
    fields = record(arrival)
    try:
        return json.dumps(fields)
    except (ValueError, RecursionError):  # a body json_input read, nested deeper than json.dumps writes
        return json.dumps({**fields, "body": None, "body_text": arrival.body.decode("utf-8", "replace")})
