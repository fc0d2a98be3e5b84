"""Property: whatever a client sends to the Syncfy twin (any route, method, override, auth style, parameters and
body), a real server answers in Syncfy's envelope with a 2xx or 4xx, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.testing import WebhookSim
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import ENVELOPE_KEYS, KEY, finished_run, run_events

SAFE = st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="/?#%\\")
OID = st.one_of(st.text("0123456789abcdef", min_size=24, max_size=24), st.text(SAFE, min_size=1, max_size=30))


@pytest.fixture(scope="module")
def known(control: httpx.Client) -> list[str]:
    """Ids a story announced (credential, user, jobs, webhook notices, window rows), for the fuzzer to aim at."""
    with Receiver() as receiver:
        events = run_events(control, finished_run(control, "syncfy-credential-lifecycle", receiver.url, seed=2))
    out: set[str] = set()
    for event in events:
        for key, value in event["body"]["payload"].items():
            if key.startswith("id_") and isinstance(value, str):
                out.add(value)
        out.add(event["body"]["header"]["user"]["id_user"])
    return sorted(out)


PATHS = st.one_of(
    st.sampled_from(
        [
            "/v1/credentials",
            "/v1/credentials/all",
            "/v1/credentials/pulls",
            "/v1/accounts",
            "/v1/transactions",
            "/v1/transactions/count",
            "/v1/attachments",
            "/v1/attachments/count",
            "/v1/attachments/export",
            "/v1/documents",
            "/v1/documents/catalogues/document_status",
            "/v1/documents/catalogues/document_types",
            "/v1/catalogues/sites",
            "/v1/catalogues/organizations/sites",
            "/v1/users",
            "/v1/sessions",
            "/v1/webhooks",
        ]
    ),
    st.builds(
        lambda path, oid: path.format(oid),
        st.sampled_from(
            [
                "/v1/credentials/{}",
                "/v1/credentials/{}/pulls",
                "/v1/jobs/{}/status",
                "/v1/jobs/{}/twofa",
                "/v1/attachments/{}",
                "/v1/users/{}",
                "/v1/sessions/{}",
                "/v1/sessions/{}/verify",
                "/v1/webhooks/{}",
            ]
        ),
        OID.filter(lambda s: s not in (".", "..")),
    ),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.text(max_size=20))
PARAM_NAMES = st.sampled_from(
    [
        "id_credential",
        "id_user",
        "id_account",
        "id_transaction",
        "id_job_webhook",
        "id_site",
        "skip",
        "limit",
        "dt_refresh_from",
        "dt_refresh_to",
        "events",
        "url",
        "delay",
        "twofa",
        "credentials",
        "name",
        "is_disabled",
    ]
)
BODIES = st.one_of(
    st.none(),
    st.dictionaries(
        PARAM_NAMES,
        st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=8), SCALARS, max_size=3)),
        max_size=5,
    ),
    st.lists(SCALARS, max_size=3),
    st.binary(max_size=40),
)
AUTH = st.sampled_from(
    [None, f"api_key api_key={KEY}", f"API_KEY api_key={KEY}", "Bearer nope", "TOKEN token=x", "api_key=", "Basic abc"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=PATHS,
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    override=st.one_of(st.none(), st.sampled_from(["GET", "POST", "PUT", "DELETE", "get", "TRACE"])),
    auth=AUTH,
    query=st.dictionaries(PARAM_NAMES, st.text(max_size=12), max_size=4),
    body=BODIES,
    data=st.data(),
)
def test_no_request_gets_a_5xx_or_another_shape(
    sim: WebhookSim,
    known: list[str],
    path: str,
    method: str,
    override: str | None,
    auth: str | None,
    query: dict[str, Any],
    body: object,
    data: st.DataObject,
):
    if data.draw(st.booleans()):  # aim at what exists: a real id in the path or the query
        real = data.draw(st.sampled_from(known))
        path = path.replace(path.rsplit("/", 1)[-1], real) if path.count("/") > 2 else path
        query = {**query, data.draw(PARAM_NAMES): real}
    headers = {}
    if auth is not None:
        headers["Authorization"] = auth
    if override is not None:
        headers["X-Http-Method-Override"] = override
    content = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    response = httpx.request(
        method, f"{sim.url}/syncfy{path}", params=query, content=content, headers=headers, timeout=30.0
    )
    assert response.status_code < 500, (method, path, response.text)
    if response.headers["content-type"].startswith("application/json"):
        answer = response.json()
        assert list(answer) == ENVELOPE_KEYS and answer["code"] == response.status_code
        assert response.headers["request-id"] == answer["rid"]
    else:  # a ZIP export or an attachment's file: only on success
        assert response.status_code == 200


@pytest.mark.parametrize("field", ["name", "id_external"])
def test_a_lone_surrogate_is_refused_in_the_envelope_naming_where(sim: WebhookSim, field: str) -> None:
    """A lone UTF-16 surrogate escape decodes to no text UTF-8 can hold: it was a 500."""
    lone = '"\\udc00"'  # JSON text: the escape itself
    body = f'{{"name": {lone}}}' if field == "name" else f'{{"name": "Ana", "{field}": {lone}}}'
    response = httpx.post(
        f"{sim.url}/syncfy/v1/users",
        content=body.encode(),
        headers={"Authorization": f"api_key api_key={KEY}", "Content-Type": "application/json"},
        timeout=30.0,
    )
    answer = response.json()
    assert response.status_code == 400 and list(answer) == ENVELOPE_KEYS and answer["code"] == 400, answer
    assert "lone surrogate" in answer["message"] and f"at {field}" in answer["message"], answer
