"""Signing schemes: the headers each scheme adds to one POST, and their verification. Pure functions.

| scheme        | headers                                                             | secret           |
|---------------|---------------------------------------------------------------------|------------------|
| `standard`    | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64>`    | `whsec_<base64>` |
| `basistheory` | `BT-SIGNATURE` (base64 RSA-PSS SHA-256), `BT-SIGNATURE-VERSION: v1` | none (RSA key)   |
| `syncfy`      | `request-signature` (HS256 JWT)                                     | base64           |
| `none`        | nothing                                                             | none             |

`standard` follows the Standard Webhooks specification: HMAC-SHA256 of `"{id}.{timestamp}.{body}"` keyed with
the base64-decoded part of the secret. `webhook-id` is the delivery's id, so it stays the same on every retry.

`basistheory` signs the body re-serialised the way Basis Theory's sample verifier does
(`json-stable-stringify` of the parsed body, see `simulator.stable_json`): compact, keys sorted by UTF-16 code
units, numbers as JavaScript writes them, non-ASCII characters left unescaped, UTF-8. The body itself goes out
in the provider's field order, so a verifier that checks the raw bytes fails, as it would at Basis Theory. The
padding is PSS with MGF1-SHA-256 and a 32-byte salt (the digest length). Basis Theory's real key is theirs; the
simulator signs with its published development key (`simulator/keys/`) or the one given with `--signing-key`.

`syncfy` sends an HS256 JWT keyed with the base64-decoded secret. Syncfy documents no claims; the simulator's
are:

| claim         | value                                                                 |
|---------------|-----------------------------------------------------------------------|
| `iss`         | `"webhook-sim"`                                                       |
| `iat`         | the attempt's Unix time in seconds                                    |
| `exp`         | `iat + 300`                                                           |
| `jti`         | the delivery's message id, the same on every retry (dedupe on it)     |
| `rid`         | the body's `rid`; a body of another provider has none, and carries the event's id here |
| `body_sha256` | lowercase hex SHA-256 of the exact body bytes                         |

The JWT header is `{"alg":"HS256","typ":"JWT"}`; segments are base64url without padding.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from simulator import stable_json
from simulator.errors import FieldError, InvalidInput
from simulator.ids import new_secret as _new_secret
from simulator.models.enums import SIGNING_SCHEMES

SCHEMES = SIGNING_SCHEMES

STANDARD_PREFIX = "whsec_"
JWT_ISSUER = "webhook-sim"
JWT_LIFETIME = 300
DEFAULT_KEY_FILE = "webhooks-dev.pem"
MIN_KEY_BITS = 2048  # `generate`'s size, and the least RSA signing keys are held to today

_PSS_SIGN = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
# Verifiers in the wild (Node's default among them) detect the salt length, so verification does too.
_PSS_VERIFY = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
_JWT_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one request's signature; `reason` says why it failed ("ok" when it did not)."""

    ok: bool
    reason: str


_OK = Verification(True, "ok")


def _fail(reason: str) -> Verification:
    return Verification(False, reason)


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key (for `basistheory`) and its public half as SubjectPublicKeyInfo PEM."""

    private_key: RSAPrivateKey
    public_pem: str

    @classmethod
    def from_private_key(cls, key: RSAPrivateKey) -> SigningKey:
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(key, public.decode())

    @classmethod
    def from_pem(cls, pem: bytes | str, *, validate: bool = True) -> SigningKey:
        """Load an unencrypted PEM RSA private key; `InvalidInput` (field `signing_key`) if it is not one."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=not validate)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise _key_error(f"not an unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, RSAPrivateKey):
            raise _key_error("the signing key must be an RSA key")
        if key.key_size < MIN_KEY_BITS:
            # Under 528 bits no RSA-PSS signature with a 32-byte salt fits, and every Basis Theory delivery failed
            # ("signing failed") while the server had started and published the key; 1024 is breakable.
            raise _key_error(f"the signing key is RSA-{key.key_size}: it must have at least {MIN_KEY_BITS} bits")
        return cls.from_private_key(key)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh RSA-2048 key pair."""
        return cls.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def private_pem(self) -> str:
        """The private key as unencrypted PKCS8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


def _key_error(message: str) -> InvalidInput:
    return InvalidInput(message, errors=[FieldError("signing_key", message)])


