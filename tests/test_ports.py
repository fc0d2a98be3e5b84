"""The refused port the tests aim at stays refused while other processes start receivers."""

from __future__ import annotations

import socket

import pytest

from tests.ports import refused_port


def test_a_refused_port_refuses_and_no_other_socket_is_given_it() -> None:
    port = refused_port()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
    with socket.socket() as taker:
        taker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and asyncio servers bind
        with pytest.raises(OSError, match="in use"):
            taker.bind(("127.0.0.1", port))
