"""Scenarios: the YAML format (model, loader, JSON Schema), wait distributions and the timeline interpreter.

from simulator import scenarios
scenario = scenarios.find("syncfy-credential-lifecycle")
for planned in scenarios.timeline(scenario, seed=1, params={}, start_time=t0): ...
"""

from simulator.scenarios.document import ScenarioInvalid, schema
from simulator.scenarios.loader import builtin_dir, discover, find, load_file, load_text, validate_files
from simulator.scenarios.lookup import find_name_or_file
from simulator.scenarios.model import Branch, Choose, Emit, Parallel, Param, Repeat, Scenario, Step, Wait
from simulator.scenarios.runner import Planned, play, resolve_params, timeline

__all__ = [
    "Branch",
    "Choose",
    "Emit",
    "Parallel",
    "Param",
    "Planned",
    "Repeat",
    "Scenario",
    "ScenarioInvalid",
    "Step",
    "Wait",
    "builtin_dir",
    "discover",
    "find",
    "find_name_or_file",
    "load_file",
    "load_text",
    "play",
    "resolve_params",
    "schema",
    "timeline",
    "validate_files",
]
