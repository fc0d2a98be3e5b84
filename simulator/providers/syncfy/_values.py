"""Realistic Syncfy values: environment ids, the site catalogue, job types and client user references.

Site ids come from Syncfy's (Paybook's) published examples: the sandbox's "ACME" test institutions, the
fiscal (SAT) sites of the Webhooks V3 examples and the widget documentation's Banamex. Organization type
`56cf4f5b784806cf028b4568` is a bank, `56cf4f5b784806cf028b4569` a government (fiscal) institution, the only
kind that downloads documents.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.errors import FieldError, InvalidInput

ENVIRONMENTS: dict[str, str] = {
    "sandbox": "574894bf7848066d138b4570",
    "production": "574894bf7848066d138b4571",
}

# The job type every V3 refresh example carries in both `id_job_type` and `id_job_uuid_type`.
REFRESH_JOB_TYPE = "57884c49784806f0768b4568"

BANK = "56cf4f5b784806cf028b4568"
GOVERNMENT = "56cf4f5b784806cf028b4569"


@dataclass(frozen=True)
class Site:
    """One institution a credential logs into."""

    id_site: str
    id_site_organization: str
    id_site_organization_type: str

    @property
    def has_documents(self) -> bool:
        """Fiscal sites (SAT) are the ones whose invoices Syncfy downloads as documents."""
        return self.id_site_organization_type == GOVERNMENT

    def as_dict(self) -> dict[str, str]:
        return {
            "id_site": self.id_site,
            "id_site_organization": self.id_site_organization,
            "id_site_organization_type": self.id_site_organization_type,
        }


_ACME = "56cf4ff5784806152c8b4567"
_SAT = "56cf4ff5784806152c8b4568"
_BANAMEX = "56cf4ff5784806152c8b456a"

# Sandbox: the ACME test bank's sites ("Normal", "Token", "Token & captcha") and the test fiscal site.
_SANDBOX_SITES: tuple[Site, ...] = (
    Site("56cf5728784806f72b8b4568", _ACME, BANK),
    Site("56cf5728784806f72b8b4569", _ACME, BANK),
    Site("572ba390784806060f8b458b", _ACME, BANK),
    Site("5da784f1f9de2a06483abec1", _ACME, GOVERNMENT),
)

# Production: the fiscal sites of the V3 examples, and Banamex's two sites (BancaNet Personal, Empresarial).
_PRODUCTION_SITES: tuple[Site, ...] = (
    Site("56cf5728784806f72b8b456f", _SAT, GOVERNMENT),
    Site("59aefe28056f29793a58c091", _SAT, GOVERNMENT),
    Site("59aefe28056f29793a58c092", _SAT, GOVERNMENT),
    Site("63ae0c7be5d6f1905cb9d3dd", "5c65e306f9de2a080b61bb31", GOVERNMENT),
    Site("56cf5728784806f72b8b456c", _BANAMEX, BANK),
    Site("571175467848062d698b4568", _BANAMEX, BANK),
)

_SITES = {"sandbox": _SANDBOX_SITES, "production": _PRODUCTION_SITES}


# What kind of institution a new credential logs into: the run parameter `institution`. `twofa`: a site whose
# login asks for a second factor, the sandbox's "Token" sites (`TWOFA_SITES`, as the API twin says of them) and
# production's banks.
INSTITUTIONS = ("any", "bank", "fiscal", "twofa")
TWOFA_SITES = frozenset({"56cf5728784806f72b8b4569", "572ba390784806060f8b458b"})


# The run parameters read as one of a few words (`SyncfyProvider.choices`, which the OpenAPI document states).
CHOICES: dict[str, tuple[str, ...]] = {"environment": tuple(ENVIRONMENTS), "institution": INSTITUTIONS}


def _choice(params: dict[str, Any], name: str, what: str) -> str:
    """The run parameter `name` (ASCII letters in either case; the first of its words by default), one of its
    `CHOICES`. Only ASCII: `str.lower` maps the Kelvin sign to `k`, which the document's pattern refuses."""
    allowed = CHOICES[name]
    value = str(params.get(name, allowed[0]))
    value = value.lower() if value.isascii() else value
    if value not in allowed:
        expected = f"{', '.join(allowed[:-1])} or {allowed[-1]}"
        raise InvalidInput(
            f"unknown {what} {value!r}; use {expected}",
            errors=[FieldError(f"params.{name}", f"expected {expected}")],
        )
    return value


def environment(params: dict[str, Any]) -> str:
    """The run's environment name from its `environment` param (sandbox by default)."""
    return _choice(params, "environment", "Syncfy environment")


def institution(params: dict[str, Any]) -> str:
    """The run's `institution` param (`any` by default): the kind of site new credentials log into."""
    return _choice(params, "institution", "institution")


def pick_site(rng: random.Random, env: str, documents: bool = False, kind: str = "any") -> Site:
    """A site of `env`: with `documents` (or `kind` fiscal) one that downloads fiscal documents, with `kind`
    bank a bank's, with `kind` twofa one that asks for a second factor, else any."""
    if documents:
        kind = "fiscal"
    sites = [s for s in _SITES[env] if kind == "any" or s.has_documents == (kind == "fiscal")]
    if kind == "twofa" and env == "sandbox":
        sites = [s for s in sites if s.id_site in TWOFA_SITES]
    return rng.choice(sites)


# RFC check digit alphabet: each character's value is its index.
_RFC_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ")}
_HOMOCLAVE = "123456789ABCDEFGHIJKLMNPQRSTUVWXYZ"


def rfc_check_digit(stem: str) -> str:
    """The SAT check digit of an RFC without it (11 characters for companies, 12 for people)."""
    padded = stem.rjust(12)
    total = sum(_RFC_VALUES[c] * (13 - i) for i, c in enumerate(padded))
    remainder = total % 11
    if remainder == 0:
        return "0"
    digit = 11 - remainder
    return "A" if digit == 10 else str(digit)


def rfc(rng: random.Random) -> str:
    """A Mexican tax id (RFC) with a valid check digit: a company's (12 chars) or a person's (13)."""
    person = rng.random() < 0.5
    letters = "".join(rng.choices(string.ascii_uppercase, k=4 if person else 3))
    if person:
        letters = letters[0] + rng.choice("AEIOU") + letters[2:]
    born = datetime(1950, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(20000))
    stem = f"{letters}{born:%y%m%d}{''.join(rng.choices(_HOMOCLAVE, k=2))}"
    return stem + rfc_check_digit(stem)


def external_reference(rng: random.Random, user_created: datetime) -> str:
    """A client's own user reference: a dated tag like `20230614-DEMO`, or the user's RFC."""
    if rng.random() < 0.5:
        return rfc(rng)
    return f"{user_created:%Y%m%d}-{rng.choice(('DEMO', 'TEST', 'QA', 'PILOT'))}"
