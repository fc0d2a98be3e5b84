"""What a web page may not do to a server without a token: post changes from another site (CSRF), post a body
without a Content-Type, or reach a loopback server under a rebound name (DNS rebinding). Real HTTP on 127.0.0.1;
every refusal is checked to have changed nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.api.app import server_app
from tests.api.conftest import TOKEN
from tests.api.harness import ApiServer, problem, write_scenarios
from tests.api.serving import Served, clean_env

URL = "http://127.0.0.1:9/x"
BODY = b'{"url": "http://127.0.0.1:9/x"}'
JSON = {"Content-Type": "application/json"}
EVIL = "http://attacker.example"
# What a browser adds to `fetch(url, {method: "POST", mode: "no-cors"})` run by a page of another site.
NO_CORS = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}


def subscriptions(api: httpx.Client) -> list[dict[str, Any]]:
    response = api.get("/subscriptions")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def own(api: httpx.Client) -> str:
    return str(api.base_url).rstrip("/")


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[ApiServer]:
    """A server that listens off loopback as far as it knows (`serve --host 0.0.0.0`), here on 127.0.0.1."""
    app = server_app(
        str(tmp_path / "api.db"), scenario_dirs=[write_scenarios(tmp_path / "sc")], grace=1, loopback=False
    )
    srv = ApiServer(app).start()
    yield srv
    srv.stop()


# --- a body without a Content-Type -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/subscriptions", "/events", "/runs"])
def test_a_body_without_a_content_type_is_refused(api: httpx.Client, path: str) -> None:
    """A `no-cors` fetch of a Blob sends no Content-Type: such a body is not read as JSON."""
    body = problem(api.post(path, content=BODY), 415, "body")
    assert "Content-Type" in body["detail"]
    assert subscriptions(api) == []


def test_an_empty_body_stays_allowed_where_a_route_takes_none(api: httpx.Client) -> None:
    created = api.post("/subscriptions", json={"url": URL})
    assert created.status_code == 201, created.text
    assert api.post("/reset").status_code in (200, 204)
    assert subscriptions(api) == []


# --- a page of another site -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marks",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # a sandboxed frame, a file:// page
        {"Origin": "http://127.0.0.1:1"},  # this machine, another port: another origin
        NO_CORS,
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"},
    ],
)
def test_a_post_from_another_site_is_refused_and_changes_nothing(api: httpx.Client, marks: dict[str, str]) -> None:
    body = problem(api.post("/subscriptions", content=BODY, headers={**JSON, **marks}), 403)
    assert "Origin" in body["detail"]
    assert body["errors"][0]["field"] in ("Origin", "Sec-Fetch-Site")
    assert subscriptions(api) == []


def test_an_empty_no_cors_reset_from_another_site_resets_nothing(api: httpx.Client) -> None:
    """`fetch(server + '/reset', {method: 'POST', mode: 'no-cors'})` from any page the developer opens."""
    assert api.post("/subscriptions", json={"url": URL}).status_code == 201
    problem(api.post("/reset", headers=NO_CORS), 403, "Origin")
    assert [s["url"] for s in subscriptions(api)] == [URL]


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "PUT"])
def test_every_changing_method_is_checked(api: httpx.Client, method: str) -> None:
    sub = api.post("/subscriptions", json={"url": URL}).json()
    problem(api.request(method, f"/subscriptions/{sub['id']}", json={"url": URL}, headers={"Origin": EVIL}), 403)
    assert [s["id"] for s in subscriptions(api)] == [sub["id"]]


def test_reads_from_another_origin_are_answered(api: httpx.Client) -> None:
    """A browser lets no page of another origin read the answer (no CORS headers): a GET changes nothing."""
    assert api.get("/subscriptions", headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_the_same_origin_and_clients_without_origin_pass(api: httpx.Client) -> None:
    same = {"Origin": own(api), "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    assert api.post("/subscriptions", json={"url": URL}, headers=same).status_code == 201
    assert api.post("/subscriptions", json={"url": URL + "2"}).status_code == 201  # curl, SDKs, the CLI
    typed = {"Sec-Fetch-Site": "none"}  # typed in the address bar: the user's own doing
    assert api.post("/subscriptions", json={"url": URL + "3"}, headers=typed).status_code == 201
    assert api.post("/reset", headers=same).status_code in (200, 204)
    assert subscriptions(api) == []


def test_the_same_origin_by_localhost_name_passes(api: httpx.Client) -> None:
    port = api.base_url.port
    headers = {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}", **JSON}
    assert api.post("/subscriptions", content=BODY, headers=headers).status_code == 201
    # The Origin's port must be the Host's: the page at localhost:80 is another origin.
    headers = {"Host": f"localhost:{port}", "Origin": "http://localhost", **JSON}
    problem(api.post("/subscriptions", content=BODY, headers=headers), 403, "Origin")
    assert len(subscriptions(api)) == 1


def test_a_token_does_not_lift_the_origin_check(secured_server: ApiServer) -> None:
    with secured_server.client(TOKEN) as api:
        problem(api.post("/subscriptions", content=BODY, headers={**JSON, "Origin": EVIL}), 403, "Origin")
        assert subscriptions(api) == []


# --- a rebound name ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example.", "localhost.attacker.example", "127.0.0.1.nip.io"]
)
def test_a_foreign_host_on_loopback_is_refused(api: httpx.Client, host: str) -> None:
    """After rebinding its name to 127.0.0.1 a page reads this server as its own origin: its Host gives it away."""
    port = api.base_url.port
    response = api.get("/subscriptions", headers={"Host": f"{host}:{port}"})
    body = problem(response, 421, "Host")
    assert "Host" in body["detail"] and "data" not in body
    refused = api.post("/subscriptions", json={"url": URL}, headers={"Host": f"{host}:{port}"})
    problem(refused, 421, "Host")
    assert subscriptions(api) == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "dash.localhost", "[::1]", "10.0.0.5"])
def test_loopback_names_and_addresses_are_answered(api: httpx.Client, host: str) -> None:
    assert api.get("/subscriptions", headers={"Host": f"{host}:{api.base_url.port}"}).status_code == 200
    assert api.get("/health", headers={"Host": host}).status_code == 200


def test_off_loopback_any_host_is_answered(open_server: ApiServer) -> None:
    with open_server.client() as api:
        assert api.get("/subscriptions", headers={"Host": "sim.internal:8080"}).status_code == 200
        # The Origin check holds there too: the same origin passes, another is refused.
        same = {"Host": "sim.internal:8080", "Origin": "http://sim.internal:8080"}
        assert api.post("/subscriptions", json={"url": URL}, headers=same).status_code == 201
        problem(api.post("/subscriptions", json={"url": URL}, headers={"Origin": EVIL}), 403, "Origin")
        assert len(subscriptions(api)) == 1


def test_serve_checks_the_host_on_loopback_only(tmp_path: Path) -> None:
    for args, status in ((["--host", "127.0.0.1"], 421), (["--host", "0.0.0.0", "--insecure-no-token"], 200)):
        served = Served(tmp_path / args[1], args)
        try:
            answer = httpx.get(f"http://127.0.0.1:{served.port}/subscriptions", headers={"Host": "attacker.example"})
            assert answer.status_code == status, answer.text
        finally:
            served.stop()


# --- the provider twins answer in their own shape --------------------------------------------------------


def test_the_twins_refuse_in_their_own_shape(api: httpx.Client) -> None:
    syncfy = api.post("/syncfy/v1/users?api_key=any", json={"name": "x"}, headers={"Origin": EVIL})
    assert syncfy.status_code == 403
    assert list(syncfy.json()) == ["rid", "code", "errors", "status", "message", "response"]
    assert "Origin" in syncfy.json()["message"]
    bt = api.post("/basistheory/tokens", json={"type": "token", "data": "x"}, headers={"BT-API-KEY": "k", **NO_CORS})
    assert bt.status_code == 403 and "Origin" in bt.json()["detail"]
    assert (bt.json()["title"], bt.json()["type"]) == ("Forbidden", "https://tools.ietf.org/html/rfc7231#section-6.5.3")
    assert "field" not in bt.text  # Basis Theory's shape, not the control API's [{field, message}]
    assert list(bt.json()["errors"]) == ["Origin"], bt.text  # {header: [message]}, as its other refusals
    port = api.base_url.port
    rebound = api.get("/basistheory/tokens", headers={"BT-API-KEY": "k", "Host": f"attacker.example:{port}"})
    assert rebound.status_code == 421 and "Host" in rebound.json()["detail"]
    assert rebound.json()["title"] == "Misdirected Request" and list(rebound.json()["errors"]) == ["Host"]
    users = api.get("/syncfy/v1/users", headers={"Authorization": "api_key api_key=any"})
    assert users.status_code == 200 and users.json()["response"] in ([], None), users.text


# --- names a local reverse proxy or tunnel passes on (--allowed-host) ------------------------------------------


@pytest.fixture
def proxied_server(tmp_path: Path) -> Iterator[ApiServer]:
    """A loopback server behind a proxy named sim.example.test and a tunnel's names under .tunnel.test."""
    app = server_app(
        str(tmp_path / "api.db"),
        scenario_dirs=[write_scenarios(tmp_path / "sc")],
        grace=1,
        allowed_hosts=["sim.example.test", ".tunnel.test"],
    )
    srv = ApiServer(app).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("host", ["sim.example.test", "SIM.example.test.", "tunnel.test", "ab12.eu.tunnel.test"])
