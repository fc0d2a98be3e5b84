"""The twins `run --api-port` serves have `serve`'s guards: a page of another site may not drive them (a V1
webhook made cross-site would send the run's events anywhere) nor read them through a rebound name."""

from __future__ import annotations

from pathlib import Path

import httpx

from simulator.api.twins.serving import serving
from simulator.core.simulator import Simulator

CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}


async def test_the_twins_on_a_port_of_their_own_refuse_other_sites(tmp_path: Path) -> None:
    sim = await Simulator.open(str(tmp_path / "sim.db"))
    try:
        async with serving(sim, 0) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            body = '{"url": "http://127.0.0.1:9/stolen", "events": ["credential_create"]}'
            made = await client.post("/syncfy/v1/webhooks?api_key=k", content=body, headers=CROSS_SITE)
            assert made.status_code == 403 and made.json()["code"] == 403, made.text  # Syncfy's envelope
            port = client.base_url.port
            rebound = await client.get("/syncfy/v1/webhooks?api_key=k", headers={"Host": f"evil.example:{port}"})
            assert rebound.status_code == 421, rebound.text
            listed = await client.get("/syncfy/v1/webhooks?api_key=k")
            assert listed.status_code == 200 and listed.json()["response"] == [], listed.text
    finally:
        await sim.close()
