"""Each built-in Syncfy story logs into the kind of site it tells of, and a documents job's notifications name ids
in the order they were made: the two-factor story drew any site (the sandbox's "Normal" one, a SAT site), whose
login asks for no second factor; the two customers linking bank accounts drew a SAT site; and a job's second
notice, backdated across a second's boundary, named an id older than its first's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from simulator.ids import object_id_time
from simulator.models import Event
from simulator.providers.syncfy._values import BANK, TWOFA_SITES
from simulator.scenarios import find, play

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SEEDS = range(1, 13)


async def _events(name: str, seed: int, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    async def emit(event: Event, step: Any) -> None:
        out.append(event.parsed())

    await play(find(name), seed=seed, params=params, start_time=START, speed=0, emit=emit)
    return out


@pytest.mark.parametrize("environment", ["sandbox", "production"])
async def test_the_two_factor_story_logs_into_a_site_that_asks_for_a_second_factor(environment: str) -> None:
    for seed in SEEDS:
        for event in await _events("syncfy-two-factor", seed, environment=environment):
            payload = event["payload"]
            if environment == "sandbox":
                assert payload["id_site"] in TWOFA_SITES, (seed, payload)
            else:
                assert payload["id_site_organization_type"] == BANK, (seed, payload)


async def test_the_two_customers_link_bank_accounts() -> None:
    for seed in SEEDS:
        sites = {
            (e["payload"]["id_site"], e["payload"]["id_site_organization_type"])
            for e in await _events("syncfy-two-customers", seed)
        }
        assert {kind for _, kind in sites} == {BANK}, (seed, sites)


@pytest.mark.parametrize("name", ["syncfy-documents-failed", "syncfy-credential-lifecycle", "syncfy-chaos"])
async def test_a_documents_jobs_notices_name_ids_in_the_order_made(name: str) -> None:
    for seed in range(1, 31):
        last: dict[str, str] = {}
        for event in await _events(name, seed):
            if not event["header"]["event"]["name"].startswith("documents."):
                continue
            job, [endpoint] = event["payload"]["id_job"], event["payload"]["endpoints"]
            webhook = endpoint.rsplit("=", 1)[1]
            if job in last:
                assert webhook > last[job], (name, seed, last[job], webhook)
                assert object_id_time(webhook) >= object_id_time(last[job])
            last[job] = webhook
