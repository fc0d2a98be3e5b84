"""A schedule's run lives as sealed JSON in the store's own table: APScheduler's pickled job state holds only the
schedule's id and the instance, never the run's secret; the schedule still fires (signing with that secret) after
a restart; a job an earlier release pickled with its whole run is adopted, fires, and loses the secret."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from simulator import signing
from simulator.core.schedules import INSTANCE_SETTING, fire
from simulator.models.inputs import RunSpec
from simulator.receiving import make_verifier
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, serving_api


def needles(secret: str) -> list[bytes]:
    """The secret as text, its key material as text and as bytes."""
    material = secret.removeprefix("whsec_")
    return [secret.encode(), material.encode(), base64.b64decode(material)]


def job_states(db: Path) -> list[bytes]:
    with sqlite3.connect(db) as conn:
        return [bytes(row[0]) for row in conn.execute("SELECT job_state FROM apscheduler_jobs")]


def database_bytes(db: Path) -> bytes:
    return b"".join(Path(f"{db}{suffix}").read_bytes() for suffix in ("", "-wal") if Path(f"{db}{suffix}").exists())


def verified_since(receiver: Receiver, count: int) -> bool:
    later = receiver.requests[count:]
    assert all(r.verified for r in later), [r.reason for r in later]
    return len(later) > 0


def test_a_schedule_keeps_its_secret_out_of_the_job_store_and_fires_after_a_restart(tmp_path: Path) -> None:
    secret = signing.new_secret("standard")
    assert secret is not None
    db = tmp_path / "api.db"
    with Receiver(verifier=make_verifier("standard", secret=secret)) as receiver:
        with serving_api(tmp_path) as server, server.client() as api:
            body = {"scenario": "api-one-event", "interval": 1, "speed": 0, "target": receiver.url}
            made = api.post("/schedules", json={**body, "signing": "standard", "secret": secret})
            assert made.status_code == 201, made.text
            assert made.json()["run"]["secret"] != secret
            eventually(lambda: verified_since(receiver, 0), what="a firing, signed with the secret")
            (state,) = job_states(db)
            assert not any(n in state for n in needles(secret))
            assert not any(n in database_bytes(db) for n in needles(secret))
        fired = len(receiver.requests)
        with serving_api(tmp_path) as server, server.client() as api:
            assert [s["id"] for s in api.get("/schedules").json()["data"]] == [made.json()["id"]]
            eventually(lambda: verified_since(receiver, fired), what="a firing after the restart")


def test_a_job_an_earlier_release_pickled_with_its_run_is_adopted_and_loses_the_secret(tmp_path: Path) -> None:
    secret = signing.new_secret("standard")
    assert secret is not None
    db = tmp_path / "api.db"
    with serving_api(tmp_path):
        pass  # the database, and the instance id its schedules are fired for
    with sqlite3.connect(db) as conn:
        (instance,) = conn.execute("SELECT value FROM settings WHERE key = ?", (INSTANCE_SETTING,)).fetchone()

    with Receiver(verifier=make_verifier("standard", secret=secret)) as receiver:
        run = RunSpec(scenario="api-one-event", speed=0, target=receiver.url, signing="standard", secret=secret)
        old = {
            "instance": instance,
            "schedule_id": "sch_old",
            "trigger": {"interval": 1.0},
            "run": run.model_dump(mode="json"),
        }
        earlier = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{db}")})
        earlier.start(paused=True)
        earlier.add_job(fire, IntervalTrigger(seconds=1), id="sch_old", name="api-one-event", kwargs=old)
        earlier.shutdown(wait=False)
        assert any(n in job_states(db)[0] for n in needles(secret))  # what an earlier release left

        with serving_api(tmp_path) as server, server.client() as api:
            (listed,) = api.get("/schedules").json()["data"]
            assert listed["id"] == "sch_old" and listed["trigger"] == {"interval": 1.0}
            assert listed["run"]["target"] == receiver.url and listed["run"]["secret"] != secret
            eventually(lambda: verified_since(receiver, 0), what="the adopted schedule's firing")
            (state,) = job_states(db)
            assert not any(n in state for n in needles(secret))
            assert json.loads(state)["kwargs"] == {"instance": instance, "schedule_id": "sch_old"}  # no pickle