@functools.cache
def default_key() -> SigningKey:
    """The published development key shipped in `simulator/keys/` (loaded once per process)."""
    pem = resources.files("simulator").joinpath("keys", DEFAULT_KEY_FILE).read_bytes()
    # The shipped key is checked by the test suite; skipping the consistency check loads it ~1000x faster.
    return SigningKey.from_pem(pem, validate=False)


# --- secrets --------------------------------------------------------------------------------------


def new_secret(scheme: str) -> str | None:
    """A fresh secret in the form `scheme` expects (None for schemes without one)."""
    return _new_secret(scheme)


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        message = f"unknown signing scheme {scheme!r}; expected one of {', '.join(SCHEMES)}"
        raise InvalidInput(message, errors=[FieldError("signing", message)])


def _secret_error(message: str) -> InvalidInput:
    return InvalidInput(message, errors=[FieldError("secret", message)])


def _b64_bytes(text: str) -> bytes | None:
    """Strict base64 (padding optional, as the Standard Webhooks libraries accept); None when malformed."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def validate_secret(scheme: str, secret: str | None) -> None:
    """Raise `InvalidInput` naming field `secret` when `secret` has the wrong form for `scheme`."""
    _check_scheme(scheme)
    if scheme in ("basistheory", "none"):
        if secret:
            raise _secret_error(f"the {scheme} scheme takes no secret")
        return
    expected = "whsec_<base64>" if scheme == "standard" else "base64"
    if not secret:
        raise _secret_error(f"the {scheme} scheme needs a secret ({expected})")
    material = secret.removeprefix(STANDARD_PREFIX) if scheme == "standard" else secret
    if scheme == "standard" and not secret.startswith(STANDARD_PREFIX):
        raise _secret_error(f"a standard secret must look like {expected}")
    if scheme == "syncfy" and secret.startswith(STANDARD_PREFIX):
        # Said as it is: a listener given a standard secret and a Syncfy-signed request was told the secret was empty.
        raise _secret_error(
            f"a {STANDARD_PREFIX}<base64> secret is a standard one: a syncfy secret is base64 alone, so this one "
            "cannot check a syncfy signature"
        )
    if not _b64_bytes(material):
        raise _secret_error(f"the {scheme} secret must be non-empty {expected}")


@functools.lru_cache(maxsize=1024)
def _secret_key(scheme: str, secret: str | None) -> bytes:
    """The HMAC key inside `secret` (cached: every attempt of every delivery needs it)."""
    validate_secret(scheme, secret)
    assert secret is not None  # validate_secret guarantees it for the HMAC schemes
    key = _b64_bytes(secret.removeprefix(STANDARD_PREFIX) if scheme == "standard" else secret)
    assert key is not None
    return key


def mask_secret(secret: str | None) -> str | None:
    """`secret` safe to show: its `whsec_` prefix and at most its last 4 characters (none if it is short)."""
    if secret is None:
        return None
    prefix = STANDARD_PREFIX if secret.startswith(STANDARD_PREFIX) else ""
    material = secret[len(prefix) :]
    # Four characters of a short secret would be too large a share of it.
    tail = material[-4:] if len(material) >= 16 else ""
    return f"{prefix}****{tail}"


# --- helpers --------------------------------------------------------------------------------------


def canonical_json(body: bytes) -> bytes:
    """`body` as Basis Theory's verifier re-serialises it (`json-stable-stringify` of `JSON.parse(body)`).

    Raises ValueError when `body` is not JSON as JavaScript reads it."""
    return stable_json.canonical(body)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 from a copy of the key's HMAC object: `hmac.new` pays OpenSSL 3's set-up on every call, 3.4 µs
    for a 1 KB body where a copy of one made once per key takes 2.4, and every attempt signs."""
    mac = _keyed(key).copy()
    mac.update(data)
    return mac.digest()


@functools.lru_cache(maxsize=1024)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


@functools.lru_cache(maxsize=64)
def _public_key(pem: str) -> RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _key_error(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, RSAPublicKey):
        raise _key_error("the public key must be an RSA key")
    return key


# --- standard -------------------------------------------------------------------------------------


