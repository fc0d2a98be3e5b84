"""`webhook-sim run --api-port`: while the run lasts, the twins answer on that port about the run's objects."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from simulator.testing.receiver import Receiver
from tests.api.harness import eventually
from tests.ports import free_port


def test_run_serves_the_twins_for_the_length_of_the_run(webhook_receiver: Receiver) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "simulator.cli", "run", "basistheory-token-lifecycle", "--target"]
    cmd += [webhook_receiver.url, "--speed", "1", "--seed", "3", "--api-port", str(port)]
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        try:
            first = json.loads(webhook_receiver.wait_for(1, timeout=30)[0].body)["event"]
            token_id = first["data"]["token"]["id"]
            url = f"http://127.0.0.1:{port}/basistheory/tokens/{token_id}"
            response = httpx.get(url, headers={"BT-API-KEY": "k"})
            assert response.status_code == 200 and response.json()["id"] == token_id
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    with pytest.raises(httpx.ConnectError):  # the twins end with the run
        httpx.get(url, timeout=2)


def test_serve_with_a_provider_key_refuses_every_other_key(tmp_path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port), "--db", str(tmp_path / "k.db")]
    with subprocess.Popen(
        [*cmd, "--provider-key", "key_only"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        try:
            eventually(lambda: _answers(f"http://127.0.0.1:{port}/health"), timeout=30, what="serve")
            url = f"http://127.0.0.1:{port}/basistheory/tokens/none"
            assert httpx.get(url, headers={"BT-API-KEY": "key_other"}).status_code == 401
            assert httpx.get(url, headers={"BT-API-KEY": "key_only"}).status_code == 404
        finally:
            proc.terminate()
            proc.communicate(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
