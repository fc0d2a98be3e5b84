"""A control API server on an ephemeral 127.0.0.1 port, in a thread of its own, for tests over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel
from starlette.applications import Starlette

from simulator.api.app import server_app, stopping
from simulator.models import answers as schemas
from simulator.runtime import AppServer

SCENARIOS = {
    "api-one-event": """
name: api-one-event
provider: syncfy
description: One credential is created.
steps:
  - emit: credentials.created
""",
    "api-slow": """
name: api-slow
provider: basistheory
description: A token is created, then another an hour later.
params:
  plan: {default: basic, description: a plan name}
steps:
  - emit: token.created
  - wait: 1h
  - emit: token.created
""",
}


PATH_VALUES = {"{id}": "x_nope", "{type}": "token.created", "{name}": "api-one-event"}


def concrete(path: str) -> str:
    """A route's path with a value for each parameter (ids that exist nowhere)."""
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    return path


def write_scenarios(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SCENARIOS.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


@contextmanager
def serving_api(base: Path, token: str | None = None, db: str | None = None) -> Iterator[ApiServer]:
    """A server on `base`/api.db (or the store `db` names) with the test scenarios (and `token` required, when
    given), stopped on exit."""
    app = server_app(
        db or str(base / "api.db"), scenario_dirs=[write_scenarios(base / "scenarios")], token=token, grace=1
    )
    server = ApiServer(app).start()
    try:
        yield server
    finally:
        server.stop()


class ApiServer:
    """`app` (lifespan on) served by `simulator.runtime.AppServer` until `stop()`."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._server = AppServer()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    def start(self, timeout: float = 10.0) -> ApiServer:
        self._server.start(self.app, lifespan="on", timeout=timeout, before_stopping=lambda: stopping(self.app))
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self._server.stop(timeout)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)


def eventually(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` until it is truthy and return what it gave; AssertionError after `timeout` seconds. The
    pause between two polls grows from 10 to 100 ms: a predicate is a request to a server, most often, and polling
    a long wait every 20 ms took a share of the two cores the other tests run on."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.1)
    return value


def ok(response: httpx.Response, model: type[BaseModel] | None, status: int = 200) -> Any:
    """Assert `status` and, for a JSON answer, that it is exactly the documented `model`; return the JSON."""
    assert response.status_code == status, response.text
    if model is None:
        return None
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    model.model_validate(body)
    return body


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert a problem+json answer with `status`, naming `field` among its errors when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    schemas.Problem.model_validate(body)
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body
