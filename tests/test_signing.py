"""Signing schemes, checked against independent implementations: the official `standardwebhooks` library,
PyJWT, and `cryptography`'s RSA-PSS verification over the canonical body.

The fixed vectors in `tests/fixtures/signing/vectors.json` were computed by `independent_headers` below (run
this module as a script to rewrite them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from standardwebhooks.webhooks import Webhook

from simulator import signing
from simulator.errors import InvalidInput
from simulator.receiving import make_verifier
from simulator.signing import SCHEMES, SigningKey, corrupt, mask_secret, sign, validate_secret, verify

VECTORS = Path(__file__).parent / "fixtures" / "signing" / "vectors.json"
KEYS = Path(signing.__file__).parent / "keys"

STANDARD_SECRET = "whsec_" + base64.b64encode(bytes(range(1, 25))).decode()
SYNCFY_SECRET = base64.b64encode(bytes(range(100, 132))).decode()
SECRETS = {"standard": STANDARD_SECRET, "syncfy": SYNCFY_SECRET, "basistheory": None, "none": None}

SYNCFY_BODY = (
    b'{"events":[{"header":{"event":{"at":"2023-06-16 19:06:18.944575+0000",'
    b'"eid":"3c1f6f55-4f0e-4c55-9b1e-2a7c1d1e0f11","name":"credentials.created","version":"3.1"}},'
    b'"payload":{"id_credential":"648cb2a9a1b2c3d4e5f60718"}}],'
    b'"rid":"9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"}'
)
BT_BODY = (
    b'{"delivered_at":"2024-04-09T13:56:38.012Z","event":{"data":{"id":"t-1","type":"token"},'
    b'"id":"0e2b0c4a-1111-4222-8333-944445555666","type":"token.created"}}'
)
# Not canonical: spaces, unsorted keys at every level, an escaped and a raw non-ASCII character.
MESSY_BODY = '{"b": {"z": 1, "a": "caf\\u00e9"}, "a": [{"y": 2, "x": "ñ"}]}'.encode()
MESSY_CANONICAL = '{"a":[{"x":"ñ","y":2}],"b":{"a":"café","z":1}}'.encode()


# --- independent implementations ------------------------------------------------------------------


def independent_headers(case: dict[str, Any]) -> dict[str, str]:
    """The headers for one vector case, computed with the official libraries only."""
    body: str = case["body"]
    if case["scheme"] == "standard":
        stamp = datetime.fromtimestamp(case["timestamp"], tz=UTC)
        signature = Webhook(case["secret"]).sign(case["msg_id"], stamp, body)
        return {
            "webhook-id": case["msg_id"],
            "webhook-timestamp": str(case["timestamp"]),
            "webhook-signature": signature,
        }
    claims: dict[str, Any] = {
        "iss": "webhook-sim",
        "iat": case["timestamp"],
        "exp": case["timestamp"] + 300,
        "jti": case["msg_id"],
    }
    if case.get("envelope_id") is not None:
        claims["rid"] = case["envelope_id"]
    claims["body_sha256"] = hashlib.sha256(body.encode()).hexdigest()
    token = jwt.encode(claims, base64.b64decode(case["secret"]), algorithm="HS256")
    return {"request-signature": token}


def vector_cases() -> list[dict[str, Any]]:
    unicode_body = '{"name":"José Núñez","note":"€ \u2013 ✓"}'
    return [
        {
            "name": "standard-syncfy-envelope",
            "scheme": "standard",
            "msg_id": "msg_2Qx1",
            "timestamp": 1686942378,
            "body": SYNCFY_BODY.decode(),
            "secret": STANDARD_SECRET,
        },
        {
            "name": "standard-unicode",
            "scheme": "standard",
            "msg_id": "dlv_018f",
            "timestamp": 1712670998,
            "body": unicode_body,
            "secret": STANDARD_SECRET,
        },
        {
            "name": "standard-svix-docs-secret",
            "scheme": "standard",
            "msg_id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "timestamp": 1614265330,
            "body": '{"test": 2432232314}',
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        },
        {
            "name": "syncfy-with-rid",
            "scheme": "syncfy",
            "msg_id": "dlv_0001",
            "timestamp": 1686942378,
            "body": SYNCFY_BODY.decode(),
            "secret": SYNCFY_SECRET,
            "envelope_id": "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
        },
        {
            "name": "syncfy-without-rid",
            "scheme": "syncfy",
            "msg_id": "dlv_0002",
            "timestamp": 1712670998,
            "body": unicode_body,
            "secret": SYNCFY_SECRET,
            "envelope_id": None,
        },
    ]


def stored_vectors() -> list[dict[str, Any]]:
    return json.loads(VECTORS.read_text()) if VECTORS.exists() else []


def rsa_pss_valid(public_pem: str, signature_b64: str, message: bytes) -> bool:
    public = serialization.load_pem_public_key(public_pem.encode())
    try:
        public.verify(
            base64.b64decode(signature_b64),
            message,  # type: ignore[union-attr]
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return False
    return True


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return SigningKey.generate()


def now() -> int:
    # The official verifiers read the real clock, so signatures for them must carry the current time.
    return int(time.time())


def signed(scheme: str, body: bytes = SYNCFY_BODY, *, at: int | None = None, **kwargs: Any) -> dict[str, str]:
    return sign(
        scheme,
        msg_id="dlv_42",
        timestamp=now() if at is None else at,
        body=body,
        secret=SECRETS[scheme],
        envelope_id="rid-1",
        **kwargs,
    )


# --- fixed vectors --------------------------------------------------------------------------------


def test_stored_vectors_are_what_the_official_libraries_compute():
    stored = stored_vectors()
    assert [c["name"] for c in stored] == [c["name"] for c in vector_cases()]
    for case in stored:
        assert case["headers"] == independent_headers(case), case["name"]


def test_standard_matches_the_example_published_with_the_specification():
    # The example in the Standard Webhooks / Svix documentation, an outside source for the HMAC construction.
    headers = sign(
        "standard",
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("case", stored_vectors(), ids=lambda c: c["name"])
def test_sign_reproduces_the_fixed_vectors(case):
    headers = sign(
        case["scheme"],
        msg_id=case["msg_id"],
        timestamp=case["timestamp"],
        body=case["body"].encode(),
        secret=case["secret"],
        envelope_id=case.get("envelope_id"),
    )
    assert headers == case["headers"]


# --- independent verification ---------------------------------------------------------------------


@pytest.mark.parametrize("body", [SYNCFY_BODY, BT_BODY, '{"name":"Zoë"}'.encode()])
def test_standard_verifies_with_the_official_library(body):
    headers = signed("standard", body)
    assert Webhook(STANDARD_SECRET).verify(body, headers) == json.loads(body)
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", headers["webhook-signature"])


@pytest.mark.parametrize("size", [1, 24, 32, 63, 64, 65, 100])
def test_keys_of_any_length_sign_as_the_official_libraries_verify(size):
    """Keys past SHA-256's 64-byte block are hashed first, shorter ones padded (RFC 2104), on both HMAC schemes."""
    key = bytes((7 * i + size) % 256 for i in range(size))
    standard = "whsec_" + base64.b64encode(key).decode()
    headers = sign("standard", msg_id="m", timestamp=now(), body=BT_BODY, secret=standard)
    assert Webhook(standard).verify(BT_BODY, headers) == json.loads(BT_BODY)
    syncfy = base64.b64encode(key).decode()
    token = sign("syncfy", msg_id="m", timestamp=now(), body=SYNCFY_BODY, secret=syncfy)["request-signature"]
    signing_input, signature = token.rsplit(".", 1)  # by the standard library's HMAC: PyJWT refuses short keys
    expected = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    assert signature == base64.urlsafe_b64encode(expected).rstrip(b"=").decode()


