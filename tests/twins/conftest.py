"""Fixtures of the API twin tests: a simulator served on 127.0.0.1 (the pytest plugin's, real HTTP), a receiver,
and a client of its Basis Theory twin."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator import testing
from simulator.testing import WebhookSim
from tests.store import pg

KEY = "key_test_twin"


# Bodies the standard parser fails on in its own terms, or lets through: each must be a 400 in the twin's shape.
HOSTILE_JSON = [
    b"[" * 5000 + b"]" * 5000,
    b'{"type": "card", "data": {"expiration_month": ' + b"9" * 5000 + b"}}",
    b'{"type": "token", "data": NaN}',
    b'{"type": "token", "data": -Infinity}',
]


def played(sim: WebhookSim, tmp_path: Path, name: str, text: str) -> list[dict[str, Any]]:
    """Scenario `text` written as `name`.yaml and run to its end at speed 0; the events it made, in order."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    run = sim.run(path, speed=0)
    info = run.wait(60)
    assert info.status == "completed", info
    return [event.body for event in run.events()]


@pytest.fixture(scope="module")
def sim() -> Iterator[WebhookSim]:
    with testing.webhook_sim() as served:
        yield served


_databases = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sim_on_each_store(request: pytest.FixtureRequest) -> Iterator[WebhookSim]:
    """The simulator on each store, for the twins' tests that must hold on both (a module opts in by making its
    `sim` this one): their state is read and folded the same way through either backend."""
    if request.param == "sqlite":
        with testing.webhook_sim() as served:
            yield served
        return
    with (
        pg.throwaway() as cluster,
        testing.webhook_sim(db=cluster.create_database(f"twin_{next(_databases)}")) as served,
    ):
        yield served


@pytest.fixture(scope="module")
def bt(sim: WebhookSim) -> Iterator[httpx.Client]:
    """A client of the Basis Theory twin, with a key."""
    with httpx.Client(base_url=f"{sim.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def control(sim: WebhookSim) -> Iterator[httpx.Client]:
    """A client of the simulator's control API."""
    with httpx.Client(base_url=sim.url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def syncfy(sim: WebhookSim) -> Iterator[httpx.Client]:
    """A client of the Syncfy twin, with an API key (`Authorization: api_key api_key=…`)."""
    from tests.twins.syncfy_harness import twin_client

    with twin_client(sim.url) as client:
        yield client


@pytest.fixture
def sync(sim: WebhookSim, monkeypatch: pytest.MonkeyPatch) -> Any:
    """sync-py, Syncfy's SDK, pointed at the twin (its base URL is a module constant); skipped where it is not
    installed."""
    sdk = pytest.importorskip("sync.sync")  # sync-py: its module is `sync`
    monkeypatch.setattr(sdk, "SYNC_API_URL", f"{sim.url}/syncfy/v1")
    return sdk.Sync
