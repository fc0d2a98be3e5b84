"""A parameter declared in error (`a: 5`, no `default`) is told once, at its declaration: its uses are not
also told "unknown parameter ${a} … declared under params (b)", which named a list without the `a` written
there. A parameter never declared still is."""

from __future__ import annotations

import pytest

from simulator.core.validation import check_param_types
from simulator.errors import InvalidInput
from simulator.scenarios import ScenarioInvalid, load_text

TEXT = """name: probe
provider: syncfy
params:
  a: 5
  b: {default: 1}
steps:
  - repeat: "${a}"
    steps: [{emit: credentials.created}]
  - emit: credentials.updated
    with: {payload.is_executing: "${c}"}
"""


def test_a_parameter_declared_in_error_is_told_at_its_declaration_alone() -> None:
    with pytest.raises(ScenarioInvalid) as refused:
        load_text(TEXT, "probe.yaml")
    told = [(e.line, e.field, e.message) for e in refused.value.errors]
    assert [(line, field) for line, field, _ in told] == [
        (4, "params.a"),
        (10, 'steps[1].with["payload.is_executing"]'),
    ]
    assert "expected a mapping with default" in told[0][2]
    assert "unknown parameter ${c}: expected a parameter declared under params (a, b)" in told[1][2]


def test_a_value_of_another_type_than_a_boolean_default_names_it_as_json_does() -> None:
    """`expected true or false, like the default False`: Python's word in a JSON API's answer."""
    scenario = load_text(
        "name: probe\nprovider: syncfy\nparams:\n  flag: {default: false}\nsteps:\n  - emit: credentials.created\n"
    )
    with pytest.raises(InvalidInput) as refused:
        check_param_types(scenario, {"flag": "yes"})
    [error] = refused.value.errors
    assert error.field == "params.flag" and error.message.endswith("like the default false"), error
