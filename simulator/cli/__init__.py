"""The `webhook-sim` command: a thin layer over the library, one module per command, one argparse tree.

Exit codes: 0 success, 1 failure, 2 bad input, 130 after Ctrl-C.

This module imports nothing heavy: the tree (`commands`) is imported inside `main`, so a Ctrl-C while the
libraries load (a second or more on a busy machine) ends the command with 130 rather than a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from simulator.cli import commands

        return commands.main(argv)
    except KeyboardInterrupt:  # a command that has something to say on Ctrl-C says it, then ends here
        return 130
    except Exception as exc:
        if _interrupted(exc):
            return 130
        raise


def _interrupted(exc: BaseException) -> bool:
    """Whether `exc` is a Ctrl-C in disguise: pydantic-core builds a model's validator as its module is imported,
    and a Ctrl-C that lands then comes out as a SchemaError that names it (a traceback, exit 1)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        if type(seen).__name__ == "SchemaError" and "KeyboardInterrupt" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def parser() -> argparse.ArgumentParser:
    from simulator.cli import commands

    return commands.parser()
