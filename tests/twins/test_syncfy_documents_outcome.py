"""A documents job has finished when it reports `documents.completed` ("possibly with errors"): a consumer that
reads the documents its endpoint lists as that notification arrives sees them as the job ended, failures included,
though the run's `documents.failed` is not due for another hour. On each store: the outcome is read with the
job's events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.providers.syncfy.api_documents import STATUSES
from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import envelope

SCENARIO = """name: {name}
provider: syncfy
steps:
  - emit: documents.completed
  - wait: 1h
  - emit: {outcome}
"""


@pytest.fixture(scope="module")
def sim(sim_on_each_store: WebhookSim) -> WebhookSim:
    return sim_on_each_store


def documents_on_completed(sim: WebhookSim, syncfy: httpx.Client, tmp_path: Path, outcome: str) -> list[Any]:
    """The documents the endpoint of a `documents.completed` lists once it is delivered, an hour at speed 1
    before the run's `outcome` for the same job."""
    name = f"documents-then-{outcome.rpartition(':')[2].replace('.', '-')}"
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, outcome=outcome))
    with Receiver() as receiver:
        run = sim.run(path, speed=1, target=receiver.url)
        try:
            (request,) = receiver.wait_for(1, timeout=30)
            (event,) = request.json()["events"]
            assert event["header"]["event"]["name"] == "documents.completed"
            (url,) = event["payload"]["endpoints"]
            documents: list[Any] = envelope(syncfy.get(url))
            assert run.get().status == "running"  # the outcome is still an hour away
        finally:
            sim.client.cancel_run(run.id)
    return documents


@pytest.mark.parametrize("failed", ["documents.failed", "syncfy:documents.fail"])
def test_a_job_that_will_fail_shows_its_failures_from_completed_on(
    sim: WebhookSim, syncfy: httpx.Client, tmp_path: Path, failed: str
) -> None:
    documents = documents_on_completed(sim, syncfy, tmp_path, failed)
    statuses = [d["id_document_status"] for d in documents]
    expected = ["Failed", "Not found", "Downloaded", "Downloaded"][: len(documents)]
    assert statuses == [STATUSES[s] for s in expected]
    assert [d["content"] is None for d in documents] == [s != "Downloaded" for s in expected]


def test_a_job_that_will_succeed_shows_every_document_downloaded(
    sim: WebhookSim, syncfy: httpx.Client, tmp_path: Path
) -> None:
    documents = documents_on_completed(sim, syncfy, tmp_path, "documents.success")
    assert {d["id_document_status"] for d in documents} == {STATUSES["Downloaded"]}
    assert all(d["content"] for d in documents)