def test_syncfy_token_decodes_with_pyjwt_and_carries_the_documented_claims():
    issued = now()
    headers = signed("syncfy", at=issued)
    token = headers["request-signature"]
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, base64.b64decode(SYNCFY_SECRET), algorithms=["HS256"], issuer="webhook-sim")
    assert claims == {
        "iss": "webhook-sim",
        "iat": issued,
        "exp": issued + 300,
        "jti": "dlv_42",
        "rid": "rid-1",
        "body_sha256": hashlib.sha256(SYNCFY_BODY).hexdigest(),
    }
    assert "=" not in token


def test_syncfy_omits_rid_without_an_envelope_id():
    token = sign("syncfy", msg_id="m", timestamp=now(), body=b"{}", secret=SYNCFY_SECRET)["request-signature"]
    claims = jwt.decode(token, base64.b64decode(SYNCFY_SECRET), algorithms=["HS256"])
    assert "rid" not in claims
    assert claims["jti"] == "m"


def test_basistheory_verifies_over_the_canonical_body_with_the_shipped_public_key():
    headers = signed("basistheory", BT_BODY)
    assert headers["BT-SIGNATURE-VERSION"] == "v1"
    assert len(base64.b64decode(headers["BT-SIGNATURE"])) == 256
    public_pem = (KEYS / "webhooks-dev.pub.pem").read_text()
    assert rsa_pss_valid(public_pem, headers["BT-SIGNATURE"], BT_BODY)


