"""Property-based (hypothesis) over the Basis Theory twin's routes against a served simulator: whatever method,
id, key, query and body arrive, the answer is never a 5xx, and every refusal is Basis Theory's ProblemDetails."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.harness import ApiServer, serving_api

EXAMPLES = int(os.environ.get("WEBHOOK_SIM_FUZZ_EXAMPLES", "100"))
PATHS = [
    "/tokens",
    "/tokens/{id}",
    "/v2/tokens",
    "/token-intents",
    "/token-intents/{id}",
    "/3ds/sessions/{id}",
    "/applications/{id}",
    "/reactors/{id}",
    "/proxies/{id}",
    "/webhooks",
    "/webhooks/{id}",
    "/webhooks/event-types",
    "/keys/webhooks.v1.key",
    "/{id}",
]
EVENT_NAMES = ["token.created", "token:created", "x"]
CARD = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030, "cvc": "123"}
ids = st.one_of(st.text(st.characters(codec="utf-8"), min_size=1, max_size=40), st.uuids())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Bodies near the valid ones (so validation is reached, not only the JSON parser), and anything at all.
near_valid = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["card", "bank", "token", "nope", 3]),
        "data": st.one_of(st.just(CARD), json_values, st.fixed_dictionaries({"number": st.text(max_size=20)})),
        "token_intent_id": st.one_of(st.text(max_size=40), st.integers()),
        "name": json_values,
        "url": st.one_of(st.just("http://127.0.0.1:9/x"), st.text(max_size=30)),
        "events": st.one_of(st.lists(st.sampled_from(EVENT_NAMES), max_size=3), json_values),
        "status": st.sampled_from(["enabled", "disabled", "on", None]),
        "metadata": json_values,
        "containers": json_values,
        "expires_at": json_values,
        "id": json_values,
    },
)
bodies = st.one_of(near_valid.map(lambda b: json.dumps(b).encode()), st.binary(max_size=64), st.none())
queries = st.dictionaries(st.sampled_from(["size", "start", "type"]), st.text(max_size=12), max_size=2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with serving_api(Path(tmp_path_factory.mktemp("fuzz"))) as srv:
        yield srv


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.sampled_from(PATHS),
    ident=ids,
    key=st.sampled_from([None, "", "key_fuzz"]),
    query=queries,
    body=bodies,
)
def test_no_input_gives_a_server_error(
    server: ApiServer, method: str, path: str, ident: Any, key: str | None, query: dict[str, str], body: bytes | None
) -> None:
    headers = {"BT-API-KEY": key} if key is not None else {}
    url = f"{server.url}/basistheory" + path.replace("{id}", quote(str(ident), safe=""))
    response = httpx.request(method, url, headers=headers, params=query, content=body, timeout=10)
    assert response.status_code < 500, (method, url, body, response.text)
    if response.status_code >= 400:
        problem = response.json()
        assert problem["status"] == response.status_code and problem["title"] and problem["detail"], problem
        assert isinstance(problem.get("errors", {}), dict), problem
