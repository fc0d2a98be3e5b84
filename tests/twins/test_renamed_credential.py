"""A scenario that names its credential (`with: {payload.id_credential: …}`) gets that credential throughout: the
URLs of its events and its later events name it, and each URL answers from the twin with it. The URLs kept the
id the credential was built with, which no event of the story named, and so did its later events."""

from __future__ import annotations

from pathlib import Path

import httpx

from simulator import testing
from simulator.testing.receiver import Receiver
from tests.twins.syncfy_harness import envelope, finished_run, run_events, twin_client
from tests.twins.test_syncfy_endpoints import check, urls_of

NAMED = "0123456789abcdef01234567"
SCENARIO = f"""\
name: named-credential
provider: syncfy
params:
  institution: {{default: fiscal}}
steps:
  - emit: credentials.created
    with: {{payload.id_credential: "{NAMED}"}}
  - wait: 1h
  - emit: credentials.updated
  - wait: 1h
  - emit: credentials.refreshed
"""


def test_a_named_credential_is_named_by_every_url_and_every_later_event(tmp_path: Path) -> None:
    (tmp_path / "named.yaml").write_text(SCENARIO)
    with (
        Receiver() as receiver,
        testing.webhook_sim(scenario_dirs=[tmp_path]) as sim,
        httpx.Client(base_url=sim.url, timeout=30.0) as control,
        twin_client(sim.url) as syncfy,
    ):
        events = run_events(control, finished_run(control, "named-credential", receiver.url, seed=3))
        types = {row["id_document_type"] for row in envelope(syncfy.get("/v1/documents/catalogues/document_types"))}
        assert [e["body"]["payload"]["id_credential"] for e in events] == [NAMED] * 3
        for event in events:
            header, payload = event["body"]["header"], event["body"]["payload"]
            for kind, url in urls_of(payload):
                assert NAMED in url, url
                check(kind, syncfy.get(url), header, payload, event["type"], types)
