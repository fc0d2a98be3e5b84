"""Value generators for Basis Theory payloads: small tables of realistic values drawn with the run's rng.

Everything here is cheap (no Faker): the catalog must build tens of thousands of bodies a second. Where Basis
Theory documents a value set (token types, containers, application types, 3DS statuses) the table follows it;
the rest (names, metadata keys, rule descriptions, error messages) are plausible choices of the simulator.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from simulator.providers.draws import uniform_indices, weighted_index
from simulator.timeutil import iso_ms

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

APPLICATION_TYPES = ("private", "public", "management")
ACTOR_TYPES = ("application", "user", "admin", "system")
TOKEN_TYPES = (
    "token",
    "card",
    "network_token",
    "bank",
    "card_number",
    "us_bank_account_number",
    "us_bank_routing_number",
    "social_security_number",
    "employer_id_number",
)
# How often each token type is created: cards dominate real vaults.
TOKEN_TYPE_WEIGHTS = (14, 45, 5, 5, 8, 6, 3, 10, 4)
SESSION_TYPES = ("customer", "merchant")
DEVICES = ("browser", "mobile")
AUTHENTICATION_STATUSES = (
    "successful",
    "attempted",
    "failed",
    "unavailable",
    "challenge",
    "decoupled_challenge",
    "rejected",
    "informational",
)
AUTHENTICATION_WEIGHTS = (55, 8, 6, 4, 14, 4, 5, 4)
CARD_BRANDS = ("Visa", "Mastercard", "American Express", "Discover", "JCB", "Diners Club")
CARD_BRAND_WEIGHTS = (52, 30, 9, 5, 2, 2)
ROLES = ("Admin", "Privileged", "Read Only")

# Per token type: container, fingerprint expression (Basis Theory's default for the type, from its token types
# page, but for a generic `token`'s, which the webhook samples give their own), search index choices.
TOKEN_SHAPES: dict[str, tuple[str, str, tuple[tuple[str, ...], ...]]] = {
    "token": ("/general/high/", "{{ data.email }}", (("{{ data.email }}",), ("{{ data.phone_number }}",))),
    "card": (
        "/pci/high/",
        "{{ data.number }}",
        (("{{ data.number | last4 }}",), ("{{ data.number }}", "{{ data.expiration_year }}")),
    ),
    "network_token": ("/pci/high/", "{{ data.number }}", (("{{ data.number | last4 }}",),)),
    "bank": (
        "/bank/high/",
        "{{ data.account_number }}|{{ data.routing_number }}",
        (("{{ data.account_number | last4 }}",),),
    ),
    "card_number": ("/pci/high/", "{{ data }}", (("{{ data | last4 }}",),)),
    "us_bank_account_number": ("/bank/high/", "{{ data }}", (("{{ data | last4 }}",),)),
    "us_bank_routing_number": ("/bank/low/", "{{ data }}", (("{{ data }}",),)),
    "social_security_number": ("/pii/high/", "{{ data | remove: '-' }}", (("{{ data | last4 }}",),)),
    "employer_id_number": ("/pii/high/", "{{ data | remove: '-' }}", (("{{ data }}",),)),
}

PERMISSIONS = {
    "private": ("token:create", "token:read", "token:update", "token:delete", "token:search", "token:use"),
    "public": ("token:create", "token:update"),
    "management": (
        "application:create",
        "application:read",
        "application:update",
        "application:delete",
        "proxy:create",
        "proxy:read",
        "proxy:update",
        "proxy:delete",
        "reactor:create",
        "reactor:read",
        "reactor:update",
        "reactor:delete",
        "tenant:read",
        "log:read",
    ),
}

Rule = tuple[str, str, str, tuple[str, str, str], tuple[str, ...]]
# Access rules an application of each type plausibly holds:
# description, container, transform, condition (attribute, operator, value), permissions.
RULES: dict[str, tuple[Rule, ...]] = {
    "private": (
        (
            "Reveal cards to the payment service",
            "/pci/high/",
            "reveal",
            ("container", "starts_with", "/pci/"),
            ("token:read", "token:use"),
        ),
        (
            "Mask personal data for support tooling",
            "/pii/high/",
            "mask",
            ("container", "starts_with", "/pii/"),
            ("token:read",),
        ),
        (
            "Redact bank accounts in search results",
            "/bank/high/",
            "redact",
            ("container", "equals", "/bank/high/"),
            ("token:read", "token:search"),
        ),
        (
            "Use general tokens in reactors",
            "/general/high/",
            "reveal",
            ("container", "starts_with", "/general/"),
            ("token:use",),
        ),
    ),
    "public": (
        (
            "Tokenize cards from the checkout",
            "/pci/high/",
            "redact",
            ("container", "equals", "/pci/high/"),
            ("token:create", "token:update"),
        ),
        ("Collect bank accounts", "/bank/high/", "redact", ("container", "equals", "/bank/high/"), ("token:create",)),
    ),
    "management": (("Audit token metadata", "/", "redact", ("container", "starts_with", "/"), ("token:read",)),),
}

APP_NAMES = {
    "private": (
        "Payments API",
        "Checkout Backend",
        "Billing Service",
        "Payouts Worker",
        "Card Vault Service",
        "Subscriptions Service",
        "Fraud Screening",
    ),
    "public": ("Web Checkout", "iOS App", "Android App", "Customer Portal", "Card Capture Elements"),
    "management": ("Terraform", "Platform Automation", "CI Provisioning", "Ops Console"),
}
REACTOR_NAMES = (
    "Card Verification",
    "Stripe Charge",
    "Adyen Tokenize",
    "Fraud Score",
    "Network Token Provisioning",
    "PDF Statement Generator",
    "Issuer Card Activation",
    "Bank Account Verification",
)
# name, destination URL
PROXY_TARGETS = (
    ("Stripe Payment Intents", "https://api.stripe.com/v1/payment_intents"),
    ("Adyen Payments", "https://checkout-test.adyen.com/v71/payments"),
    ("Checkout.com Payments", "https://api.checkout.com/payments"),
    ("Braintree Transactions", "https://payments.braintree-api.com/graphql"),
    ("Marqeta Cards", "https://sandbox-api.marqeta.com/v3/cards"),
    ("Lithic Cards", "https://api.lithic.com/v1/cards"),
    ("Inbound Partner Webhook", "https://api.example-merchant.com/webhooks/partner"),
)
TENANT_SUFFIXES = ("Production", "Staging", "Development", "Sandbox")
TLDS = ("com", "io", "co", "com", "dev")
METADATA_SOURCES = ("checkout", "mobile_app", "subscription_renewal", "admin_portal", "partner_import")
METADATA_PLANS = ("basic", "pro", "enterprise", "trial")


def pick(rng: random.Random, values: tuple[str, ...], weights: tuple[int, ...] | None = None) -> str:
    """One value of `values`, uniform unless `weights` are given."""
    if weights is None:
        return values[int(rng.random() * len(values))]
    return values[weighted_index(rng, weights)]


# Index i of BASE58 as byte i, for `bytes.translate`.
_BASE58_BYTES = bytes.maketrans(bytes(range(len(BASE58))), BASE58.encode())


def base58(rng: random.Random, length: int) -> str:
    """`"".join(rng.choices(BASE58, k=length))`, drawing the same numbers (see `uniform_indices`): a run's every
    token draws 58 of these characters, for half of what `choices` cost."""
    return uniform_indices(rng, len(BASE58), length).translate(_BASE58_BYTES).decode("ascii")


def fingerprint(rng: random.Random) -> str:
    """Basis Theory fingerprints are 44 base58 characters (a base58 SHA-256 digest)."""
    return base58(rng, 44)


def earlier(now: datetime, rng: random.Random, low: float, high: float) -> datetime:
    """A time between `high` and `low` seconds before `now` (an entity made by an earlier request)."""
    return now - timedelta(seconds=rng.uniform(low, high))


def before(now: datetime, rng: random.Random, low: float, high: float) -> str:
    """`earlier`, formatted."""
    return iso_ms(now - timedelta(seconds=rng.uniform(low, high)))


def after(now: datetime, seconds: float) -> str:
    delta = _DELTAS.get(seconds)
    if delta is None:
        delta = timedelta(seconds=seconds)
        if len(_DELTAS) < 64:
            _DELTAS[seconds] = delta
    return iso_ms(now + delta)


# What `after` adds, by seconds: its callers add a few constant lifetimes (a token's, an invitation's, a session's),
# each made into a timedelta once here rather than on every event (a third of `after`'s cost).
_DELTAS: dict[float, timedelta] = {}


def subset(rng: random.Random, values: tuple[str, ...], low: int, high: int) -> list[str]:
    """Between `low` and `high` distinct values, kept in table order (as the API lists them)."""
    chosen = set(rng.sample(values, min(len(values), rng.randint(low, high))))
    return [v for v in values if v in chosen]


def rules(rng: random.Random, app_type: str) -> list[dict[str, Any]]:
    """One or two distinct access rules fit for an application of `app_type`, by increasing priority number."""
    table = RULES[app_type]
    count = 1 if len(table) == 1 or rng.random() < 0.6 else 2
    out = []
    for priority, index in enumerate(rng.sample(range(len(table)), count), start=1):
        description, container, transform, (attribute, operator, value), perms = table[index]
        out.append(
            {
                "description": description,
                "priority": priority,
                "container": container,
                "transform": transform,
                "conditions": [{"attribute": attribute, "operator": operator, "value": value}],
                "permissions": list(perms),
            }
        )
    return out


def metadata(rng: random.Random) -> dict[str, str]:
    """Token metadata: 1 to 3 string entries, as clients commonly attach."""
    out = {"customer_id": "cus_" + base58(rng, 14)}
    if rng.random() < 0.6:
        out["source"] = pick(rng, METADATA_SOURCES)
    if rng.random() < 0.3:
        out["plan"] = pick(rng, METADATA_PLANS)
    return out


def mask(value: str) -> str:
    """Basis Theory's log masking: `ke***f2 (length 75)`; values under 10 characters become all stars."""
    if len(value) < 10:
        return "*" * len(value)
    return f"{value[:2]}***{value[-2:]} (length {len(value)})"


def api_key(rng: random.Random, app_type: str) -> str:
    """A 75-character API key shaped like Basis Theory's (`key_<env>_<region>_<kind>_...`)."""
    prefix = f"key_test_us_{'pub' if app_type == 'public' else 'pvt'}_"
    return prefix + base58(rng, 75 - len(prefix))


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(dt: datetime) -> str:
    """RFC 7231 `Date` header (always English, whatever the locale)."""
    return f"{_DAYS[dt.weekday()]}, {dt.day:02d} {_MONTHS[dt.month - 1]} {dt.year} {dt:%H:%M:%S} GMT"


def domain_of(company: str, rng: random.Random) -> str:
    """A mail domain for a company name (`Orr PLC` -> `orr.io`)."""
    word = "".join(c for c in company.split()[0].lower() if c.isalnum()) or "acme"
    return f"{word}.{pick(rng, TLDS)}"
