"""Start-up: `webhook-sim serve` until `/health` answers, and the pytest fixture until it is ready (ms)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.harness import free_port

FIXTURE = """
import json, time
started = time.perf_counter()
import simulator.api.app, simulator.core.simulator
from simulator.testing import webhook_sim
imported = time.perf_counter()
with webhook_sim() as sim:
    ready = time.perf_counter()
    sim.subscribe("http://127.0.0.1:9/")
again = time.perf_counter()
with webhook_sim() as sim:
    ready_again = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "ready_ms": (ready - imported) * 1000,
                  "again_ms": (ready_again - again) * 1000}))
"""


def serve_ms(repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        port = free_port()
        with tempfile.TemporaryDirectory() as d:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port), "--db", str(Path(d, "s.db"))],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                while True:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                            if r.status == 200:
                                break
                    except OSError:
                        if time.perf_counter() - started > 30:
                            raise
                        time.sleep(0.005)
                best = min(best, (time.perf_counter() - started) * 1000)
            finally:
                proc.terminate()
                proc.wait(timeout=15)
    return best


def fixture_ms(repeat: int = 3) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", FIXTURE], capture_output=True, text=True, timeout=60, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: min(r[k] for r in runs) for k in runs[0]}


if __name__ == "__main__":
    print("serve ready (ms):", round(serve_ms()))
    print("fixture:", fixture_ms())
