"""A scenario parameter a run or a schedule gives a value its steps or its provider cannot use is refused up front,
a 422 naming `params.<name>`: a count or a duration the steps read (told only of the step it reached, in a file on
the server the client never wrote), and a Basis Theory `token_type` (accepted, and the run failed later)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.harness import problem

CASES = [
    ("syncfy-credential-lifecycle", {"refreshes": -1}, "refreshes", "expected a whole number of iterations"),
    ("basistheory-token-lifecycle", {"token_type": "nope"}, "token_type", "unknown token type 'nope'; known: "),
    ("basistheory-3ds-challenge", {"token_type": "nope"}, "token_type", "unknown token type 'nope'"),
]


@pytest.mark.parametrize("route", ["/runs", "/schedules"])
@pytest.mark.parametrize(("scenario", "params", "name", "said"), CASES)
def test_a_parameter_its_scenario_cannot_use_is_a_422_naming_it(
    api: httpx.Client, route: str, scenario: str, params: dict, name: str, said: str
) -> None:
    body = {"scenario": scenario, "params": params, "speed": 0, "subscriptions": []}
    if route == "/schedules":
        body["interval"] = 3600
    refused = problem(api.post(route, json=body), 422, f"params.{name}")
    [error] = [e for e in refused["errors"] if e["field"] == f"params.{name}"]
    assert said in error["message"] and "file" not in error, refused  # the step it reaches, if any, in its file
    assert api.get("/runs").json()["data"] == [] and api.get("/schedules").json()["data"] == []
