"""Whole numbers written in text from outside (a header, a path, a scenario's field) read as ASCII digits alone.

`str.isdigit` is true of `²` and `١`, which `int` refuses or reads as a digit no sender wrote, and `int` refuses
more than 4,300 digits: a Content-Length of 5,000 zeros and a 10, which HTTP parsers take, raised ValueError where
a length was read, inside a connection's callbacks (the attempt never ended) and in the control API (a 500).
"""

from __future__ import annotations


def is_digits(text: str) -> bool:
    """Whether `text` is one or more ASCII digits and nothing else."""
    return text.isascii() and text.isdigit()


def whole(text: str, most: int = 20) -> int | None:
    """`text` as a whole number when it is ASCII digits alone with at most `most` digits past its leading zeros;
    else None (not a number, or one too large for any count this reads)."""
    if not is_digits(text):
        return None
    significant = text.lstrip("0") or "0"
    return int(significant) if len(significant) <= most else None
