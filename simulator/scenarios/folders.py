"""The scenario files of a folder, and what discovery's cache depends on there (names, times and sizes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from simulator import files
from simulator.errors import FieldError


def yaml_files(folder: Path, errors: list[FieldError]) -> list[Path]:
    """The scenario files of `folder` in name order; a missing folder, and what is named like a scenario file but
    is not a regular one, are added to `errors`."""
    found = files.kind(folder)
    if found != "folder":
        why = "no such directory" if found in files.KINDS else f"cannot be read ({found})"
        errors.append(FieldError("", f"{why}: expected a folder of scenario files", str(folder)))
        return []
    try:
        named = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    except OSError as exc:
        errors.append(FieldError("", f"cannot be read ({exc.strerror}): not read", str(folder)))
        return []
    regular = [p for p in named if files.kind(p) == "file"]
    for path in named:
        if path not in regular:  # skipped unsaid, a folder or a FIFO so named left its author looking for a typo
            errors.append(FieldError("", "not a regular file (a folder, a FIFO, a broken link): not read", str(path)))
    return regular


def signature(folder: Path) -> tuple[Any, ...] | None:
    """What discovery depends on in `folder`: each scenario file's name, modification time and size."""
    try:
        with os.scandir(folder) as entries:
            named = [e for e in entries if e.name.endswith((".yaml", ".yml"))]
            # What is not a file counts by its name alone: discovery reports it (see `yaml_files`).
            return tuple(sorted((e.name, *_stamp(e)) for e in named))
    except OSError:
        return None


def _stamp(entry: os.DirEntry[str]) -> tuple[int, int]:
    if not entry.is_file():
        return 0, -1
    stat = entry.stat()
    return stat.st_mtime_ns, stat.st_size
