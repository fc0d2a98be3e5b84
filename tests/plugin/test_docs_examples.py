"""The examples of docs/pytest.md and docs/verifying.md, run: a doc that stops working fails here."""

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOCS = Path(__file__).parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def blocks(page: str, section: str | None = None) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    if section is not None:
        text = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return BLOCK.findall(text)


def test_the_complete_example_of_the_pytest_page_passes(pytester: pytest.Pytester):
    [example] = blocks("pytest.md", "A complete example")
    assert 10 <= len(example.strip().splitlines()) <= 20
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n")
    pytester.makepyfile(test_example=example)
    pytester.runpytest("-q").assert_outcomes(passed=1)


@pytest.fixture(scope="module")
def verifiers() -> dict:
    namespace: dict = {}
    for code in blocks("verifying.md"):
        exec(compile(code, "docs/verifying.md", "exec"), namespace)
    return namespace


CASES = [
    ("verify_standard", "standard", "syncfy-credential-lifecycle"),
    ("verify_standard_by_hand", "standard", "basistheory-token-lifecycle"),
    ("verify_syncfy", "syncfy", "syncfy-credential-lifecycle"),
    ("verify_basistheory", "basistheory", "basistheory-token-lifecycle"),
]


@pytest.mark.parametrize(("function", "scheme", "scenario"), CASES)
def test_the_verifying_snippets_accept_real_deliveries_and_refuse_tampering(
    function, scheme, scenario, verifiers, webhook_sim, webhook_receiver
):
    verify = verifiers[function]
    handle = webhook_sim.run(
        scenario,
        seed=3,
        target=webhook_receiver.url,
        signing=scheme,
        params={"refreshes": 0} if scenario.startswith("syncfy") else None,
    )
    final = handle.wait(timeout=30)
    material = webhook_sim.public_key_pem if scheme == "basistheory" else handle.secret
    received = webhook_receiver.wait_for(final.events)
    assert all(verify(material, r.headers, r.body) for r in received)
    tampered = received[0].body.replace(b"2", b"3", 1)
    assert tampered != received[0].body
    assert not verify(material, received[0].headers, tampered)
