"""Secrets at rest: what signs or authenticates a delivery is sealed (AES-256-GCM) before it reaches the database.

Sealed: a subscription's secret, a subscription URL that carries a password (`https://user:pw@host/…`), a
subscription's headers (an `Authorization`, an API key), a schedule's run secret. A copy of the database file alone
(a backup, an attachment to a bug report) then reveals none of them.

The key, in this order:
- `WEBHOOK_SIM_SECRET_KEY` (or `secret_key` given to `Store.open`): any text, stretched by HKDF-SHA256. Every
  process that opens the store needs the same value.
- `<database>.key` beside a SQLite file: 32 random bytes (base64), mode 0600, made the first time the database is
  opened. Keep it with the database: without it the secrets cannot be read.
- An ephemeral store's key is random and lives in memory only.
- A server database (PostgreSQL) without `WEBHOOK_SIM_SECRET_KEY` keeps a random key in its own settings, which
  only hides secrets from a casual look (a warning says so at start).

A sealed value is `sealed:v1:` and the base64url of nonce, ciphertext and tag; its row's id and column are the
associated data, so a sealed value copied into another row does not open. A value without the prefix is plain
text written by an earlier release: it reads as it is, and opening the store seals it (as does any later write).
A check value in the settings makes a store opened with the wrong key fail at once, naming the remedy, rather
than fail every signature later.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from simulator.credentials import has_credentials
from simulator.errors import SimError
from simulator.store import tables as t

log = logging.getLogger("webhook_sim.store")

KEY_ENV = "WEBHOOK_SIM_SECRET_KEY"
PREFIX = "sealed:v1:"
CHECK_SETTING = "secrets.check"
KEY_SETTING = "secrets.key"  # only for a server database opened without WEBHOOK_SIM_SECRET_KEY
_CHECK_TEXT = "webhook-sim"
_NONCE = 12


class SecretKeyMismatch(SimError):
    """The store's secrets were sealed with another key: nothing signed with them could be sent."""

    status = 503
    exit_code = 1
    title = "Wrong secret key"


