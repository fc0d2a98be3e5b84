"""Secrets at rest: the database file never holds a subscription's secret or a URL's password; an earlier
release's plain-text row still reads and is sealed; the key lives beside the database (0600) or comes from
WEBHOOK_SIM_SECRET_KEY, and a store opened with another key is refused; deliveries still sign after a restart."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from simulator import signing
from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, RetrySpec, SubscriptionSpec
from simulator.models.records import Subscription
from simulator.receiving import make_verifier
from simulator.store import Store
from simulator.store import tables as t
from simulator.store.secrets import KEY_ENV, PREFIX, SecretKeyMismatch
from simulator.testing.receiver import Receiver
from tests.conftest import until

PASSWORD = "pw-7c1e9a"
HEADERS = {"Authorization": "Bearer hdr-tok-51f0", "X-Api-Key": "hdr-key-93ab"}  # a receiver's own credentials
HEADERS_RAW = (b"hdr-tok-51f0", b"hdr-key-93ab")


def subscription(
    sub_id: str, secret: str, url: str = "http://127.0.0.1:9/hook", headers: dict[str, str] | None = None
) -> Subscription:
    return Subscription(
        id=sub_id,
        url=url,
        events=("token.created",),
        signing="standard",
        secret=secret,
        headers=headers or {},
        timeout=5.0,
        retry=None,
        max_in_flight=1,
        strict_order=False,
        batch=1,
        faults={},
        status="enabled",
        disable_after=0,
        consecutive_dead=0,
        created_at=1.0,
        ephemeral=False,
    )


def on_disk(folder: Path) -> bytes:
    """Every byte of the database's files (the database, its WAL, its shared memory), the key file excepted."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.suffix != ".key")


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


async def test_the_database_files_never_hold_a_secret_or_a_url_password(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    secret = signing.new_secret("standard")
    assert secret is not None
    url = f"http://user:{PASSWORD}@127.0.0.1:9/hook"
    store = await Store.open(str(folder / "sim.db"))
    try:
        await store.put_subscription(subscription("sub_1", secret, url, HEADERS))
        found = await store.get_subscription("sub_1")
        assert found is not None and (found.secret, found.url, found.headers) == (secret, url, HEADERS)
        raw = on_disk(folder)  # as it is while the store is open: the WAL holds the newest pages
    finally:
        await store.close()
    raw += on_disk(folder)
    material = base64.b64decode(secret.removeprefix("whsec_"))
    for needle in (secret.encode(), secret.removeprefix("whsec_").encode(), material, PASSWORD.encode(), *HEADERS_RAW):
        assert needle not in raw
    key = folder / "sim.db.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(base64.b64decode(key.read_bytes())) == 32


async def test_a_plain_text_row_of_an_earlier_release_reads_and_is_sealed_when_the_store_opens(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "sim.db")
    secret = signing.new_secret("standard")
    store = await Store.open(db)
    try:
        plain = {**{c.name: None for c in t.subscriptions.c}, "id": "sub_old", "secret": secret}
        plain.update(url="http://127.0.0.1:9/hook", events="[]", timeout=5.0, max_in_flight=1)
        plain.update(headers='{"Authorization":"Bearer hdr-tok-51f0","X-Api-Key":"hdr-key-93ab"}')
        plain.update(strict_order=False, batch=1, faults="{}", status="enabled", disable_after=0)
        plain.update(consecutive_dead=0, created_at=1.0, ephemeral=False)
        await store.writer.submit(lambda conn: conn.execute(t.subscriptions.insert().values(**plain)))
        assert (await store.get_subscription("sub_old")).secret == secret  # type: ignore[union-attr]
    finally:
        await store.close()

    store = await Store.open(db)
    try:
        async with store.engine.connect() as conn:
            stored, headers = (await conn.execute(select(t.subscriptions.c.secret, t.subscriptions.c.headers))).one()
        assert stored.startswith(PREFIX) and secret not in stored
        assert headers.startswith(PREFIX) and "hdr-tok-51f0" not in headers
        found = await store.get_subscription("sub_old")
        assert found is not None and (found.secret, found.headers) == (secret, HEADERS)
    finally:
        await store.close()


async def test_a_store_opened_with_another_key_is_refused_and_a_missing_key_file_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sim.db"
    store = await Store.open(str(db), secret_key="the first key")
    await store.put_subscription(subscription("sub_1", signing.new_secret("standard") or ""))
    await store.close()
    assert not (tmp_path / "sim.db.key").exists()  # a given key needs no file

    with pytest.raises(SecretKeyMismatch, match=KEY_ENV):
        await Store.open(str(db), secret_key="another key")
    with pytest.raises(SecretKeyMismatch, match=r"sim\.db\.key is missing"):
        await Store.open(str(db))
    assert not (tmp_path / "sim.db.key").exists()
    monkeypatch.setenv(KEY_ENV, "the first key")
    store = await Store.open(str(db))
    try:
        assert (await store.get_subscription("sub_1")) is not None
    finally:
        await store.close()


async def test_a_delivery_resumed_after_a_restart_is_signed_with_the_unsealed_secret(tmp_path: Path) -> None:
    secret = signing.new_secret("standard")
    db = str(tmp_path / "sim.db")
    with Receiver(verifier=make_verifier("standard", secret=secret)) as receiver:
        receiver.respond(503)
        sim = await Simulator.open(db)
        try:
            retry = RetrySpec(delays=[0.5] * 50, jitter=0)
            spec = SubscriptionSpec(url=receiver.url, signing="standard", secret=secret, retry=retry)
            await sim.create_subscription(spec)
            await sim.emit(EventSpec(type="token.created"))
            await receiver.wait_for_async(1)
        finally:
            await asyncio.wait_for(sim.close(grace=1), 30)
        receiver.respond(204)
        sim = await Simulator.open(db)
        try:
            await until(lambda: any(r.status == 204 for r in receiver.requests), what="the resumed delivery")
            assert all(r.verified for r in receiver.requests), [r.reason for r in receiver.requests]
        finally:
            await asyncio.wait_for(sim.close(grace=1), 30)
    assert os.path.exists(f"{db}.key")
