"""The data behind a credential's refresh events: accounts, transactions and attachments, derived on request from
each refresh's event id and a row's index, never stored row by row. Pure functions: no HTTP, no SQL.

A refresh event lists one URL per page of 5,000 rows for each kind; its window holds exactly as many rows as
those pages can carry and no fewer: with `p` pages, between `(p - 1) * 5000 + 1` and `p * 5000` rows. Row `i` of
a window has `dt_refresh` rising with `i` from the window's start to its end, belongs to the credential's account
`i mod n` (so a filter on one account is arithmetic, not a scan), and transaction `i` carries attachment `i` when
the window has that many attachments.

Ids are MongoDB ObjectIds as one process writes a batch: the row's `dt_refresh`, five bytes naming the window and
the kind (its tag), and a counter that is the row's index plus an offset. An id alone thus names its window and
row, so `GET /attachments/{id}` and `id_transaction` filters find a row without storing it.

Where the emulation differs from Syncfy: no row is ever disabled or deleted (`is_disable`, `is_deleted` 0), an
account's balance is a value of its window rather than the sum of its transactions, and `keywords`, `fields`,
`order` and the `dt_transaction_*` filters are not applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from simulator.providers.syncfy.api import SiteRef, account_site, digest
from simulator.providers.syncfy.events import PAGE_SIZE

KINDS = ("accounts", "transactions", "attachments")
_KIND_SALT = {"accounts": 0x0A, "transactions": 0x7E, "attachments": 0xA7}
MXN = "523a25953b8e77910e8b456c"
_ACCOUNT_TYPES = (
    ("520d3aa93b8e778e0d000000", "Checking"),
    ("520d3aa93b8e778e0d000001", "Savings"),
    ("520d3aa93b8e778e0d000002", "Credit Card"),
)
_IRS = ("546d4904df527d1844a2e18d", "IRS")
_OTHER = ("5286609bc6901663398b4568", "Other")
XML_ATTACHMENT = "56bcdfca784806d1378b4567"
_MERCHANTS = (
    "OXXO",
    "WALMART",
    "SPEI RECIBIDO",
    "SPEI ENVIADO",
    "PAGO TARJETA",
    "CFE SUMINISTRADOR",
    "TELMEX",
    "LIVERPOOL",
    "UBER",
    "RETIRO CAJERO",
    "NOMINA",
    "AMAZON MX",
)
_COMPANIES = (
    "HERRERIA & ELECTRICOS SA DE CV",
    "ESCUELA KEMPER URGATE SA DE CV",
    "ACME CORP",
    "COMERCIALIZADORA DEL NORTE SA DE CV",
    "SERVICIOS INTEGRALES DEL BAJIO SC",
)
_FISCAL_KEYWORDS = ("3.3", "emitidas", "i", "timbrefiscaldigital", "vigente")
_FISCAL_JSON = json.dumps(list(_FISCAL_KEYWORDS), separators=(",", ":"))
# Row descriptions are written into JSON text as they are: they hold no character JSON would escape.


def _int(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


@dataclass(frozen=True)
class Owner:
    """The credential a row belongs to, with the ids every row repeats."""

    id_credential: str
    id_user: str
    id_external: str
    site: SiteRef

    @property
    def created(self) -> int:
        return int(self.id_credential[:8], 16)

    def base_accounts(self) -> int:
        """How many accounts the credential has (a fiscal credential has one: its invoices)."""
        return 1 if self.site.fiscal else 1 + _int(digest(self.id_credential, "accounts", size=1)) % 3


@dataclass(frozen=True)
class Window:
    """One refresh event of one credential: its time window and how many pages of each kind it listed."""

    eid: str
    since: int
    until: int
    pages: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, eid: str, payload: Mapping[str, Any], at: float) -> Window:
        """The window a `credentials.refreshed` payload announced (its page URLs give the bounds and counts)."""
        endpoints = payload.get("endpoints") or {}
        pages = {k: len(endpoints.get(k) or ()) for k in KINDS}
        for urls in endpoints.values():
            for url in urls or ():
                query = parse_qs(urlsplit(url).query)
                if "dt_refresh_from" in query and "dt_refresh_to" in query:
                    return cls(eid, int(query["dt_refresh_from"][0]), int(query["dt_refresh_to"][0]), pages)
        return cls(eid, int(at) - 1, int(at), pages)

    def tag(self, kind: str) -> int:
        """Five bytes naming this window's rows of `kind` inside their ObjectIds."""
        return _int(digest(self.eid, size=5)) ^ _KIND_SALT[kind]

    def count(self, kind: str, owner: Owner) -> int:
        """How many rows of `kind` the window holds: exactly enough for its pages."""
        pages = self.pages.get(kind, 0)
        if pages <= 0:
            return 0
        if kind == "accounts" and pages == 1:
            return owner.base_accounts()
        draw = _int(digest(self.eid, kind, size=4)) / 2**32
        if pages == 1:  # skewed towards small windows: most syncs bring tens or hundreds of rows
            return 1 + int(draw * draw * (PAGE_SIZE - 1))
        return (pages - 1) * PAGE_SIZE + 1 + int(draw * (PAGE_SIZE - 1))

    def refreshed_at(self, i: int, n: int) -> int:
        """`dt_refresh` of row `i` of `n`: rising from `since` to `until`."""
        return self.since + (i * (self.until - self.since)) // max(1, n - 1) if n > 1 else self.until

    def counter_base(self, kind: str) -> int:
        """The ObjectId counter of the window's first row of `kind`."""
        return _int(digest(self.eid, kind, "counter", size=3))

    def row_id(self, kind: str, i: int, n: int) -> str:
        counter = (self.counter_base(kind) + i) % (1 << 24)
        return f"{self.refreshed_at(i, n):08x}{self.tag(kind):010x}{counter:06x}"

    def row_index(self, kind: str, oid: str) -> int:
        """The index of the row whose id is `oid` (it must carry this window's tag for `kind`)."""
        return (int(oid[18:], 16) - self.counter_base(kind)) % (1 << 24)


