"""Basis Theory signatures checked by Basis Theory's own documented verifier: Node.js, `json-stable-stringify`
from the npm registry and `RSA_PKCS1_PSS_PADDING`, over real deliveries (real HTTP) of every event type.

`json-stable-stringify` is installed once into a cache folder (`~/.cache/webhook-sim/npm`, or
`$WEBHOOK_SIM_NPM_CACHE`; CI installs it there in `.ci/run`). Without `node`, `npm` or the registry the tests skip
and say why.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, RunSpec, SubscriptionSpec
from simulator.receiving import Received
from simulator.testing.receiver import Receiver

NPM_CACHE = Path(os.environ.get("WEBHOOK_SIM_NPM_CACHE", Path.home() / ".cache" / "webhook-sim" / "npm"))
PACKAGE = "json-stable-stringify@1"
TYPES = [e.name for e in catalog.event_types("basistheory")]

# Basis Theory's sample (docs: "Sample Javascript Signature Verification"), unchanged but for reading the
# requests from stdin; it also reports the canonical text and whether the raw bytes alone would verify.
VERIFIER = r"""
const crypto = require('crypto');
const stringify = require('json-stable-stringify');

const { publicKey, requests } = JSON.parse(require('fs').readFileSync(0, 'utf8'));

const verifyWebhook = (webhookRequest) => {
    const body = JSON.parse(webhookRequest.request.body);
    const signature = webhookRequest.request.headers['BT-SIGNATURE'];
    const verifier = crypto.createVerify('SHA256');

    verifier.update(stringify(body));

    const isVerified = verifier.verify(
        {
            key: publicKey,
            padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        },
        Buffer.from(signature, 'base64')
    );

    return isVerified;
};

const verifyRaw = (request) => crypto.createVerify('SHA256').update(request.body).verify(
    { key: publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING },
    Buffer.from(request.headers['BT-SIGNATURE'], 'base64'),
);

process.stdout.write(JSON.stringify(requests.map((request) => ({
    verified: verifyWebhook({ request }),
    raw_verified: verifyRaw(request),
    canonical: stringify(JSON.parse(request.body)),
}))));
"""

# Overrides that JavaScript writes differently from Python: keys outside the BMP (UTF-16 order), an integral
# float (`1`, not `1.0`), and numbers JS prints without an exponent or with a signed one.
SCENARIO = """\
name: js-numbers-and-keys
provider: basistheory
steps:
  - emit: token.created
    with:
      data.token.metadata: {"\\U0001F600": "smile", "\\uFFFD": "replacement", "\\uE000": "private", "z": "last"}
  - emit: reactor.invoked
  - emit: reactor.completed
    with: {data.elapsed_ms: 150.0}
  - emit: token.updated
    unchecked: true
    with: {data.token.metadata.tiny: 1.0e-5, data.token.metadata.huge: 1.0e+21, data.token.metadata.zero: -0.0}
"""


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The folder holding `json-stable-stringify`, installed from the npm registry when missing."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: Basis Theory's JavaScript verifier cannot run")
    modules = NPM_CACHE / "node_modules"
    if not (modules / "json-stable-stringify" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip(f"npm is not installed: cannot install {PACKAGE} into {NPM_CACHE}")
        command = [npm, "install", "--prefix", str(NPM_CACHE), "--no-audit", "--no-fund", PACKAGE]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=300)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", b"") or b""
            pytest.skip(f"npm could not install {PACKAGE} (registry unreachable?): {output.decode()[-300:]}")
    return modules


def node_verify(modules: Path, public_pem: str, requests: list[Received]) -> list[dict[str, Any]]:
    """Each request through the documented Node.js procedure."""
    payload = {
        "publicKey": public_pem,
        "requests": [
            {"body": r.body.decode(), "headers": {"BT-SIGNATURE": r.headers["bt-signature"]}} for r in requests
        ],
    }
    done = subprocess.run(
        ["node", "-e", VERIFIER],
        input=json.dumps(payload).encode(),
        capture_output=True,
        timeout=60,
        env={**os.environ, "NODE_PATH": str(modules)},
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def test_node_verifies_every_basis_theory_type_sent_over_http(
    node_modules: Path, sim: Simulator, receiver: Receiver
) -> None:
    await sim.create_subscription(SubscriptionSpec(url=receiver.url, events=["basistheory:*"]))
    for name in TYPES:
        await sim.emit(EventSpec(type=f"basistheory:{name}"))
    requests = await receiver.wait_for_async(len(TYPES), timeout=30)
    assert sorted(r.json()["event"]["type"] for r in requests) == sorted(TYPES)
    results = node_verify(node_modules, sim.public_key_pem, requests)
    assert [r["verified"] for r in results] == [True] * len(TYPES)
    # The bytes on the wire are the provider's field order, not the signed form: only re-serialising verifies.
    for request, result in zip(requests, results, strict=True):
        assert request.body != result["canonical"].encode() and not result["raw_verified"]
        assert list(request.json()) == ["event", "delivered_at"]


async def test_node_verifies_overrides_javascript_writes_differently(
    node_modules: Path, tmp_path: Path, receiver: Receiver
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "js-numbers-and-keys.yaml").write_text(SCENARIO)
    sim = await Simulator.open(str(tmp_path / "sim.db"), scenario_dirs=[folder])
    try:
        run = await sim.runs.start(RunSpec(scenario="js-numbers-and-keys", target=receiver.url, speed=0, seed=1))
        assert (await asyncio.wait_for(sim.runs.wait(run.id), 30)).status == "completed"
        requests = await receiver.wait_for_async(4)
        public_pem = sim.public_key_pem
    finally:
        await sim.close(grace=1)
    by_type = {r.json()["event"]["type"]: r for r in requests}
    results = dict(zip(by_type, node_verify(node_modules, public_pem, list(by_type.values())), strict=True))
    assert all(result["verified"] for result in results.values())
    # Each divergence really is on the wire and in what JavaScript signs.
    assert '"elapsed_ms":150.0' in by_type["reactor.completed"].body.decode()
    assert '"elapsed_ms":150,' in results["reactor.completed"]["canonical"]
    updated = results["token.updated"]["canonical"]
    assert '"tiny":0.00001' in updated and '"huge":1e+21' in updated and '"zero":0' in updated
    keys = list(json.loads(results["token.created"]["canonical"])["event"]["data"]["token"]["metadata"])
    # UTF-16 order: the surrogate pair (0xD83D…) before U+E000; code point order would put it after U+FFFD.
    assert keys == ["z", "\U0001f600", "\ue000", "\ufffd"]
