"""Server logs: plain text or one JSON object per line, each record carrying the id of the request it is
part of. Request bodies, secrets and the Authorization header are never logged."""

from __future__ import annotations

import contextvars
import copy
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from simulator.escapes import CONTROL_BUT_NEWLINE
from simulator.escapes import escape_controls as escape_controls  # re-exported: the CLI prints with it

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes the access log sets with `extra=`; copied into the JSON object when present.
_FIELDS = ("method", "path", "status", "duration_ms")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms"}`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in _FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message`, one line per record: control characters in the message are escaped. A
    traceback keeps its line breaks, but every line after the first is indented, so no text an exception
    carries can start a line that reads like a record of its own."""

    def __init__(self) -> None:
        super().__init__(_TEXT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)
        safe.message = escape_controls(record.message)
        return super().formatMessage(safe)

    def formatException(self, ei: Any) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return escape_controls(text, CONTROL_BUT_NEWLINE).replace("\n", "\n    ")  # its line breaks kept


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send every log record (the server's, uvicorn's, APScheduler's) to stderr in `fmt` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # APScheduler logs every firing at INFO; the server logs the runs they start.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
