"""The examples of docs/pytest.md and docs/verifying.md, run: a doc that stops working fails here."""

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.testing import serve_app, signing_secret

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


def delivered(webhook_sim, webhook_receiver, scenario: str, scheme: str, secret: str | None = None):
    """A run of `scenario` signed with `scheme` (and `secret`, if given) played whole: its handle and what the
    receiver got."""
    handle = webhook_sim.run(
        scenario,
        seed=3,
        target=webhook_receiver.url,
        signing=scheme,
        secret=secret,
        params={"refreshes": 0} if scenario.startswith("syncfy") else None,
    )
    final = handle.wait(timeout=30)
    return handle, webhook_receiver.wait_for(final.events)


@pytest.mark.parametrize(("function", "scheme", "scenario"), CASES)
def test_the_verifying_snippets_accept_real_deliveries_and_refuse_tampering(
    function, scheme, scenario, verifiers, webhook_sim, webhook_receiver
):
    verify = verifiers[function]
    handle, received = delivered(webhook_sim, webhook_receiver, scenario, scheme)
    material = webhook_sim.public_key_pem if scheme == "basistheory" else handle.secret
    assert all(verify(material, r.headers, r.body) for r in received)
    tampered = received[0].body.replace(b"2", b"3", 1)
    assert tampered != received[0].body
    assert not verify(material, received[0].headers, tampered)


REFUSING = [("verify_standard", "standard"), ("verify_basistheory", "basistheory")]


@pytest.mark.parametrize("kind", ["truncated", "empty"])
@pytest.mark.parametrize(("function", "scheme"), REFUSING)
def test_a_consumer_with_the_verifying_snippets_refuses_a_malformed_body_with_a_4xx(
    function, scheme, kind, verifiers, webhook_sim
):
    """The `malformed` fault (a truncated or empty body, validly signed) through a consumer that answers 400 when
    the snippet says False and 204 when it says True: the damaged first attempt is refused with a 4xx, never a
    500 (a snippet that raises), and the simulator's intact retry is accepted."""
    verify = verifiers[function]
    secret = signing_secret(scheme)  # None for basistheory: the simulator's public key verifies
    material = secret or webhook_sim.public_key_pem
    verdicts: list[object] = []  # what the snippet returned, or raised

    async def consume(request: Request) -> Response:
        body = await request.body()
        try:
            ok = verify(material, request.headers, body)
        except Exception as exc:  # what a framework answers for an exception: 500
            verdicts.append(exc)
            return Response(status_code=500)
        verdicts.append(ok)
        return Response(status_code=204 if ok else 400)

    app = Starlette(routes=[Route("/hooks", consume, methods=["POST"])])
    with serve_app(app) as consumer:
        handle = webhook_sim.run(
            "basistheory-token-lifecycle",
            seed=3,
            target=f"{consumer.url}/hooks",
            signing=scheme,
            secret=secret,
            faults={"malformed": {"probability": 1, "kind": kind}},
        )
        handle.wait(timeout=30)
        deliveries = handle.deliveries()
    raised = [verdict for verdict in verdicts if not isinstance(verdict, bool)]
    assert raised == []  # each would have been a 500
    assert deliveries and len(verdicts) == 2 * len(deliveries)
    for d in deliveries:  # the damaged first attempt refused (the snippet said False), its intact retry taken
        assert [a.status_code for a in d.attempt_log] == [400, 204]
        assert d.attempt_log[0].faults["malformed"]["kind"] == kind
        assert not d.attempt_log[1].faults


# Bodies Python's json does not parse: empty, truncated, not UTF-8, nested too deep, an integer too long.
NOT_JSON = [b"", b"{", b"\xff", b"[" * 100_000, b"1" * 5000]


@pytest.mark.parametrize(("function", "scheme"), REFUSING)
def test_the_verifying_snippets_say_false_and_never_raise_for_what_does_not_verify(
    function, scheme, verifiers, webhook_sim, webhook_receiver
):
    """A real delivery's headers with bodies and signatures it was not sent with; for Standard Webhooks, bodies
    that are not JSON also validly signed with the subscription's secret (checked only after the signature)."""
    verify = verifiers[function]
    handle = webhook_sim.run("basistheory-token-lifecycle", seed=3, target=webhook_receiver.url, signing=scheme)
    handle.wait(timeout=30)
    [received, *_] = webhook_receiver.wait_for(1)
    material = handle.secret or webhook_sim.public_key_pem
    assert verify(material, received.headers, received.body) is True
    # JSON of the wrong kind too: NaN (Python's, not JSON.parse's), a lone surrogate (no UTF-8 writes it back).
    for body in [*NOT_JSON, b"[]", b"null", b'{"a": NaN}', b'"\\ud800"']:
        assert verify(material, received.headers, body) is False, body[:20]
    header = "webhook-signature" if scheme == "standard" else "bt-signature"
    for signature in ["", "é", "v1,é", "AAAA"]:
        assert verify(material, {**received.headers, header: signature}, received.body) is False, signature
    if scheme == "standard":
        webhook = Webhook(material)
        for body in NOT_JSON:
            now = datetime.now(UTC)
            signed = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp()))}
            signed["webhook-signature"] = webhook.sign("msg_1", now, body)
            assert verify(material, signed, body) is False, body[:20]


UNPADDED = [
    ("verify_standard", "standard", "whsec_"),
    ("verify_standard_by_hand", "standard", "whsec_"),
    ("verify_syncfy", "syncfy", ""),
]


@pytest.mark.parametrize(("function", "scheme", "prefix"), UNPADDED)
def test_the_verifying_snippets_take_a_secret_without_its_base64_padding(
    function, scheme, prefix, verifiers, webhook_sim, webhook_receiver
):
    """The simulator takes a secret without its padding, as the Standard Webhooks libraries do; the by-hand
    recipes decoded it with `base64.b64decode`, which raised on every delivery (a consumer answering 500)."""
    secret = prefix + base64.b64encode(bytes(range(32))).decode().rstrip("=")
    _, received = delivered(webhook_sim, webhook_receiver, "syncfy-credential-lifecycle", scheme, secret)
    assert all(verifiers[function](secret, r.headers, r.body) for r in received)
