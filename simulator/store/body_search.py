"""Deliveries by what their bodies hold (`GET /deliveries?q=`): the text looked for in every form a body's JSON
may write it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, or_, select

from simulator.store import postgres
from simulator.store import tables as t


def body_contains(text: str, dialect: str) -> Any:
    """EXISTS: one of the delivery's events has `text` in its body (SQLite's LIKE, PostgreSQL's ILIKE: ASCII
    letters match in any case). The events are named by the JSON list in `event_keys`.

    A body is kept as JSON text: a `"` or `\\` in one of its strings is escaped there, and Syncfy's bodies escape
    every letter past ASCII (`\\u00e9`). So the text is looked for as written (JSON as such: `"note":"x"`), and as
    a string holding it reads in JSON, each way a provider writes one."""
    if postgres.is_postgresql(dialect):
        keys = postgres.json_list_values(t.deliveries.c.event_keys).alias("k")
    else:
        keys = func.json_each(t.deliveries.c.event_keys).table_valued("value").alias("k")
    body = t.events.c.body
    like = body.ilike if postgres.is_postgresql(dialect) else body.like
    matches = []
    for form in _written(text):
        escaped = form.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matches.append(like(f"%{escaped}%", escape="\\"))
    return select(1).select_from(keys.join(t.events, t.events.c.key == keys.c.value)).where(or_(*matches)).exists()


def _written(text: str) -> list[str]:
    """`text` as a body's JSON text may hold it: as it is, inside a string (`"` and `\\` escaped), and each of
    those with the letters past ASCII escaped as Syncfy's bodies have them; each once."""
    inside = json.dumps(text, ensure_ascii=False)[1:-1]
    forms = (text, inside, _ascii(text), json.dumps(text)[1:-1])
    return list(dict.fromkeys(forms))


def _ascii(text: str) -> str:
    """`text` with its letters past ASCII as JSON's `\\u` escapes (a pair for one past the BMP), the rest as it is."""
    return "".join(c if c < "\x80" else json.dumps(c)[1:-1] for c in text)
