"""`GET /deliveries?q=` on SQLite and on PostgreSQL: text is found as the body reads, a `"` or `\\` in a string
included (a body is kept as JSON text, where they are escaped, and a search for them found nothing), and `%` and
`_` are taken as themselves, not as LIKE's wildcards."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from simulator.api.app import server_app
from tests.api.harness import ApiServer, eventually

NOTES = ['say "hi"', "C:\\temp", "50%_off", "José"]


@pytest.fixture
def api(store_url: str) -> Iterator[httpx.Client]:
    server = ApiServer(server_app(store_url, grace=1)).start()
    try:
        with server.client() as client:
            yield client
    finally:
        server.stop()


def test_text_is_found_as_the_body_reads(api: httpx.Client) -> None:
    assert api.post("/subscriptions", json={"url": "http://127.0.0.1:9/hook"}).status_code == 201
    for note in NOTES:
        override = {"data.token.metadata.note": note}
        assert api.post("/events", json={"type": "basistheory:token.created", "overrides": override}).is_success
    made = eventually(lambda: [d["id"] for d in api.get("/deliveries").json()["data"]] or None, what="deliveries")
    assert len(made) == len(NOTES)

    def found(text: str) -> list[str]:
        answer = api.get("/deliveries", params={"q": text})
        assert answer.status_code == 200, answer.text
        return [d["id"] for d in answer.json()["data"]]

    assert [found(note) for note in NOTES] == [[delivery] for delivery in made]
    assert found('a"b') == found("\\x") == []
    assert found('"hi"') == found('y "h') == [made[0]]
    assert found(":\\t") == [made[1]]
    assert found("%") == found("0%_") == found("%_o") == [made[2]]
    assert found("0_%") == found("5%off") == []
    assert found('"note":"say \\"hi\\""') == [made[0]]  # JSON as written