class Sealer:
    """Seals and opens the secrets of one store with its key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def ephemeral(cls) -> Sealer:
        """A sealer with a random key kept in memory only (a store that ends with its process)."""
        return cls(AESGCM.generate_key(bit_length=256))

    def seal(self, value: str | None, context: str) -> str | None:
        """`value` sealed for the row and column `context` names (`secret:sub_…`); None stays None."""
        if value is None:
            return None
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), context.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def unseal(self, value: str | None, context: str) -> str | None:
        """The plain text of a sealed `value`; an unsealed one (an earlier release's) as it is."""
        if value is None or not value.startswith(PREFIX):
            return value
        data = base64.urlsafe_b64decode(value.removeprefix(PREFIX))
        try:
            plain = self._aead.decrypt(data[:_NONCE], data[_NONCE:], context.encode("utf-8"))
        except InvalidTag:
            raise SecretKeyMismatch(f"a sealed secret ({context}) does not open with this store's key") from None
        return plain.decode("utf-8")

    def seal_headers(self, text: str, context: str) -> str:
        """A subscription's headers (JSON) sealed when there are any: an `Authorization` or an API key the receiver
        checks is as much a credential as a URL's password (none stays `{}`)."""
        return self.seal(text, context) or text if text != "{}" else text

    def seal_url(self, url: str, context: str) -> str:
        """`url` sealed when it carries credentials, else as it is (most URLs hold nothing secret)."""
        return self.seal(url, context) or url if has_credentials(url) else url


def derive(text: str) -> bytes:
    """The AES key for a `WEBHOOK_SIM_SECRET_KEY` value."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"webhook-sim secrets", info=b"sealing v1")
    return hkdf.derive(text.encode("utf-8"))


def key_path(database: Path) -> Path:
    """`<database>.key` beside the database file itself, a symbolic link to it followed as its lock's name is:
    made beside the link, it was left behind by a copy of the file's own folder, and the file opened by its real
    path said its key was missing. One an earlier release made beside the link is still found there."""
    real = database.resolve()
    beside = real.with_name(real.name + ".key")
    given = database.with_name(database.name + ".key")
    if given != beside and not beside.exists() and given.exists():
        return given
    return beside


def key_file(database: Path, *, create: bool) -> bytes:
    """The key in `<database>.key`; made (mode 0600) when there is none yet and `create` says the store has no
    sealed secrets (a new key would not open them)."""
    path = key_path(database)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a copy made with a looser mode: the key is this user's alone
        try:
            key = base64.b64decode(path.read_bytes().strip(), validate=True)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise SecretKeyMismatch(f"{path} is not a key this simulator wrote (32 bytes, base64)") from None
        return key
    if not create:
        os.close(fd)
        path.unlink()
        raise SecretKeyMismatch(
            f"{path} is missing: the store's secrets were sealed with the key it held; restore it, or give the "
            f"{KEY_ENV} they were sealed with"
        )
    key = AESGCM.generate_key(bit_length=256)
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64encode(key) + b"\n")
    return key


async def open_sealer(
    conn: AsyncConnection, *, database: Path | None, ephemeral: bool, secret_key: str | None = None
) -> Sealer:
    """The store's sealer (see the module's docstring for where its key comes from), checked against the store,
    with any plain-text secret an earlier release left sealed. Runs in the transaction that opens the store."""
    given = secret_key or os.environ.get(KEY_ENV) or None
    check = await _setting(conn, CHECK_SETTING)
    if given is not None:
        key, source = derive(given), KEY_ENV
    elif ephemeral:
        key, source = AESGCM.generate_key(bit_length=256), "memory"
    elif database is not None:
        key, source = key_file(database, create=check is None), str(key_path(database))
    else:
        key, source = await _key_in_database(conn), "the database's settings"
    sealer = Sealer(key)
    if check is None:
        await conn.execute(t.settings.insert().values(key=CHECK_SETTING, value=sealer.seal(_CHECK_TEXT, "check")))
    else:
        try:
            sealer.unseal(check, "check")
        except SecretKeyMismatch:
            raise SecretKeyMismatch(
                f"the store's secrets were sealed with another key than the one from {source}: give the "
                f"{KEY_ENV} they were sealed with, or restore the key file that was beside the database"
            ) from None
    await _seal_plain(conn, sealer)
    return sealer


async def _key_in_database(conn: AsyncConnection) -> bytes:
    log.warning(
        "%s is not set: this database keeps its own secret key, so its secrets are hidden only from a casual look; "
        "set %s (the same in every process that opens it)",
        KEY_ENV,
        KEY_ENV,
    )
    stored = await _setting(conn, KEY_SETTING)
    if stored is not None:
        return base64.b64decode(stored)
    key = AESGCM.generate_key(bit_length=256)
    await conn.execute(t.settings.insert().values(key=KEY_SETTING, value=base64.b64encode(key).decode("ascii")))
    return key


async def _seal_plain(conn: AsyncConnection, sealer: Sealer) -> None:
    """Seal the subscription secrets, URL passwords and headers an earlier release stored in plain text."""
    s = t.subscriptions.c
    rows = (await conn.execute(select(s.id, s.url, s.secret, s.headers))).all()
    for row in rows:
        secret, headers = row.secret, row.headers
        sealed_secret = sealer.seal(secret, f"secret:{row.id}") if secret and not secret.startswith(PREFIX) else secret
        sealed_url = sealer.seal_url(row.url, f"url:{row.id}")  # a sealed one has no password to see: unchanged
        sealed_headers = headers if headers.startswith(PREFIX) else sealer.seal_headers(headers, f"headers:{row.id}")
        if (sealed_secret, sealed_url, sealed_headers) != (secret, row.url, headers):
            values = {"secret": sealed_secret, "url": sealed_url, "headers": sealed_headers}
            await conn.execute(update(t.subscriptions).where(s.id == row.id).values(**values))


async def _setting(conn: AsyncConnection, key: str) -> str | None:
    value = (await conn.execute(select(t.settings.c.value).where(t.settings.c.key == key))).scalar()
    return str(value) if value is not None else None
