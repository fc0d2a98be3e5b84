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


def parser() -> argparse.ArgumentParser:
    from simulator.cli import commands

    return commands.parser()