def test_basistheory_signs_the_canonical_form_of_a_messy_body(other_key):
    headers = sign("basistheory", msg_id="m", timestamp=1, body=MESSY_BODY, key=other_key)
    assert rsa_pss_valid(other_key.public_pem, headers["BT-SIGNATURE"], MESSY_CANONICAL)
    assert not rsa_pss_valid(other_key.public_pem, headers["BT-SIGNATURE"], MESSY_BODY)


def test_basistheory_never_signs_the_bytes_as_given(other_key):
    # Bodies go out in the provider's field order, so even a body that looks canonical is re-serialised.
    body = b'{"b":1,"a":2}'
    headers = sign("basistheory", msg_id="m", timestamp=1, body=body, key=other_key)
    assert rsa_pss_valid(other_key.public_pem, headers["BT-SIGNATURE"], b'{"a":2,"b":1}')
    assert not rsa_pss_valid(other_key.public_pem, headers["BT-SIGNATURE"], body)


def test_canonical_json_sorts_compacts_and_keeps_utf8():
    assert signing.canonical_json(MESSY_BODY) == MESSY_CANONICAL


@pytest.mark.parametrize(
    ("body", "javascript"),
    [
        # JSON.parse reads a double; Number.prototype.toString writes it.
        (b'{"n":1.0}', '{"n":1}'),
        (b'{"n":-0.0}', '{"n":0}'),
        (b'{"n":1e-05}', '{"n":0.00001}'),
        (b'{"n":1e-7}', '{"n":1e-7}'),
        (b'{"n":1E21}', '{"n":1e+21}'),
        (b'{"n":1e20}', '{"n":100000000000000000000}'),
        (b'{"n":12345678901234567890}', '{"n":12345678901234567000}'),
        (b'{"n":0.1}', '{"n":0.1}'),
        (b'{"n":2.5e-10}', '{"n":2.5e-10}'),
        (b'{"n":1.5e300}', '{"n":1.5e+300}'),
        # Keys sort by UTF-16 code units: a surrogate pair (U+1F600) before U+FFFD, unlike code point order.
        (rb'{"\ufffd":1,"\ud83d\ude00":2,"a":3}', '{"a":3,"\U0001f600":2,"\ufffd":1}'),
        # A lone surrogate is escaped (well-formed JSON.stringify); control characters too, U+2028 is not.
        (rb'{"s":"\ud800"}', r'{"s":"\ud800"}'),
        (rb'{"s":"\u001f\u2028\"\\"}', '{"s":"\\u001f\u2028\\"\\\\"}'),
    ],
)
def test_canonical_json_writes_what_json_stable_stringify_writes(body, javascript):
    assert signing.canonical_json(body).decode("utf-8") == javascript


@pytest.mark.parametrize("body", [b'{"n":NaN}', b'{"n":Infinity}', b"{'a':1}"])
def test_basistheory_refuses_what_json_parse_refuses(body):
    with pytest.raises(InvalidInput):
        sign("basistheory", msg_id="m", timestamp=1, body=body)
    assert verify("basistheory", signed("basistheory"), body).reason == "body is not JSON"


