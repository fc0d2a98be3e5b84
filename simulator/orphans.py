"""A child process that ends with its parent, however the parent ends.

The store's rows process and a run's building process end when their input does, and their parent's end closes
that input. A child that is stopped (SIGSTOP, a debugger) when its parent is killed never reads its input again,
so it stayed, stopped, holding the store's file open. On Linux the kernel kills such a child when its parent
dies (`PR_SET_PDEATHSIG`); elsewhere the end of input is all there is.

Standard library only: the rows process runs isolated (`python -I`) and loads this file by its path.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def end_with_parent(parent: int) -> None:
    """Have this process killed when `parent`, which started it, dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl to call: the end of input still ends it
            pass
    # The parent may have died before the request above: this process is then someone else's child already.
    if os.getppid() != parent:
        os._exit(1)
