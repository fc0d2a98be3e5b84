"""Text from outside (a receiver's answer, a client's path or headers) written where a control character must not
act: a log line, a terminal, an XML file. Each is written as a Python escape (`\\r`, `\\x1b`, `\\u2028`)."""

from __future__ import annotations

import re

# Characters that could end a log line or rewrite it on a terminal: C0 and C1 controls, DEL, and the Unicode line
# and paragraph separators. A request path is percent-decoded, so `%0d%0a` in a URL arrives here as CR LF.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same but LF: text of several lines (a traceback, a body) keeps its line breaks.
CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str, pattern: re.Pattern[str] = CONTROL) -> str:
    """`text` with every character `pattern` matches written as a Python escape (`\\r`, `\\x00`, `\\u2028`): one
    record is one line, whatever a client put in its path or headers."""
    return pattern.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )
