"""Every process on a shared store signs with the key its servers publish: one started with another key (a worker
without the servers' `--signing-key` signed every Basis Theory delivery with the development key, which no consumer
verifying against `/keys/webhooks.pem` accepted) is refused as it joins, naming the process it differs from."""

from __future__ import annotations

import os
import socket

import pytest

from simulator.core.simulator import Simulator
from simulator.signing import SigningKey
from simulator.store.leases import SigningKeyMismatch


async def test_a_process_with_another_signing_key_is_refused(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    key = SigningKey.generate()
    server = await Simulator.open(db, key=key, sends=False)
    try:
        with pytest.raises(SigningKeyMismatch) as refused:
            await Simulator.open(db, role="worker")  # the development key
        assert f"the serve on {socket.gethostname()} (pid {os.getpid()})" in refused.value.detail
        assert "--signing-key" in refused.value.detail
        worker = await Simulator.open(db, key=SigningKey.from_pem(key.private_pem()), role="worker")
        await worker.close()
    finally:
        await server.close()
    alone = await Simulator.open(db, role="worker")  # no live process signs otherwise: a new key is the store's
    await alone.close()
