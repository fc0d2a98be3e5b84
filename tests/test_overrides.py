"""`with:` overrides are checked against the event's JSON Schema: when an event is built, when a scenario file
is validated or a run starts (file, line and path in the error), unless a step says `unchecked: true`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from simulator import catalog
from simulator.errors import InvalidInput
from simulator.overrides import copy_fields, copy_json
from simulator.scenarios import ScenarioInvalid, load_text, resolve_params, validate_files

SCENARIO = """\
name: override-check
provider: syncfy
params:
  executing: {{default: 0}}
steps:
  - emit: credentials.created
  - emit: credentials.updated
    with:
{overrides}
"""


def build(name: str, overrides: dict[str, Any], *, checked: bool = True) -> dict[str, Any]:
    event = catalog.build_event(
        catalog.resolve(name), catalog.new_context(1, catalog.SAMPLE_TIME), overrides, checked=checked
    )
    return json.loads(catalog.render([event]))


def refused(name: str, overrides: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        build(name, overrides)
    return [(e.field, e.message) for e in caught.value.errors]


def test_a_misspelt_path_is_refused_with_the_closest_field() -> None:
    [(field, message)] = refused("credentials.updated", {"payload.is_exec": 0})
    assert field == "overrides.payload.is_exec"
    assert "did you mean payload.is_executing?" in message


@pytest.mark.parametrize(
    ("name", "path", "value", "says"),
    [
        ("credentials.updated", "payload.is_executing", "no", '"no" is not of type integer'),
        ("credentials.updated", "payload.is_executing", 2, "2"),
        ("credentials.created", "header.user.id_environment", "574894bf7848066d138b4579", 'is not one of ["'),
        ("credentials.created", "header.event.eid", "not-a-uuid", "not-a-uuid"),
        ("token.created", "data.token.type", "gift_card", "gift_card"),
        ("token.created", "data.token.metadata.plan", 3, "3"),
        ("token.created", "data.token.containers", "/pci/high/", "array"),
        ("reactor.invoked", "data.request.invocation_type", "later", "later"),
        ("token.created", "type", "token.updated", 'expected "token.created", not "token.updated"'),
    ],
)
def test_a_value_off_the_schema_is_refused(name: str, path: str, value: Any, says: str) -> None:
    [(field, message)] = refused(name, {path: value})
    assert field == f"overrides.{path}" and says in message


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("credentials.updated", {"payload.is_executing": 1, "header.user.id_external": None}),
        ("documents.completed", {"payload.endpoints.0": "/v1/documents?id_job_webhook=648cb2d190b1bf61cc50b3ba"}),
        ("token.created", {"data.token.metadata.anything": "goes", "data.token.containers": ["/pci/low/"]}),
        (
            "reactor.invoked",
            {"data.request": {"id": "1f7d9a3e-2b5c-4d8e-9f0a-1b2c3d4e5f60", "invocation_type": "async"}},
        ),
        ("token.created", {"data.actor.type": "admin", "trace_id": "1f7d9a3e-2b5c-4d8e-9f0a-1b2c3d4e5f60"}),
    ],
)
def test_values_the_schema_accepts_go_through(name: str, overrides: dict[str, Any]) -> None:
    body = build(name, overrides)
    Draft202012Validator(catalog.schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER).validate(body)


def test_every_problem_is_reported_at_once() -> None:
    fields = [f for f, _ in refused("credentials.updated", {"payload.is_exec": 0, "payload.is_executing": "no"})]
    assert fields == ["overrides.payload.is_exec", "overrides.payload.is_executing"]


def test_unchecked_lets_an_off_schema_value_through_but_never_what_json_cannot_carry() -> None:
    body = build("credentials.updated", {"payload.is_executing": "no", "payload.extra": 1}, checked=False)
    assert body["events"][0]["payload"]["is_executing"] == "no" and body["events"][0]["payload"]["extra"] == 1
    for value in (math.nan, math.inf, {"a": {1: 2}}, "lone \ud800"):
        with pytest.raises(InvalidInput):
            catalog.build_event(
                catalog.resolve("token.created"),
                catalog.new_context(1, catalog.SAMPLE_TIME),
                {"data.token.metadata.x": value},
                checked=False,
            )


def test_validate_names_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "override-check.yaml"
    path.write_text(SCENARIO.format(overrides='      payload.is_exec: 0\n      payload.is_executing: "no"'))
    errors = validate_files([path])
    assert [(e.file, e.line, e.field) for e in errors] == [
        (str(path), 9, 'steps[1].with["payload.is_exec"]'),
        (str(path), 10, 'steps[1].with["payload.is_executing"]'),
    ]
    assert "did you mean payload.is_executing?" in errors[0].message


def test_a_run_checks_the_values_its_parameters_give() -> None:
    scenario = load_text(SCENARIO.format(overrides='      payload.is_executing: "${executing}"'), "s.yaml")
    assert resolve_params(scenario, {"executing": "1"})["executing"] == 1
    with pytest.raises(InvalidInput) as caught:
        resolve_params(scenario, {"executing": "7"})
    error, blamed = caught.value.errors  # the step at its line, then the parameter that makes it
    assert (error.field, error.file) == ('steps[1].with["payload.is_executing"]', "s.yaml") and "7" in error.message
    assert (blamed.field, blamed.file) == ("params.executing", None)


def test_unchecked_true_on_a_step_skips_the_schema() -> None:
    text = SCENARIO.format(overrides="      payload.is_executing: maybe") + "    unchecked: true\n"
    load_text(text)
    with pytest.raises(ScenarioInvalid) as caught:
        load_text(text.replace("unchecked: true", "unchecked: yes please"))
    assert "steps[1].unchecked" in [e.field for e in caught.value.errors]


def test_the_whole_event_is_checked_where_an_override_touched_it() -> None:
    # `request.id` exists only for async invocations: fine on its own path, off the schema on a sync one.
    invoked = catalog.resolve("reactor.invoked")

    def context(seed: int) -> Any:
        return catalog.new_context(seed, catalog.SAMPLE_TIME)

    sync = next(
        s for s in range(20) if catalog.build_event(invoked, context(s)).data["data"]["request"].get("id") is None
    )
    with pytest.raises(InvalidInput) as caught:
        catalog.build_event(invoked, context(sync), {"data.request.id": "1f7d9a3e-2b5c-4d8e-9f0a-1b2c3d4e5f60"})
    assert [e.field for e in caught.value.errors] == ["overrides.data.request.id"]
    assert "off its schema at data.request" in caught.value.errors[0].message


def test_copied_fields_are_deep_copies_in_the_order_asked():
    source = {"a": "x", "b": {"c": [1, {"d": None}]}, "e": [True, 2.5], "f": 3, "g": "unasked"}
    copied = copy_fields(source, ("e", "b", "a", "f"))
    assert copied == {k: copy_json(source[k]) for k in ("e", "b", "a", "f")} and list(copied) == ["e", "b", "a", "f"]
    copied["b"]["c"][1]["d"] = "changed"
    copied["e"].append(0)
    assert source["b"] == {"c": [1, {"d": None}]} and source["e"] == [True, 2.5]