# --- verify() -------------------------------------------------------------------------------------


def verify_signed(scheme: str, headers: dict[str, str], body: bytes = SYNCFY_BODY, **kwargs: Any):
    return verify(scheme, headers, body, secret=SECRETS[scheme], **kwargs)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_verify_accepts_what_sign_produces(scheme):
    assert verify_signed(scheme, signed(scheme)) == signing.Verification(True, "ok")


@pytest.mark.parametrize("scheme", ["standard", "basistheory", "syncfy"])
def test_header_names_match_case_insensitively(scheme):
    headers = signed(scheme)
    assert verify_signed(scheme, {k.upper(): v for k, v in headers.items()}).ok
    assert verify_signed(scheme, {k.lower(): v for k, v in headers.items()}).ok


@pytest.mark.parametrize(
    ("scheme", "reason"),
    [("standard", "signature mismatch"), ("basistheory", "signature mismatch"), ("syncfy", "body hash mismatch")],
)
def test_verify_rejects_a_tampered_body(scheme, reason):
    tampered = SYNCFY_BODY.replace(b"648cb2a9", b"648cb2aa")
    assert verify_signed(scheme, signed(scheme), tampered) == signing.Verification(False, reason)


@pytest.mark.parametrize("scheme", ["standard", "syncfy"])
def test_verify_rejects_a_wrong_secret(scheme):
    other = signing.new_secret(scheme)
    assert verify(scheme, signed(scheme), SYNCFY_BODY, secret=other).reason == "signature mismatch"


def test_basistheory_rejects_another_public_key(other_key):
    headers = signed("basistheory")
    assert verify("basistheory", headers, SYNCFY_BODY, public_pem=other_key.public_pem).reason == "signature mismatch"
    signed_by_other = sign("basistheory", msg_id="m", timestamp=1, body=SYNCFY_BODY, key=other_key)
    assert verify("basistheory", signed_by_other, SYNCFY_BODY, public_pem=other_key.public_pem).ok


def test_basistheory_refuses_a_malformed_public_key():
    with pytest.raises(InvalidInput):
        verify("basistheory", signed("basistheory"), SYNCFY_BODY, public_pem="not a key")


def test_basistheory_accepts_a_reserialised_body():
    headers = signed("basistheory", MESSY_BODY)
    assert verify("basistheory", headers, MESSY_CANONICAL).ok


@pytest.mark.parametrize(("offset", "reason"), [(-301, "timestamp too old"), (301, "timestamp too new")])
def test_standard_enforces_the_timestamp_tolerance(offset, reason):
    at = 1_700_000_000
    headers = signed("standard", at=at + offset)
    assert verify_signed("standard", headers, now=at).reason == reason
    assert verify_signed("standard", headers, now=at, tolerance=400).ok


def test_syncfy_rejects_an_expired_or_future_token():
    at = 1_700_000_000
    headers = signed("syncfy", at=at)
    assert verify_signed("syncfy", headers, now=at + 300).ok
    assert verify_signed("syncfy", headers, now=at + 301).reason == "token expired"
    assert verify_signed("syncfy", headers, now=at - 301).reason == "timestamp too new"


def test_syncfy_rejects_a_validly_signed_token_for_another_body():
    claims = {"iat": now(), "exp": now() + 300, "body_sha256": hashlib.sha256(b"other").hexdigest()}
    token = jwt.encode(claims, base64.b64decode(SYNCFY_SECRET), algorithm="HS256")
    result = verify("syncfy", {"request-signature": token}, SYNCFY_BODY, secret=SYNCFY_SECRET)
    assert result.reason == "body hash mismatch"


def test_syncfy_rejects_an_unsigned_token():
    token = signed("syncfy")["request-signature"]
    _, payload, _ = token.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    result = verify_signed("syncfy", {"request-signature": f"{header}.{payload}."})
    assert not result.ok
    assert "alg" in result.reason


