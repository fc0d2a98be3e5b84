"""A `--signing-key` too small to sign with is refused as the server starts, naming the option. Under 528 bits no
RSA-PSS signature with the scheme's 32-byte salt fits: the server started, published the key, and every Basis
Theory delivery failed ("signing failed") until it was dead. 1024 bits signs, and is breakable."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.errors import InvalidInput
from simulator.signing import MIN_KEY_BITS, SigningKey
from tests.api.serving import serve_once


def rsa_pem(bits: int) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize("bits", [1024, MIN_KEY_BITS - 8])  # (cryptography makes none under 1024)
def test_a_key_under_the_least_size_is_refused_naming_it(bits: int) -> None:
    with pytest.raises(InvalidInput) as info:
        SigningKey.from_pem(rsa_pem(bits))
    assert info.value.errors[0].field == "signing_key"
    assert f"RSA-{bits}" in info.value.detail and str(MIN_KEY_BITS) in info.value.detail


def test_serve_refuses_a_small_signing_key_before_it_starts(tmp_path: Path) -> None:
    small = tmp_path / "small.pem"
    small.write_bytes(rsa_pem(1024))
    done = serve_once(["--port", "0", "--db", str(tmp_path / "api.db"), "--signing-key", str(small)])
    assert done.returncode == 2, done.stderr
    assert "signing" in done.stderr and "RSA-1024" in done.stderr
    assert "serving on" not in done.stdout


def test_a_key_of_the_least_size_signs() -> None:
    assert SigningKey.from_pem(rsa_pem(MIN_KEY_BITS)).public_pem.startswith("-----BEGIN PUBLIC KEY-----")
