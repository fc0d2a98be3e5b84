"""The login a Syncfy registration gives (`credentials.username`, `credentials.rfc` at the SAT), through Syncfy's
published Python SDK: the catalogue types it text, so a JSON number is refused in Syncfy's envelope naming the
field, as a list or a boolean is; and it is bounded, where a 100,000-character login was taken and answered (and
kept) masked at full length."""

from __future__ import annotations

from typing import Any

import pytest

from tests.twins.syncfy_harness import KEY

sdk = pytest.importorskip("sync.sync")  # sync-py: its module is `sync`
API_KEY = {"api_key": KEY}
BANK_SITE = "56cf5728784806f72b8b4568"  # the sandbox's Normal bank: its login field is `username`
FISCAL_SITE = "5da784f1f9de2a06483abec1"  # the sandbox's SAT site: its login field is `rfc`
LIMIT = 255  # the twin's bound on a login, in characters (Syncfy documents none)


def _session(sync: Any, name: str) -> dict[str, str]:
    user = sync.run(API_KEY, "/users", {"name": name}, "POST")
    token: dict[str, str] = sync.auth(API_KEY, {"id_user": user["id_user"]})
    return token


def _refused(sync: Any, token: dict[str, str], site: str, login: dict[str, Any]) -> Any:
    with pytest.raises(sdk.Error) as refused:
        sync.run(token, "/credentials", {"id_site": site, "credentials": {**login, "password": "p"}}, "POST")
    return refused.value


@pytest.mark.parametrize(
    "site,field,value",
    [
        (BANK_SITE, "username", 5512345678),  # a "Número Celular a 10 dígitos" sent as a number
        (BANK_SITE, "username", 0),
        (FISCAL_SITE, "rfc", 123456789012),
    ],
)
def test_a_login_given_as_a_number_is_refused_naming_it(sync: Any, site: str, field: str, value: int) -> None:
    token = _session(sync, "Numbers")
    refused = _refused(sync, token, site, {field: value})
    assert refused.code == 400 and refused.response["code"] == 400 and refused.response["response"] is None
    assert f"credentials.{field} must be text, not a number" == refused.message
    assert sync.run(token, "/credentials", None, "GET") == []  # nothing registered


@pytest.mark.parametrize("site,field", [(BANK_SITE, "username"), (FISCAL_SITE, "rfc")])
def test_a_login_past_the_bound_is_refused_naming_it(sync: Any, site: str, field: str) -> None:
    token = _session(sync, "Long")
    for length in (LIMIT + 1, 100_000):
        refused = _refused(sync, token, site, {field: "u" * length})
        assert refused.code == 400 and f"credentials.{field}" in refused.message, refused.message
        assert f"at most {LIMIT} characters" in refused.message
    assert sync.run(token, "/credentials", None, "GET") == []


def test_a_login_at_the_bound_is_taken_and_masked(sync: Any) -> None:
    token = _session(sync, "Bound")
    login = "a" + "b" * (LIMIT - 2) + "c"
    job = sync.run(token, "/credentials", {"id_site": BANK_SITE, "credentials": {"username": login}}, "POST")
    assert job["username"] == "a" + "*" * (LIMIT - 2) + "c"
    (credential,) = sync.run(token, f"/credentials/{job['id_credential']}", None, "GET")
    assert credential["username"] == job["username"]
