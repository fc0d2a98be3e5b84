"""Files named from outside (a scenario, a key, a token): read only when regular and of a bounded size. A device
such as /dev/zero never ends and a FIFO waits for a writer that may never come: either would hold the program
for good or take all its memory."""

from __future__ import annotations

import os
from pathlib import Path
from stat import S_ISDIR, S_ISREG


class NotRegular(ValueError):
    """The path is a device, a FIFO, a folder: no file to read."""


class TooLarge(ValueError):
    """The file holds more than the bound."""


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; NotRegular or TooLarge otherwise, OSError
    when it cannot be opened."""
    # Non-blocking, a FIFO opens at once (to be refused); a regular file reads as ever.
    with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as stream:
        if not S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise NotRegular(str(path))
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(str(path))
    return data


# What `kind` answers for a path it could look at; any other answer says why it could not.
KINDS = frozenset({"folder", "file", "other", "missing"})


def kind(path: str | Path) -> str:
    """What `path` names: "folder", "file", "other" (a device, a FIFO), "missing", or why it cannot be looked at
    (`File name too long`, `Permission denied`). Path.is_dir() and exists() raise for those: a name given from
    outside (an option, a file list) ended the command with a traceback."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        return getattr(exc, "strerror", None) or str(exc)
    return "folder" if S_ISDIR(mode) else "file" if S_ISREG(mode) else "other"
