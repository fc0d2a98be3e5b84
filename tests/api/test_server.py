"""`serve_command`'s pieces: what it says on start, the signing key it loads, the socket it binds."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import signing
from simulator.cli import serve as server
from simulator.errors import InvalidInput
from simulator.runtime import bind_tcp, is_loopback


def test_without_a_token_on_loopback_it_says_the_api_is_open(capsys: pytest.CaptureFixture[str]) -> None:
    server._announce("127.0.0.1", 8080, None)
    out, err = capsys.readouterr()
    assert "serving on http://127.0.0.1:8080" in out and "no --token" in out and err == ""


def test_without_a_token_elsewhere_it_warns(capsys: pytest.CaptureFixture[str]) -> None:
    server._announce("0.0.0.0", 8080, None)
    out, err = capsys.readouterr()
    assert "serving on http://0.0.0.0:8080" in out
    assert err.startswith("warning: no --token while listening on 0.0.0.0")


def test_with_a_token_it_names_the_public_routes_and_never_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    server._announce("::", 9000, "hunter2")
    out, err = capsys.readouterr()
    assert "http://[::]:9000" in out and "Bearer" in out and err == ""
    assert "hunter2" not in out + err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.test", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_signing_key_is_loaded_from_its_file(tmp_path: Path) -> None:
    key = signing.SigningKey.generate()
    path = tmp_path / "key.pem"
    path.write_text(key.private_pem())
    assert server.load_key(str(path)).public_pem == key.public_pem
    assert server.load_key(None) is None
    with pytest.raises(InvalidInput) as missing:
        server.load_key(str(tmp_path / "absent.pem"))
    assert missing.value.errors[0].field == "signing-key"


def test_port_zero_binds_a_free_port_and_a_taken_port_fails() -> None:
    sock = bind_tcp("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert port > 0
        sock.listen()
        with pytest.raises(OSError):
            bind_tcp("127.0.0.1", port)
    finally:
        sock.close()
