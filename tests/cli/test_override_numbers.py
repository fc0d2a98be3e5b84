"""JSON has one number type: an override of `1.0` is the integer 1 in the body, from a scenario's `with:` and
`trigger --override` as from `POST /events`, whose reader takes `1.0` as 1. YAML and `--override` read it as a
float, and the same override went out `1.0` on those paths, which a consumer's integer field refuses."""

from __future__ import annotations

import re
from pathlib import Path

from simulator.testing.receiver import Receiver

SCENARIO = """name: whole-floats
provider: syncfy
steps:
  - emit: credentials.updated
    with: {payload.is_executing: 1.0}
"""
WHOLE = re.compile(rb'"is_executing":\s*1[,}]')


def test_trigger_sends_a_whole_float_override_as_the_integer(main, receiver: Receiver) -> None:
    ran = main("trigger", "credentials.updated", "--target", receiver.url, "--override", "payload.is_executing=1.0")
    assert ran.code == 0, ran
    [request] = receiver.requests
    assert WHOLE.search(request.body), request.body


def test_a_scenarios_whole_float_override_is_the_integer(main, receiver: Receiver, tmp_path: Path) -> None:
    scenario = tmp_path / "whole-floats.yaml"
    scenario.write_text(SCENARIO)
    ran = main("run", str(scenario), "--target", receiver.url, "--speed", "0", "--seed", "1")
    assert ran.code == 0, ran
    [request] = receiver.requests
    assert WHOLE.search(request.body), request.body
