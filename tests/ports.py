"""Ports on 127.0.0.1 for tests: one that refuses connections, and one a server is about to take.

Tests run in several processes at once, each starting receivers on ephemeral ports. A port bound and then
released can be handed to another process's receiver a moment later, so a target meant to refuse would
reach that receiver instead. A refused port is therefore kept bound, without listening, for as long as the
process lives: connecting to it is refused, and no other socket is given it.
"""

from __future__ import annotations

import socket

_HELD: list[socket.socket] = []


def refused_port() -> int:
    """A port whose connections are refused, reserved until the process ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _HELD.append(sock)
    return int(sock.getsockname()[1])


def free_port() -> int:
    """A port free now, for a server to listen on next (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
