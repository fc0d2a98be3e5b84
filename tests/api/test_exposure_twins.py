"""A token guards the provider API twins too. With any key taken, a host on the server's network, or a page that
rebinds its own name to it, made a twin's webhook (a subscription of the server's) without the token, and was sent
every event of the developer's runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.serving import Served

TOKEN = "twins-token-for-tests"


@pytest.mark.parametrize("provider_key", [None, "key_of_its_own"], ids=["token", "provider-key"])
def test_with_a_token_the_twins_take_only_their_key(tmp_path: Path, provider_key: str | None) -> None:
    extra = ["--provider-key", provider_key] if provider_key else []
    served = Served(tmp_path, ["--host", "0.0.0.0", "--token", TOKEN, *extra])
    key = provider_key or TOKEN
    hook = {"name": "hook", "url": "http://127.0.0.1:9/hook", "events": ["token.created"]}
    try:
        url = f"http://127.0.0.1:{served.port}"
        for wrong in ("anything", TOKEN if provider_key else "x"):
            made = httpx.post(f"{url}/basistheory/webhooks", json=hook, headers={"BT-API-KEY": wrong})
            assert made.status_code == 401, made.text
            listed = httpx.get(f"{url}/syncfy/v1/credentials", params={"api_key": wrong})
            assert listed.status_code == 401, listed.text
        owner = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{url}/subscriptions", headers=owner).json()["data"] == []  # nothing was made
        made = httpx.post(f"{url}/basistheory/webhooks", json=hook, headers={"BT-API-KEY": key})
        assert made.status_code == 201, made.text
        assert httpx.get(f"{url}/syncfy/v1/credentials", params={"api_key": key}).status_code == 200
    finally:
        served.stop()


def test_without_a_token_the_twins_take_any_key(tmp_path: Path) -> None:
    served = Served(tmp_path)  # loopback, open: a consumer's own key, whatever it is, works as it is
    try:
        answer = httpx.get(f"{served.url}/syncfy/v1/credentials", params={"api_key": "whatever-the-app-has"})
        assert answer.status_code == 200, answer.text
    finally:
        served.stop()
