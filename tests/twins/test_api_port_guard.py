"""The twins `run --api-port` serves have `serve`'s guards: a page of another site may not drive them (a V1
webhook made cross-site would send the run's events anywhere) nor read them through a rebound name."""

from __future__ import annotations

import subprocess
import sys
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


async def test_the_twins_answer_the_names_given_with_allowed_host(tmp_path: Path) -> None:
    sim = await Simulator.open(str(tmp_path / "sim.db"))
    try:
        async with serving(sim, 0, allowed_hosts=[".tunnel.test"]) as url, httpx.AsyncClient(base_url=url) as client:
            port = client.base_url.port
            tunneled = await client.get("/syncfy/v1/webhooks?api_key=k", headers={"Host": f"ab.tunnel.test:{port}"})
            assert tunneled.status_code == 200 and tunneled.json()["response"] == [], tunneled.text
            other = await client.get("/syncfy/v1/webhooks?api_key=k", headers={"Host": f"evil.example:{port}"})
            assert other.status_code == 421 and "--allowed-host evil.example" in other.json()["message"], other.text
    finally:
        await sim.close()


def test_run_refuses_an_allowed_host_that_is_no_host_name_before_it_starts(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "simulator.cli",
        "run",
        "syncfy-credential-lifecycle",
        "--target",
        "http://127.0.0.1:9/",
    ]
    done = subprocess.run(
        [*command, "--db", str(tmp_path / "run.db"), "--api-port", "0", "--allowed-host", "x.test:80"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "--allowed-host" in done.stderr and "x.test:80" in done.stderr
    assert not (tmp_path / "run.db").exists()  # refused before anything was opened


async def test_the_twins_on_a_port_of_their_own_refuse_a_nul_as_serve_does(tmp_path: Path) -> None:
    """A NUL in the path or the query, which no id or text the twins keep can hold: a 4xx in each twin's shape,
    as on `serve`'s port, and the twins go on answering."""
    sim = await Simulator.open(str(tmp_path / "sim.db"))
    try:
        async with serving(sim, 0) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            bt = {"BT-API-KEY": "key_test_nul"}
            queried = await client.get("/basistheory/v2/tokens?start=x%00y", headers=bt)
            assert queried.status_code == 400 and list(queried.json()["errors"]) == ["start"], queried.text
            named = await client.get("/basistheory/tokens/a%00b", headers=bt)
            assert named.status_code == 404 and "NUL" in named.json()["detail"], named.text
            syncfy = await client.get("/syncfy/v1/webhooks?api_key=k&id_user=a%00b")
            assert syncfy.status_code == 400 and syncfy.json()["code"] == 400, syncfy.text  # Syncfy's envelope
            listed = await client.get("/syncfy/v1/webhooks?api_key=k")
            assert listed.status_code == 200 and listed.json()["response"] == [], listed.text
    finally:
        await sim.close()