def test_standard_accepts_any_matching_v1_signature_among_several():
    headers = signed("standard")
    good = headers["webhook-signature"]
    bad = corrupt(headers)["webhook-signature"]
    assert verify_signed("standard", {**headers, "webhook-signature": f"{bad} {good}"}).ok
    assert verify_signed("standard", {**headers, "webhook-signature": f"v2,{good[3:]}"}).reason == "signature mismatch"


@pytest.mark.parametrize("scheme", ["standard", "basistheory", "syncfy"])
def test_corrupt_keeps_the_form_but_breaks_verification(scheme):
    headers = signed(scheme)
    broken = corrupt(headers)
    assert broken.keys() == headers.keys()
    changed = [name for name in headers if headers[name] != broken[name]]
    assert len(changed) == 1
    before, after = headers[changed[0]], broken[changed[0]]
    assert len(after) == len(before)
    if scheme == "syncfy":  # header and claims intact, only the signature segment differs
        assert after.rsplit(".", 1)[0] == before.rsplit(".", 1)[0]
    else:
        assert after.startswith("v1,") == before.startswith("v1,")
        raw_before, raw_after = (base64.b64decode(v.removeprefix("v1,")) for v in (before, after))
        assert len(raw_after) == len(raw_before)
    assert verify_signed(scheme, broken).reason == "signature mismatch"


def test_corrupt_leaves_unsigned_headers_alone():
    assert corrupt({"content-type": "application/json"}) == {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("scheme", "drop", "reason"),
    [
        ("standard", "webhook-id", "missing header webhook-id"),
        ("standard", "webhook-timestamp", "missing header webhook-timestamp"),
        ("standard", "webhook-signature", "missing header webhook-signature"),
        ("basistheory", "BT-SIGNATURE", "missing header BT-SIGNATURE"),
        ("basistheory", "BT-SIGNATURE-VERSION", "missing header BT-SIGNATURE-VERSION"),
        ("syncfy", "request-signature", "missing header request-signature"),
    ],
)
def test_verify_names_a_missing_header(scheme, drop, reason):
    headers = signed(scheme)
    del headers[drop]
    assert verify_signed(scheme, headers) == signing.Verification(False, reason)


def test_basistheory_rejects_an_unknown_signature_version():
    headers = {**signed("basistheory"), "BT-SIGNATURE-VERSION": "v2"}
    assert verify_signed("basistheory", headers).reason.startswith("unsupported BT-SIGNATURE-VERSION")


def test_retries_keep_the_message_id():
    first, retry = signed("standard", at=1000), signed("standard", at=1300)
    assert first["webhook-id"] == retry["webhook-id"] == "dlv_42"
    assert first["webhook-signature"] != retry["webhook-signature"]
    claims = [
        jwt.decode(signed("syncfy", at=at)["request-signature"], options={"verify_signature": False})
        for at in (1000, 1300)
    ]
    assert [c["jti"] for c in claims] == ["dlv_42", "dlv_42"]
    assert [c["iat"] for c in claims] == [1000, 1300]


def test_none_adds_no_headers():
    assert sign("none", msg_id="m", timestamp=1, body=b"{}") == {}


def test_unknown_schemes_are_refused():
    for call in (
        lambda: sign("hmac", msg_id="m", timestamp=1, body=b"{}"),
        lambda: verify("hmac", {}, b"{}"),
        lambda: validate_secret("hmac", None),
    ):
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.errors[0].field == "signing"


def test_basistheory_refuses_a_body_that_is_not_json():
    with pytest.raises(InvalidInput):
        sign("basistheory", msg_id="m", timestamp=1, body=b"not json")


# --- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_new_secrets_are_valid_for_their_scheme(scheme):
    secret = signing.new_secret(scheme)
    validate_secret(scheme, secret)
    assert (secret is None) == (scheme in ("basistheory", "none"))


@pytest.mark.parametrize(
    ("scheme", "secret"),
    [
        ("standard", None),
        ("standard", ""),
        ("standard", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),  # base64 without the whsec_ prefix
        ("standard", "whsec_"),
        ("standard", "whsec_not base64!"),
        ("syncfy", None),
        ("syncfy", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),  # a standard secret on a syncfy subscription
        ("syncfy", "%%%"),
        ("basistheory", "c2VjcmV0"),
        ("none", "c2VjcmV0"),
    ],
)
def test_validate_secret_rejects_the_wrong_form(scheme, secret):
    with pytest.raises(InvalidInput) as info:
        validate_secret(scheme, secret)
    assert [e.field for e in info.value.errors] == ["secret"]


