"""The Basis Theory twin on a store several servers share: what one server does once is done once across them.
Each server changed the twin's objects one call at a time, but only among its own calls: an intent converted
through two servers at once made two tokens, and a token id chosen through both was made twice, the second
silently replacing the first."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from tests.api.harness import ApiServer
from tests.twins.conftest import KEY

CARD = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}


def together(calls: list[tuple[ApiServer, dict[str, Any]]]) -> list[httpx.Response]:
    """`POST /tokens` with each body, through its server, all at once (each on a connection of its own)."""

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(headers={"BT-API-KEY": KEY}, timeout=60) as client:
            sent = [client.post(f"{srv.url}/basistheory/tokens", json=body) for srv, body in calls]
            return list(await asyncio.gather(*sent))

    return asyncio.run(send())


def test_an_intent_converted_through_two_servers_at_once_makes_one_token(
    servers: tuple[ApiServer, ApiServer],
) -> None:
    first, second = servers
    with httpx.Client(base_url=f"{first.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=30) as bt:
        intent = bt.post("/token-intents", json={"type": "card", "data": CARD}).json()
    converting = {"token_intent_id": intent["id"]}
    answers = together([(first, converting), (second, converting)] * 3)
    assert Counter(a.status_code for a in answers) == {201: 1, 404: 5}, [a.text for a in answers]


def test_a_token_id_chosen_through_two_servers_at_once_is_made_once(servers: tuple[ApiServer, ApiServer]) -> None:
    first, second = servers
    chosen = {"id": "4a7d1b5e-1111-4c1e-9f00-000000000001", "type": "token", "data": "secret"}
    answers = together([(first, chosen), (second, chosen)])
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    made = next(a.json() for a in answers if a.status_code == 201)
    with httpx.Client(base_url=f"{second.url}/basistheory", headers={"BT-API-KEY": KEY}, timeout=30) as bt:
        assert bt.get(f"/tokens/{chosen['id']}").json()["created_at"] == made["created_at"]