def test_an_allowed_host_is_answered_and_its_own_pages_may_post(proxied_server: ApiServer, host: str) -> None:
    name = host.rstrip(".").lower()
    with proxied_server.client() as api:
        assert api.get("/subscriptions", headers={"Host": host}).status_code == 200
        same = {"Host": host, "Origin": f"http://{name}"}
        assert api.post("/subscriptions", json={"url": URL}, headers=same).status_code == 201
        # A local proxy that ends TLS says so (uvicorn trusts X-Forwarded-Proto from 127.0.0.1): a page of the
        # proxied https origin is the server's own.
        proxied = {"Host": name, "Origin": f"https://{name}", "X-Forwarded-Proto": "https"}
        assert api.post("/subscriptions", json={"url": URL}, headers=proxied).status_code == 201
        refused = api.post("/subscriptions", json={"url": URL}, headers={"Host": name, "Origin": EVIL})
        problem(refused, 403, "Origin")
        assert len(subscriptions(api)) == 2


@pytest.mark.parametrize("host", ["example.test", "other.example.test", "sim.example.test.evil", "eviltunnel.test"])
def test_names_beside_the_allowed_ones_are_still_refused(proxied_server: ApiServer, host: str) -> None:
    with proxied_server.client() as api:
        body = problem(api.get("/subscriptions", headers={"Host": host}), 421, "Host")
        assert f"--allowed-host {host}" in body["detail"]  # the refusal says how to let a proxy's name in
        problem(api.post("/subscriptions", json={"url": URL}, headers={"Host": host}), 421, "Host")
        assert subscriptions(api) == []


