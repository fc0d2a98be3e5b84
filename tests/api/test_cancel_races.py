"""Cancels of one run that arrive together: each answers the run as it ended, and what its faults held still goes.
A second cancel used to cut the first one's clean-up short (letting go what `burst` holds, writing the end)."""

from __future__ import annotations

import threading
from pathlib import Path

from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer, eventually, serving_api

CANCELS = 6  # at once, on one run
RUNS = 5  # each of them: the race is a matter of timing, so it is run several times


def cancel_together(server: ApiServer, run_id: str) -> list[str]:
    """POST /runs/{run_id}/cancel from CANCELS threads released at one moment; the statuses they answered."""
    answers: list[str] = []
    start = threading.Barrier(CANCELS)

    def cancel() -> None:
        with server.client() as client:
            start.wait()
            response = client.post(f"/runs/{run_id}/cancel")
            assert response.status_code == 200, response.text
            answers.append(response.json()["status"])

    threads = [threading.Thread(target=cancel) for _ in range(CANCELS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_cancels_at_once_all_answer_cancelled_and_the_held_deliveries_go(tmp_path: Path) -> None:
    with Receiver() as receiver, serving_api(tmp_path) as server, server.client() as api:
        for n in range(RUNS):
            sub = api.post("/subscriptions", json={"url": receiver.url, "signing": "none"}).json()
            # The first event's delivery is held by the burst (of 50, never complete) while the run waits an hour.
            spec = {
                "scenario": "api-slow",
                "subscriptions": [sub["id"]],
                "speed": 1,
                "seed": n,
                "faults": {"burst": 50},
            }
            response = api.post("/runs", json=spec)
            assert response.status_code == 202, response.text
            run = response.json()

            def held(run_id: str = run["id"]) -> list[dict]:
                return api.get("/deliveries", params={"run": run_id}).json()["data"]

            (delivery,) = eventually(held, what="the held delivery stored")
            assert delivery["status"] == "pending"
            assert cancel_together(server, run["id"]) == ["cancelled"] * CANCELS
            # A cancelled run's deliveries go on: the burst lets go of what it held.
            eventually(
                lambda d=delivery["id"]: api.get(f"/deliveries/{d}").json()["status"] == "succeeded",
                what=f"{delivery['id']} sent after its run was cancelled",
            )