def test_unpadded_base64_secrets_work_as_in_the_official_library():
    padded = "whsec_" + base64.b64encode(bytes(range(20))).decode()
    unpadded = padded.rstrip("=")
    assert unpadded != padded
    validate_secret("standard", unpadded)
    headers = sign("standard", msg_id="m", timestamp=now(), body=b"{}", secret=unpadded)
    assert headers == sign(
        "standard", msg_id="m", timestamp=int(headers["webhook-timestamp"]), body=b"{}", secret=padded
    )
    Webhook(unpadded).verify(b"{}", headers)


def test_sign_refuses_a_malformed_secret():
    with pytest.raises(InvalidInput):
        sign("standard", msg_id="m", timestamp=1, body=b"{}", secret="nope")


@pytest.mark.parametrize(
    "secret",
    [
        STANDARD_SECRET,
        SYNCFY_SECRET,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_c2VjcmV0",
        "c2VjcmV0",
        "whsec_",
        "",
        "abcd",
    ],
)
def test_mask_secret_reveals_at_most_four_characters(secret):
    masked = mask_secret(secret)
    assert masked is not None
    prefix = "whsec_" if secret.startswith("whsec_") else ""
    assert masked.startswith(prefix + "****")
    material, shown = secret[len(prefix) :], masked[len(prefix) + 4 :]
    assert len(shown) <= 4
    assert material.endswith(shown)
    assert len(shown) < len(material) / 2 or not shown


def test_mask_secret_example_and_none():
    assert mask_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaQ2xk") == "whsec_****Q2xk"
    assert mask_secret(None) is None


# --- keys -----------------------------------------------------------------------------------------


def test_shipped_key_pair_belongs_together_and_is_packaged():
    packaged = resources.files("simulator").joinpath("keys")
    private_pem = packaged.joinpath("webhooks-dev.pem").read_text()
    public_pem = packaged.joinpath("webhooks-dev.pub.pem").read_text()
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    key = SigningKey.from_pem(private_pem)  # with the full consistency check default_key skips
    assert key.private_key.key_size == 2048
    assert key.public_pem == public_pem == signing.default_key().public_pem


def test_default_key_is_loaded_once():
    assert signing.default_key() is signing.default_key()


def test_signing_key_round_trips_through_pem(other_key):
    again = SigningKey.from_pem(other_key.private_pem().encode())
    assert again.public_pem == other_key.public_pem
    headers = sign("basistheory", msg_id="m", timestamp=1, body=BT_BODY, key=again)
    assert rsa_pss_valid(other_key.public_pem, headers["BT-SIGNATURE"], BT_BODY)


@pytest.mark.parametrize(
    "pem",
    [
        b"not a key",
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    ],
)
def test_from_pem_rejects_what_is_not_an_rsa_private_key(pem):
    with pytest.raises(InvalidInput) as info:
        SigningKey.from_pem(pem)
    assert info.value.errors[0].field == "signing_key"


def write_vectors() -> None:
    """Recompute the fixed vectors with the official libraries and store them."""
    cases = [{**case, "headers": independent_headers(case)} for case in vector_cases()]
    VECTORS.parent.mkdir(parents=True, exist_ok=True)
    VECTORS.write_text(json.dumps(cases, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write_vectors()


def test_a_standard_secret_against_a_syncfy_signature_says_so():
    """`listen --secret whsec_…` told of a Syncfy-signed delivery that the syncfy secret must be non-empty base64."""
    verify = make_verifier("auto", "whsec_" + base64.b64encode(bytes(range(24))).decode())
    headers = sign("syncfy", msg_id="m", timestamp=now(), body=b"{}", secret=base64.b64encode(b"k" * 24).decode())
    ok, reason = verify(headers, b"{}")
    assert not ok and "is a standard one: a syncfy secret is base64 alone" in reason, reason
