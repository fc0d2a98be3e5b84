from collections.abc import Iterator

import pytest
from consumer_app import Consumer, Settings

from simulator.testing import serve_app


@pytest.fixture
def consumer(webhook_sim) -> Iterator[Consumer]:
    """The consumer, served on a local port, trusting the simulator's Basis Theory key."""
    service = Consumer(Settings(basistheory_public_key=webhook_sim.public_key_pem))
    with serve_app(service.app()) as server:
        service.url = server.url
        yield service


@pytest.fixture
def syncfy_endpoint(consumer: Consumer) -> str:
    return consumer.url + "/webhooks/syncfy"
