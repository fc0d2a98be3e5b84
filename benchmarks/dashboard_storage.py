"""Storage per delivery, now that every attempt keeps the request it sent and the answer's headers.

`python -m benchmarks.dashboard_storage [DELIVERIES]` (default 20,000 per profile) runs real deliveries (generated,
signed, sent to the fast receiver, logged) into a fresh SQLite file per profile, then reads the file: its size per
delivery, each table's share (SQLite's dbstat), what the attempts' new columns hold per attempt, and what storing
every attempt's body would have cost instead (the events' bodies, which the store keeps once and re-renders).
It prints one JSON object, with each size projected to 1,000,000 deliveries.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import fast_receiver
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.runtime import run_loop, tune_gc

# (name, provider, event types cycled through, subscription fields)
PROFILES: list[tuple[str, str, tuple[str, ...], dict[str, Any]]] = [
    ("basistheory, RSA signature", "basistheory", ("token.created", "token.updated", "token.read"), {}),
    ("syncfy, JWT signature", "syncfy", ("credentials.created", "credentials.refreshed"), {}),
    ("standard webhooks", "basistheory", ("token.created",), {"signing": "standard"}),
    (
        "faults: 10% malformed, 10% duplicate",
        "basistheory",
        ("token.created",),
        {"faults": {"malformed": {"probability": 0.1, "kind": "truncated"}, "duplicate": 0.1}},
    ),
]
MILLION = 1_000_000


def _scenario(directory: Path, provider: str, types: tuple[str, ...], deliveries: int) -> str:
    steps = "".join(f"      - emit: {t}\n" for t in types)
    Path(directory, "storage.yaml").write_text(
        f"name: storage\nprovider: {provider}\ndescription: storage benchmark\nsteps:\n"
        f"  - repeat: {max(1, deliveries // len(types))}\n    steps:\n{steps}"
    )
    return "storage"


async def _fill(db: Path, url: str, provider: str, types: tuple[str, ...], sub: dict[str, Any], n: int) -> None:
    sim = await Simulator.open(str(db), scenario_dirs=[db.parent])
    try:
        spec = SubscriptionSpec(url=url, max_in_flight=8, retry={"delays": [0.01]}, **sub)
        created = await sim.create_subscription(spec)
        scenario = _scenario(db.parent, provider, types, n)
        run = await sim.runs.start(RunSpec(scenario=scenario, speed=0, seed=1, subscriptions=[created.id]))
        while (await sim.runs.wait(run.id, timeout=5.0)).status in ("pending", "running"):
            pass
        await sim.engine.settled(run.id, timeout=120)
    finally:
        await sim.close()


def _measure(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")  # what the data takes, not what freed pages leave behind
        deliveries = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        attempts = conn.execute("SELECT count(*) FROM attempts").fetchone()[0]
        new_columns = conn.execute(
            "SELECT sum(length(request_url) + length(request_headers) + ifnull(length(request_body), 0)"
            " + ifnull(length(response_headers), 0)), sum(request_body IS NOT NULL) FROM attempts"
        ).fetchone()
        # What a copy of each attempt's body would take: the events' bodies it carries, once per attempt.
        bodies = conn.execute(
            "SELECT sum(length(e.body)) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id"
            " JOIN json_each(d.event_keys) k JOIN events e ON e.key = k.value"
        ).fetchone()[0]
        try:
            tables = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"))
        except sqlite3.OperationalError:  # an SQLite built without dbstat
            tables = {}
    size = db.stat().st_size
    per_delivery = size / deliveries
    return {
        "deliveries": deliveries,
        "attempts": attempts,
        "file_bytes_per_delivery": round(per_delivery),
        "projected_gb_at_a_million": round(per_delivery * MILLION / 1e9, 2),
        "new_columns_bytes_per_attempt": round((new_columns[0] or 0) / attempts),
        "attempts_with_a_stored_body": new_columns[1],
        "bodies_not_stored_bytes_per_attempt": round((bodies or 0) / attempts),
        "tables_bytes_per_delivery": {name: round(n / deliveries) for name, n in tables.items() if n >= 8 * deliveries},
    }


def main(deliveries: int) -> dict[str, Any]:
    out: dict[str, Any] = {"deliveries_per_profile": deliveries, "profiles": {}}
    with fast_receiver() as (url, kind):
        out["receiver"] = kind
        for name, provider, types, sub in PROFILES:
            with tempfile.TemporaryDirectory() as folder:
                db = Path(folder, "storage.db")
                started = time.perf_counter()
                run_loop(_fill(db, url, provider, types, sub, deliveries))
                measured = _measure(db)
                measured["seconds"] = round(time.perf_counter() - started, 1)
                out["profiles"][name] = measured
    return out


if __name__ == "__main__":
    tune_gc()
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000), indent=2))