def tag_of(oid: str) -> int:
    """The five middle bytes of an ObjectId."""
    return int(oid[8:18], 16)


def window_tags(oid: str) -> dict[int, str]:
    """For a row id, the window tag it would have under each kind (what to look the window up by)."""
    tag = tag_of(oid)
    return {tag ^ salt: kind for kind, salt in _KIND_SALT.items()}


# -- accounts -------------------------------------------------------------------------------------------------


def account_id(owner: Owner, j: int) -> str:
    """The id of the credential's account `j`: made at the credential's first sync, one process, consecutive."""
    base = digest(owner.id_credential, "account")
    counter = (_int(base[5:8]) + j) % (1 << 24)
    return f"{owner.created + 1:08x}{base[:5].hex()}{counter:06x}"


def account_index(owner: Owner, oid: str) -> int | None:
    """Which base account `oid` is, or None."""
    for j in range(owner.base_accounts()):
        if account_id(owner, j) == oid:
            return j
    return None


def _account_kind(owner: Owner, j: int) -> tuple[str, str]:
    return _IRS if owner.site.fiscal else _ACCOUNT_TYPES[j % len(_ACCOUNT_TYPES)]


def account(owner: Owner, j: int, refreshed: int, salt: str) -> dict[str, Any]:
    """Base account `j` as refreshed at `refreshed` (its balance drawn from `salt`, the refresh)."""
    type_id, type_name = _account_kind(owner, j)
    raw = digest(owner.id_credential, salt, j)
    fiscal = owner.site.fiscal
    name = f"Facturas CFDI {owner.id_external or owner.id_user[-8:]}" if fiscal else f"{owner.site.name} {type_name}"
    balance = 0 if fiscal else round((_int(raw[:4]) % 20_000_000) / 100 - (50_000 if type_id.endswith("02") else 0), 2)
    return _account_row(owner, account_id(owner, j), (type_id, type_name), name, raw, balance, refreshed, fiscal)


def extra_account(owner: Owner, window: Window, i: int, n: int) -> dict[str, Any]:
    """Row `i` (past the base accounts) of a window listing more accounts than the credential's own."""
    raw = digest(window.eid, "account", i)
    balance = round((_int(raw[:4]) % 1_000_000) / 100, 2)
    refreshed = window.refreshed_at(i, n)
    row_id = window.row_id("accounts", i, n)
    return _account_row(owner, row_id, _OTHER, f"Cuenta {i:05d}", raw, balance, refreshed, False)


def _account_row(
    owner: Owner,
    oid: str,
    kind: tuple[str, str],
    name: str,
    raw: bytes,
    balance: float,
    refreshed: int,
    fiscal: bool,
) -> dict[str, Any]:
    return {
        "id_account": oid,
        "id_account_type": kind[0],
        "id_currency": MXN,
        "id_user": owner.id_user,
        "id_external": owner.id_external,
        "id_credential": owner.id_credential,
        **owner.site.ids(),
        "is_disable": 0,
        "name": name,
        "number": None if fiscal else f"{_int(raw[4:8]) % 10**8:08d}",
        "balance": balance,
        "currency": "MXN",
        "account_type": kind[1],
        "site": account_site(owner.site),
        "extra": None,
        "keywords": list(_FISCAL_KEYWORDS) if fiscal else None,
        "dt_refresh": refreshed,
    }


