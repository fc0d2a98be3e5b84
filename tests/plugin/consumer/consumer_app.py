"""A webhook consumer as a service would write one: it verifies each provider's signature, skips events it has
already processed (providers deliver at least once), and records what it processed.

Its tests (test_consumer.py) use the webhook-sim pytest plugin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DEDUPE = True
# Development defaults; production reads them from the environment.
SYNCFY_SECRET = os.environ.get("SYNCFY_WEBHOOK_SECRET", "ZGV2ZWxvcG1lbnQtc2VjcmV0LW9mLXRoZS1jb25zdW1lcg==")
STANDARD_SECRET = os.environ.get("STANDARD_WEBHOOK_SECRET", "whsec_c3RhbmRhcmQtd2ViaG9va3MtZGV2LXNlY3JldA==")


@dataclass
class Settings:
    syncfy_secret: str = SYNCFY_SECRET
    standard_secret: str = STANDARD_SECRET
    basistheory_public_key: str | None = None


def verify_standard(secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def verify_syncfy(secret: str, headers: dict[str, str], body: bytes) -> bool:
    token = headers.get("request-signature", "")
    try:
        claims = jwt.decode(
            token, base64.b64decode(secret), algorithms=["HS256"], options={"require": ["iat", "exp", "body_sha256"]}
        )
    except jwt.PyJWTError:
        return False
    return hmac.compare_digest(claims["body_sha256"], hashlib.sha256(body).hexdigest())


def verify_basistheory(public_pem: str, headers: dict[str, str], body: bytes) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    signed = json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    try:
        signature = base64.b64decode(headers.get("bt-signature", ""), validate=True)
        key.verify(
            signature,
            signed,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def event_ids(body: bytes) -> list[str]:
    """Syncfy posts `{"events": [...]}` (ids in `header.event.eid`); Basis Theory posts one `event` with an `id`."""
    data = json.loads(body)
    if "events" in data:
        return [e["header"]["event"]["eid"] for e in data["events"]]
    return [data["event"]["id"]]


@dataclass
class Consumer:
    settings: Settings = field(default_factory=Settings)
    processed: list[str] = field(default_factory=list)
    rejected: int = 0
    url: str = ""

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/webhooks/{scheme}", self.receive, methods=["POST"])])

    def verified(self, scheme: str, headers: dict[str, str], body: bytes) -> bool:
        if scheme == "standard":
            return verify_standard(self.settings.standard_secret, headers, body)
        if scheme == "syncfy":
            return verify_syncfy(self.settings.syncfy_secret, headers, body)
        if scheme == "basistheory" and self.settings.basistheory_public_key:
            return verify_basistheory(self.settings.basistheory_public_key, headers, body)
        return False

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if not self.verified(request.path_params["scheme"], dict(request.headers), body):
            self.rejected += 1
            return Response(status_code=401)
        for event_id in event_ids(body):
            if DEDUPE and event_id in self.processed:
                continue
            self.processed.append(event_id)
        return Response(status_code=204)