def _standard_mac(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return _hmac(key, b"%s.%d.%s" % (msg_id.encode(), timestamp, body))


def _sign_standard(msg_id: str, timestamp: int, body: bytes, secret: str | None) -> dict[str, str]:
    mac = _standard_mac(_secret_key("standard", secret), msg_id, timestamp, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def _verify_standard(
    headers: dict[str, str], body: bytes, secret: str | None, tolerance: int, now: int
) -> Verification:
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        if not headers.get(name):
            return _fail(f"missing header {name}")
    try:
        timestamp = int(headers["webhook-timestamp"])
    except ValueError:
        return _fail("invalid header webhook-timestamp")
    if now - timestamp > tolerance:
        return _fail("timestamp too old")
    if timestamp - now > tolerance:
        return _fail("timestamp too new")
    expected = _standard_mac(_secret_key("standard", secret), headers["webhook-id"], timestamp, body)
    # Several space-separated signatures are allowed (secret rotation); any v1 match is enough.
    for item in headers["webhook-signature"].split(" "):
        version, _, value = item.partition(",")
        given = _b64_bytes(value) if version == "v1" else None
        if given is not None and hmac.compare_digest(expected, given):
            return _OK
    return _fail("signature mismatch")


# --- basistheory ----------------------------------------------------------------------------------


def _bt_signed_bytes(body: bytes) -> bytes:
    try:
        return canonical_json(body)
    except ValueError as exc:
        raise InvalidInput(
            "the basistheory scheme signs JSON bodies only", errors=[FieldError("body", f"not JSON: {exc}")]
        ) from exc


def _sign_basistheory(body: bytes, key: SigningKey | None) -> dict[str, str]:
    private = (key or default_key()).private_key
    signature = private.sign(_bt_signed_bytes(body), _PSS_SIGN, hashes.SHA256())
    return {"BT-SIGNATURE": base64.b64encode(signature).decode(), "BT-SIGNATURE-VERSION": "v1"}


def _verify_basistheory(headers: dict[str, str], body: bytes, public_pem: str | None) -> Verification:
    for name in ("bt-signature", "bt-signature-version"):
        if not headers.get(name):
            return _fail(f"missing header {name.upper()}")
    if headers["bt-signature-version"] != "v1":
        return _fail(f"unsupported BT-SIGNATURE-VERSION {headers['bt-signature-version']!r}")
    signature = _b64_bytes(headers["bt-signature"])
    if signature is None:
        return _fail("invalid header BT-SIGNATURE")
    try:
        signed = canonical_json(body)
    except ValueError:
        return _fail("body is not JSON")
    key = _public_key(public_pem or default_key().public_pem)
    try:
        key.verify(signature, signed, _PSS_VERIFY, hashes.SHA256())
    except InvalidSignature:
        return _fail("signature mismatch")
    return _OK


# --- syncfy ---------------------------------------------------------------------------------------


def _sign_syncfy(
    msg_id: str, timestamp: int, body: bytes, secret: str | None, envelope_id: str | None
) -> dict[str, str]:
    claims: dict[str, Any] = {"iss": JWT_ISSUER, "iat": timestamp, "exp": timestamp + JWT_LIFETIME, "jti": msg_id}
    if envelope_id is not None:
        claims["rid"] = envelope_id
    claims["body_sha256"] = hashlib.sha256(body).hexdigest()
    signing_input = f"{_JWT_HEADER}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
    mac = _hmac(_secret_key("syncfy", secret), signing_input.encode())
    return {"request-signature": f"{signing_input}.{_b64url(mac)}"}


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a compact JWT, its signature not checked; None when it is not one."""
    parsed = _jwt_parts(token)
    return None if parsed is None else parsed[1]


def _jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes] | None:
    """Header, claims and signature of a compact JWT; None when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = (json.loads(_b64url_decode(p)) for p in parts[:2])
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, signature


def _verify_syncfy(headers: dict[str, str], body: bytes, secret: str | None, tolerance: int, now: int) -> Verification:
    token = headers.get("request-signature")
    if not token:
        return _fail("missing header request-signature")
    parsed = _jwt_parts(token)
    if parsed is None:
        return _fail("invalid header request-signature")
    header, claims, signature = parsed
    if header.get("alg") != "HS256":
        return _fail(f"unsupported JWT alg {header.get('alg')!r}")
    signing_input = token.rsplit(".", 1)[0].encode()
    if not hmac.compare_digest(_hmac(_secret_key("syncfy", secret), signing_input), signature):
        return _fail("signature mismatch")
    return _check_claims(claims, body, tolerance, now)


def _check_claims(claims: dict[str, Any], body: bytes, tolerance: int, now: int) -> Verification:
    for name in ("iat", "exp", "body_sha256"):
        if name not in claims:
            return _fail(f"missing claim {name}")
    if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int):
        return _fail("invalid claim iat or exp")
    if now > claims["exp"]:
        return _fail("token expired")
    if claims["iat"] - now > tolerance:
        return _fail("timestamp too new")
    digest = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(digest, str(claims["body_sha256"])):
        return _fail("body hash mismatch")
    return _OK


# --- entry points ---------------------------------------------------------------------------------


def sign(
    scheme: str,
    *,
    msg_id: str,
    timestamp: int,
    body: bytes,
    secret: str | None = None,
    key: SigningKey | None = None,
    envelope_id: str | None = None,
) -> dict[str, str]:
    """The headers `scheme` adds to a POST of `body`.

    `msg_id` is the delivery's id (constant across retries), `timestamp` the attempt's Unix seconds, `secret`
    the subscription's secret (`standard`, `syncfy`), `key` the RSA key (`basistheory`; default:
    `default_key()`), `envelope_id` the body's request id (`syncfy`'s `rid` claim). Raises `InvalidInput` for an
    unknown scheme or a malformed secret, or a `basistheory` body that is not JSON.
    """
    _check_scheme(scheme)
    if scheme == "standard":
        return _sign_standard(msg_id, timestamp, body, secret)
    if scheme == "basistheory":
        return _sign_basistheory(body, key)
    if scheme == "syncfy":
        return _sign_syncfy(msg_id, timestamp, body, secret, envelope_id)
    return {}


def verify(
    scheme: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None = None,
    public_pem: str | None = None,
    tolerance: int = 300,
    now: int | None = None,
) -> Verification:
    """Check the signature `scheme` put on a received request (header names are matched case-insensitively).

    `tolerance` is the accepted clock difference in seconds for `standard` timestamps and for a `syncfy` `iat`
    in the future; `now` defaults to the current time (this is the receiving side, which lives in real time).
    `public_pem` defaults to the development key's. Raises `InvalidInput` for an unknown scheme or a malformed
    secret: those are configuration errors, not bad requests.
    """
    _check_scheme(scheme)
    current = int(time.time()) if now is None else now
    lowered = _lower(headers)
    if scheme == "standard":
        return _verify_standard(lowered, body, secret, tolerance, current)
    if scheme == "basistheory":
        return _verify_basistheory(lowered, body, public_pem)
    if scheme == "syncfy":
        return _verify_syncfy(lowered, body, secret, tolerance, current)
    return _OK


# --- faults ---------------------------------------------------------------------------------------


def _flip(value: str, decode: Callable[[str], bytes | None], encode: Callable[[bytes], str]) -> str:
    """`value` with its decoded bytes' first byte inverted, re-encoded the same way."""
    raw = decode(value)
    if not raw:
        # Not ours to decode; a changed first character still cannot verify.
        return ("B" if value[:1] == "A" else "A") + value[1:]
    return encode(bytes([raw[0] ^ 0xFF]) + raw[1:])


def _flip_b64(value: str) -> str:
    return _flip(value, _b64_bytes, lambda raw: base64.b64encode(raw).decode())


def _flip_jwt(token: str) -> str:
    head, _, sig = token.rpartition(".")

    def decode(text: str) -> bytes | None:
        try:
            return _b64url_decode(text)
        except (binascii.Error, ValueError):
            return None

    return f"{head}.{_flip(sig, decode, _b64url)}" if head else _flip(token, decode, _b64url)


def _flip_standard(value: str) -> str:
    def one(item: str) -> str:
        version, sep, sig = item.partition(",")
        return f"{version}{sep}{_flip_b64(sig)}" if sep else _flip_b64(item)

    return " ".join(one(item) for item in value.split(" "))


_CORRUPTERS: dict[str, Callable[[str], str]] = {
    "webhook-signature": _flip_standard,
    "bt-signature": _flip_b64,
    "request-signature": _flip_jwt,
}


def corrupt(headers: dict[str, str]) -> dict[str, str]:
    """A copy of `headers` whose signature keeps its form but will not verify (the `bad_signature` fault).

    Headers without a signature (scheme `none`) come back unchanged.
    """
    out = dict(headers)
    for name, value in headers.items():
        corrupter = _CORRUPTERS.get(name.lower())
        if corrupter is not None:
            out[name] = corrupter(value)
    return out