def window_account(owner: Owner, window: Window, i: int, n: int) -> dict[str, Any]:
    """Row `i` of a window's accounts: the credential's own accounts first, then the window's extra ones."""
    if i < owner.base_accounts():
        return account(owner, i, window.refreshed_at(i, n), window.eid)
    return extra_account(owner, window, i, n)


# -- transactions and attachments -----------------------------------------------------------------------------


def _cfdi_uuid(raw: bytes) -> str:
    h = raw.hex().upper()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-A{h[17:20]}-{h[20:32]}"


def dumps(value: Any) -> str:
    """Compact JSON text, as the twin writes every row."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class WindowRows:
    """A window's transactions and attachments as JSON text, one row at a time.

    What every row of the window shares (the owner's ids, the tags, the accounts) is computed once, and each row
    is written from a template: a page of 5,000 transactions costs about as much as encoding it once would.
    """

    def __init__(self, owner: Owner, window: Window, counts: Mapping[str, int]) -> None:
        self.owner, self.window = owner, window
        self.n_tx, self.n_att = counts.get("transactions", 0), counts.get("attachments", 0)
        self.fiscal = owner.site.fiscal
        self.nb = owner.base_accounts()
        self.accounts = [(account_id(owner, j), _account_kind(owner, j)[0]) for j in range(self.nb)]
        self.tags = {k: f"{window.tag(k):010x}" for k in ("transactions", "attachments")}
        self.bases = {k: window.counter_base(k) for k in ("transactions", "attachments")}
        self.site = dumps(owner.site.ids())[1:-1]
        self.user, self.external = dumps(owner.id_user), dumps(owner.id_external)
        self.credential = dumps(owner.id_credential)
        self.keywords = _FISCAL_JSON if self.fiscal else "null"

    def _id(self, kind: str, i: int, n: int) -> str:
        counter = (self.bases[kind] + i) % (1 << 24)
        return f"{self.window.refreshed_at(i, n):08x}{self.tags[kind]}{counter:06x}"

    def transaction_id(self, i: int) -> str:
        return self._id("transactions", i, self.n_tx)

    def attachment_id(self, i: int) -> str:
        return self._id("attachments", i, self.n_att)

    def _attachment_ref(self, i: int, uuid: str) -> str:
        oid = self.attachment_id(i)
        return (
            f'{{"id_attachment":"{oid}","id_attachment_type":"{XML_ATTACHMENT}","is_valid":1,'
            f'"file":"{uuid}.xml","mime":null,"url":"/attachments/{oid}"}}'
        )

    def _deal(self, i: int) -> tuple[bytes, float, str, str | None, int]:
        """What transaction `i` and the invoice of it share: its draws, amount, counterparty, RFC and day."""
        raw = digest(self.window.eid, "tx", i)
        refreshed = self.window.refreshed_at(i, self.n_tx)
        cents = _int(raw[:4]) % 5_000_000 + 100
        amount = (cents if raw[4] & 1 else -cents) / 100
        if self.fiscal:
            company = _COMPANIES[raw[5] % len(_COMPANIES)]
            tax_id: str | None = f"{company[:3].replace(' ', 'X')}{_int(raw[6:9]) % 10**6:06d}A1B"
            description = company
        else:
            description, tax_id = f"{_MERCHANTS[raw[5] % len(_MERCHANTS)]} {_int(raw[6:9]) % 100000:05d}", None
        day = (refreshed - (_int(raw[11:13]) % 60) * 86400) // 86400 * 86400 + 21600
        return raw, amount, description, tax_id, day

    def transaction(self, i: int) -> str:
        """Transaction `i` as JSON text (keys in Syncfy's order)."""
        raw, amount, description, tax_id, day = self._deal(i)
        id_account, type_id = self.accounts[i % self.nb]
        refreshed = self.window.refreshed_at(i, self.n_tx)
        uuid = _cfdi_uuid(digest(self.window.eid, "attachment", i)) if i < self.n_att or self.fiscal else ""
        attachments = f"[{self._attachment_ref(i, uuid)}]" if i < self.n_att else "[]"
        if tax_id is not None:
            extra, reference = f'{{"tax_id":"{tax_id}"}}', f'"{uuid}"'
        else:
            extra, reference = "null", "null"
        return (
            f'{{"id_transaction":"{self.transaction_id(i)}","id_account":"{id_account}",'
            f'"id_account_type":"{type_id}","id_credential":{self.credential},"id_currency":"{MXN}",'
            f'"id_disable_type":null,"id_external":{self.external},{self.site},"id_user":{self.user},'
            f'"is_account_disable":0,"is_deleted":0,"is_disable":0,"is_pending":{int(raw[10] < 8)},'
            f'"description":"{description}","amount":{amount!r},"currency":"MXN",'
            f'"attachments":{attachments},"extra":{extra},"reference":{reference},"keywords":{self.keywords},'
            f'"dt_transaction":{day},"dt_refresh":{refreshed},"dt_disable":null,"dt_deleted":null}}'
        )

    def invoice(self, i: int, item: Mapping[str, Any]) -> bytes:
        """The file of attachment `i` (`item`, its row): the invoice of transaction `i`, whose amount, date and
        counterparty it states, when the window has one; else the skeleton of an extra attachment."""
        if i >= self.n_tx:
            return cfdi_xml(self.owner, item)
        _, amount, description, tax_id, day = self._deal(i)
        return cfdi_xml(self.owner, item, (amount, description, tax_id, day))

    def attachment(self, i: int) -> str:
        """Attachment `i` as JSON text: the invoice of transaction `i` when there is one."""
        uuid = _cfdi_uuid(digest(self.window.eid, "attachment", i))
        oid = self.attachment_id(i)
        tx = f'"{self.transaction_id(i)}"' if i < self.n_tx else "null"
        return (
            f'{{"id_attachment":"{oid}","id_account":"{self.accounts[i % self.nb][0]}","id_user":{self.user},'
            f'"id_external":{self.external},"id_attachment_type":"{XML_ATTACHMENT}","id_transaction":{tx},'
            f'"is_valid":1,"file":"{uuid}.xml","mime":null,"url":"/attachments/{oid}",'
            f'"keywords":{_FISCAL_JSON},"dt_refresh":{self.window.refreshed_at(i, self.n_att)}}}'
        )


def cfdi_xml(owner: Owner, item: Mapping[str, Any], deal: tuple[float, str, str | None, int] | None = None) -> bytes:
    """The invoice file an attachment stands for: a CFDI 3.3 naming its UUID, and for the invoice of a transaction
    (`deal`: its amount, counterparty, RFC and day) what a consumer reconciles with it: the date, the total, the
    issuer and the receiver (money out: the counterparty invoiced the user; money in: the user invoiced it)."""
    uuid = item["file"].removesuffix(".xml")
    user = escape(owner.id_external or GENERIC_RFC, {'"': "&quot;"})
    if deal is None:
        parties, totals, concepts = f'    <cfdi:Emisor Rfc="{user}"/>\n', "", ""
    else:
        amount, name, rfc, day = deal
        other = (escape(rfc or GENERIC_RFC), escape(name, {'"': "&quot;"}))
        issuer, receiver = (other, (user, "")) if amount < 0 else ((user, ""), other)
        total = f"{abs(amount):.2f}"
        fecha = datetime.fromtimestamp(day, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        totals = f'Fecha="{fecha}" SubTotal="{total}" Total="{total}" '
        parties = (
            f'    <cfdi:Emisor Rfc="{issuer[0]}"{_named(issuer[1])}/>\n'
            f'    <cfdi:Receptor Rfc="{receiver[0]}"{_named(receiver[1])} UsoCFDI="G03"/>\n'
        )
        concepts = (
            f'    <cfdi:Conceptos>\n        <cfdi:Concepto Cantidad="1" Descripcion="{other[1]}" '
            f'ValorUnitario="{total}" Importe="{total}"/>\n    </cfdi:Conceptos>\n'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/3" Version="3.3" '
        f'{totals}Moneda="MXN" TipoDeComprobante="I">\n{parties}{concepts}    <cfdi:Complemento>\n'
        '        <tfd:TimbreFiscalDigital xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="1.1" '
        f'UUID="{uuid}"/>\n    </cfdi:Complemento>\n</cfdi:Comprobante>\n'
    ).encode()


# The SAT's RFC for a party with none of its own (público en general).
GENERIC_RFC = "XAXX010101000"


def _named(name: str) -> str:
    return f' Nombre="{name}"' if name else ""