def test_allowed_host_all_answers_every_name_and_keeps_the_origin_check(tmp_path: Path) -> None:
    served = Served(tmp_path / "all", ["--allowed-host", "all"])
    try:
        answer = httpx.get(f"http://127.0.0.1:{served.port}/subscriptions", headers={"Host": "random-123.tunnel.test"})
        assert answer.status_code == 200, answer.text
        refused = httpx.post(f"{served.url}/subscriptions", json={"url": URL}, headers={"Origin": EVIL})
        assert refused.status_code == 403, refused.text
    finally:
        served.stop()


def test_serve_takes_allowed_hosts_from_the_environment_and_checks_them(tmp_path: Path) -> None:
    env = {**clean_env(), "WEBHOOK_SIM_ALLOWED_HOST": "sim.example.test,.tunnel.test"}
    served = Served(tmp_path / "env", env=env)
    try:
        for host, status in (("sim.example.test", 200), ("x.tunnel.test", 200), ("attacker.example", 421)):
            answer = httpx.get(f"http://127.0.0.1:{served.port}/subscriptions", headers={"Host": host})
            assert answer.status_code == status, (host, answer.text)
    finally:
        served.stop()
    bad = {**clean_env(), "WEBHOOK_SIM_ALLOWED_HOST": "sim.example.test:8080"}
    command = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--db", str(tmp_path / "bad.db")]
    done = subprocess.run(command, env=bad, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "--allowed-host" in done.stderr and "WEBHOOK_SIM_ALLOWED_HOST" in done.stderr and "8080" in done.stderr
    flag = subprocess.run([*command, "--allowed-host", "http://x"], env=clean_env(), capture_output=True, text=True)
    assert flag.returncode == 2 and "--allowed-host" in flag.stderr and "not a host name" in flag.stderr


@pytest.mark.parametrize("host", ["evil@x.test", "xn--mnchen-3ya.test!", "a b"])
def test_the_421_suggests_only_a_name_the_option_takes(api: httpx.Client, host: str) -> None:
    body = problem(api.get("/subscriptions", headers={"Host": host}), 421, "Host")
    assert body["detail"].endswith("--allowed-host NAME"), body["detail"]
