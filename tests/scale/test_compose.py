"""The docker-compose recipe in the README: every command it runs is one the image's `webhook-sim` parses, with
the store from the environment, and the processes agree on what they must share. (No container engine runs here:
the file is checked, not started.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from simulator import cli

ROOT = Path(__file__).resolve().parents[2]


def test_the_compose_file_runs_servers_that_leave_sending_to_workers(monkeypatch: pytest.MonkeyPatch):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    sims = {name: s for name, s in services.items() if name != "postgres"}
    assert {s["command"][1] for s in sims.values()} == {"serve", "worker"}
    for name, service in sims.items():
        env = service["environment"]
        assert env["WEBHOOK_SIM_DB"].startswith("postgresql://"), name
        assert "WEBHOOK_SIM_SECRET_KEY" in env, f"{name} could not unseal the subscriptions' secrets"
        for key, value in env.items():
            monkeypatch.setenv(key, "given" if "${" in value else value)
        args = cli.parser().parse_args(service["command"][1:])
        assert args.db == env["WEBHOOK_SIM_DB"]
        if args.command == "serve":
            assert args.send is False and args.token == "given"
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert sum(1 for s in sims.values() if s["command"][1] == "serve") == 2
