"""Property-based tests of the whole API from its own OpenAPI document (schemathesis): whatever is sent, the
server answers without a 5xx, with a documented status, media type and shape, and refuses invalid input.
`benchmarks/fuzz_api.py` runs the same checks with many more examples."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from simulator.api.app import ENDPOINTS
from simulator.api.openapi import document
from tests.api.conftest import TOKEN
from tests.api.harness import ApiServer, serving_api

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
# `benchmarks/fuzz_api.py` raises this for a longer run.
EXAMPLES = int(os.environ.get("WEBHOOK_SIM_FUZZ_EXAMPLES", "50"))
FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "te", "upgrade"}


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with serving_api(tmp_path_factory.mktemp("fuzz"), TOKEN) as srv:
        yield srv


# The document the server serves (a test in test_openapi.py holds them equal), loaded at collection time so
# each operation is a test of its own.
schema = schemathesis.openapi.from_dict(document(ENDPOINTS, secured=True))


@schema.hook
def filter_query(_ctx: schemathesis.HookContext, query: dict[str, Any] | None) -> bool:
    """Drop generated queries that cannot go out as generated (a nameless parameter, a list of fewer than two
    values, an object as a value): on the wire they vanish or read as a plain value, and the request would be
    judged against data that was never sent."""
    if not query:
        return True
    return all(key and _sendable(value) for key, value in query.items())


@schema.hook
def filter_headers(_ctx: schemathesis.HookContext, headers: dict[str, Any] | None) -> bool:
    """Leave message framing to the HTTP client: a made-up Content-Length is refused by the HTTP server before
    the application sees the request (a plain-text 400 that no API document describes)."""
    return not headers or not FRAMING & {name.lower() for name in headers}


def _sendable(value: Any) -> bool:
    if isinstance(value, list):
        return len(value) > 1 and all(not isinstance(v, list | dict) for v in value)
    return not isinstance(value, dict)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_input_breaks_the_api(case: schemathesis.Case, fuzzed_server: ApiServer) -> None:
    case.call_and_validate(base_url=fuzzed_server.url, headers=AUTH, checks=CHECKS, timeout=15)
