"""A request header's text as the client meant it."""

from __future__ import annotations


def header_text(header: str) -> str:
    """A header's text: its bytes read as UTF-8 where they are (HTTP hands them over as Latin-1, and a trace id
    "été" sent as UTF-8 reached the events as "Ã©tÃ©", a key "sëcret" never matched the server's), as they came
    otherwise. An answer that echoes a header echoes its bytes."""
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header
