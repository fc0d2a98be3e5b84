"""How `listen` writes down a request: `Arrival`, the columns of its text line, and its `--format json` record."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from simulator import json_input
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


def row(cells: list[str]) -> str:
    """Cells padded to their columns' widths (the markup-free text of each decides its width)."""
    out = []
    for cell, (_, width) in zip(cells, COLUMNS, strict=False):
        out.append(cell + " " * max(0, width - len(Text.from_markup(cell).plain)))
    return "  ".join(out)


def header() -> str:
    """The column titles, each where its column starts in `show`'s lines."""
    return row([name for name, _ in COLUMNS]) + "  signature  note"


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
