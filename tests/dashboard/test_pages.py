"""The dashboard's files over real HTTP: the page at `/` (public, told whether a token is needed, locked down by
its Content-Security-Policy), every module it imports, revalidation, and nothing else under /ui/."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from simulator.api import dashboard
from tests.api.harness import ApiServer, problem
from tests.dashboard.conftest import TOKEN, start_server

IMPORT = re.compile(r'from "\./([\w-]+\.js)"')


def test_the_page_is_served_at_the_root(server: ApiServer) -> None:
    with server.client() as api:
        page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta name="webhook-sim-auth" content="none">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text) == ["/ui/app.css", "/ui/app.js"]


def test_every_module_the_page_imports_is_served(server: ApiServer) -> None:
    wanted, seen = ["app.js"], set()
    with server.client() as api:
        while wanted:
            name = wanted.pop()
            if name in seen:
                continue
            seen.add(name)
            response = api.get(f"/ui/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"].startswith("text/javascript")
            wanted.extend(IMPORT.findall(response.text))
        assert api.get("/ui/app.css").headers["content-type"].startswith("text/css")
    shipped = {p.name for p in dashboard.STATIC.glob("*.js")}
    assert seen == shipped  # no module left unused, none missing


def test_files_are_revalidated_by_etag(server: ApiServer) -> None:
    with server.client() as api:
        first = api.get("/ui/app.js")
        again = api.get("/ui/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert first.headers["cache-control"] == "no-cache"


def test_nothing_else_is_served_under_ui(server: ApiServer) -> None:
    with server.client() as api:
        for path in ("/ui/nope.js", "/ui/__init__.py", "/ui/..%2F__init__.py", "/ui/index.html"):
            problem(api.get(path), 404)
        problem(api.post("/"), 405)


def test_with_a_token_the_page_is_public_and_says_one_is_needed(tmp_path: Path) -> None:
    srv = start_server(tmp_path, TOKEN)
    try:
        page = httpx.get(f"{srv.url}/")
        assert page.status_code == 200
        assert '<meta name="webhook-sim-auth" content="bearer">' in page.text
        assert httpx.get(f"{srv.url}/ui/app.js").status_code == 200
        problem(httpx.get(f"{srv.url}/deliveries"), 401)
    finally:
        srv.stop()
