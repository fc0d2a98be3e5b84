"""The event catalogue for machines: `GET /asyncapi.json` and `webhook-sim asyncapi` (AsyncAPI 3.0), the OpenAPI
`webhooks` section, and models generated from it by a published generator that parse real deliveries."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from simulator import catalog
from simulator.api.routes_catalog import asyncapi_document, component_name
from simulator.signing import new_secret
from simulator.testing import make_verifier
from simulator.testing.receiver import Receiver

ASYNCAPI_SCHEMA = Path(__file__).parents[1] / "fixtures" / "asyncapi" / "3.0.0-without-id.json"
TYPES = catalog.event_types()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for key, v in node.items() if key != "$ref" for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_served_and_printed_documents_are_the_same(main, server, api, document):
    answer = api.get("/asyncapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == json.loads(json.dumps(document))
    ran = main("asyncapi")
    assert ran.code == 0 and json.loads(ran.out) == answer.json()


def test_it_is_a_valid_asyncapi_3_document(document):
    validator = Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    assert [e.message for e in validator.iter_errors(document)] == []
    broken = copy.deepcopy(document)
    next(iter(broken["operations"].values()))["action"] = "post"
    [error] = validator.iter_errors(broken)  # the schema does check: an operation must send or receive
    assert error.path[0] == "operations" and "'post'" in str(error.instance)
    for ref in refs(document):
        resolve(document, ref)  # every reference lands


def test_every_event_type_has_a_channel_an_operation_and_a_message_whose_sample_fits(document):
    assert len(document["channels"]) == len(TYPES) == len(document["operations"])
    for etype in TYPES:
        name = component_name(etype)
        message = document["components"]["messages"][name]
        assert message["name"] == etype.key
        assert document["operations"][f"send{name}"]["action"] == "send"
        payload = {"$ref": message["payload"]["$ref"], "components": document["components"]}
        for seed in range(3):
            Draft7Validator(payload).validate(json.loads(catalog.sample(etype.key, seed)))
        native = catalog.get_provider(etype.provider).native_signing
        assert message["headers"]["anyOf"][0]["$ref"].endswith(
            {"syncfy": "SyncfySignatureHeaders", "basistheory": "BasisTheorySignatureHeaders"}[native]
        )


@pytest.mark.parametrize("scheme", ["standard", "syncfy", "basistheory", "none"])
def test_real_deliveries_carry_the_headers_the_document_describes(scheme, document, webhook_sim, receiver):
    secret = new_secret(scheme)
    run = webhook_sim.run("syncfy-credential-lifecycle", seed=1, target=receiver.url, signing=scheme, secret=secret)
    final = run.wait(timeout=60)
    received = receiver.wait_for(final.events)
    named = {"standard": "StandardWebhooksHeaders", "syncfy": "SyncfySignatureHeaders"}
    named |= {"basistheory": "BasisTheorySignatureHeaders", "none": "UnsignedHeaders"}
    schema = {"$ref": f"#/components/schemas/{named[scheme]}", "components": document["components"]}
    for request in received:
        Draft7Validator(schema).validate(request.headers)
        if scheme in ("standard", "syncfy"):
            assert make_verifier(scheme, secret)(request.headers, request.body) == (True, "ok")


def test_openapi_has_a_webhook_per_event_type_with_its_payload(api):
    doc = api.get("/openapi.json").json()
    assert set(doc["webhooks"]) == {e.key for e in TYPES}
    for ref in refs(doc):
        resolve(doc, ref)
    for etype in TYPES:
        post = doc["webhooks"][etype.key]["post"]
        schema = post["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{component_name(etype)}"}
        Draft202012Validator({**schema, "components": doc["components"]}).validate(
            json.loads(catalog.sample(etype.key, 0))
        )


@pytest.mark.slow
def test_a_generator_makes_models_that_parse_real_deliveries(tmp_path, api, webhook_sim, receiver: Receiver):
    """datamodel-code-generator (from PyPI) reads /openapi.json; its pydantic models parse what was delivered."""
    spec = tmp_path / "openapi.json"
    spec.write_text(api.get("/openapi.json").text)
    models = tmp_path / "webhook_models.py"
    generated = subprocess.run(
        [
            str(Path(sys.executable).with_name("datamodel-codegen")),
            "--input", str(spec), "--input-file-type", "openapi", "--output", str(models),
            "--output-model-type", "pydantic_v2.BaseModel", "--extra-fields", "forbid", "--formatters", "builtin",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    loaded = importlib.util.spec_from_file_location("webhook_models", models)
    module = importlib.util.module_from_spec(loaded)
    sys.modules["webhook_models"] = module  # pydantic resolves the generated generics through it
    try:
        loaded.loader.exec_module(module)
    finally:
        del sys.modules["webhook_models"]

    parsed = []
    for scenario in ("syncfy-credential-lifecycle", "basistheory-token-intent-conversion"):
        receiver.clear()
        final = webhook_sim.run(scenario, seed=2, target=receiver.url).wait(timeout=60)
        for request in receiver.wait_for(final.events):
            body = request.json()
            name = body["events"][0]["header"]["event"]["name"] if "events" in body else body["event"]["type"]
            etype = catalog.resolve(name, "syncfy" if "events" in body else "basistheory")
            model = getattr(module, component_name(etype))
            parsed.append((model, model.model_validate_json(request.body), body))
    assert len(parsed) >= 8
    model, _, body = parsed[-1]
    body["event"]["unexpected"] = 1
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):  # strict: an unknown field is refused
        model.model_validate(body)
