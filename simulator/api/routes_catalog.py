"""The event catalogue for machines: `GET /asyncapi.json` (an AsyncAPI 3.0 document of every event: a channel, an
operation and a message per event type, with its payload schema, its signature headers and a sample), and the
`webhooks` section of the OpenAPI document (the same payloads, as OpenAPI 3.1 describes outgoing calls).

Both are built from the catalog's JSON Schemas (`catalog.schema`). Those are draft 2020-12 documents with their
own `$defs`; here each definition becomes a named component (so code generators name the classes) and, for
AsyncAPI, whose schemas are draft-07, `dependentRequired` is written as draft-07's `dependencies`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from functools import cache
from typing import Any

from starlette.responses import JSONResponse, Response

from simulator import USER_AGENT, __version__, catalog
from simulator.api.endpoints import Call, Endpoint
from simulator.providers.base import EventType

Schema = dict[str, Any]
_WORD = re.compile(r"[^A-Za-z0-9]+")

# The headers each signing scheme adds to a delivery, and what they hold. HTTP header names are case-insensitive;
# they are written in lower case, as HTTP/2 sends them and as most frameworks hand them to an application.
_SIGNATURES: dict[str, dict[str, Schema]] = {
    "standard": {
        "webhook-id": {"type": "string", "description": "The delivery's id, the same on every retry."},
        "webhook-timestamp": {"type": "string", "pattern": "^[0-9]+$", "description": "The attempt's Unix time."},
        "webhook-signature": {
            "type": "string",
            "pattern": "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$",
            "description": 'Standard Webhooks: `v1,` and the base64 HMAC-SHA256 of "id.timestamp.body".',
        },
    },
    "basistheory": {
        "bt-signature": {
            "type": "string",
            "description": "Base64 RSA-PSS SHA-256 over the body as json-stable-stringify writes it; the "
            "public key is served at /keys/webhooks.pem.",
        },
        "bt-signature-version": {"const": "v1"},
    },
    "syncfy": {
        "request-signature": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$",
            "description": "An HS256 JWT keyed with the base64-decoded secret; claims iss, iat, exp, jti, rid, "
            "body_sha256.",
        },
    },
    "none": {},
}
_COMMON = {
    "content-type": {"const": "application/json"},
    "user-agent": {"type": "string", "examples": [USER_AGENT]},
}
_HEADER_NAMES = {
    "standard": "StandardWebhooksHeaders",
    "basistheory": "BasisTheorySignatureHeaders",
    "syncfy": "SyncfySignatureHeaders",
    "none": "UnsignedHeaders",
}


def component_name(etype: EventType) -> str:
    """`syncfy:credentials.created` → `SyncfyCredentialsCreated`: a name code generators turn into a class."""
    return "".join(part[:1].upper() + part[1:] for part in _WORD.split(etype.key) if part)


def _hoisted(etype: EventType, draft07: bool) -> dict[str, Schema]:
    """The event's body schema and its `$defs`, each a component of its own, references rewritten to match."""
    root = copy.deepcopy(catalog.schema(etype.key))
    root.pop("$schema", None)
    name = component_name(etype)
    defs = root.pop("$defs", {})
    renamed = {key: f"{name}{key[:1].upper()}{key[1:]}" for key in defs}

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                    value = f"#/components/schemas/{renamed[value.removeprefix('#/$defs/')]}"
                elif key == "dependentRequired" and draft07:
                    key = "dependencies"
                out[key] = value if key == "$ref" else fix(value)
            return out
        if isinstance(node, list):
            return [fix(item) for item in node]
        return node

    found = {name: fix(root)}
    found.update({renamed[key]: fix(value) for key, value in defs.items()})
    return found


def _header_schemas() -> dict[str, Schema]:
    out = {}
    for scheme, headers in _SIGNATURES.items():
        out[_HEADER_NAMES[scheme]] = {
            "type": "object",
            "description": f"The headers of a delivery signed with `{scheme}` (names are case-insensitive).",
            "properties": {**_COMMON, **headers},
            "required": ["content-type", *headers],
        }
    return out


def _headers_of(etype: EventType) -> Schema:
    native = catalog.get_provider(etype.provider).native_signing
    order = [native, *(s for s in _SIGNATURES if s != native)]
    return {
        "description": f"Signed with the subscription's scheme; by default {etype.provider}'s own, `{native}`.",
        "anyOf": [{"$ref": f"#/components/schemas/{_HEADER_NAMES[s]}"} for s in order],
    }


@cache
def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event type the simulator sends."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Schema] = _header_schemas()
    for etype in catalog.event_types():
        name = component_name(etype)
        schemas.update(_hoisted(etype, draft07=True))
        messages[name] = {
            "name": etype.key,
            "title": etype.key,
            "summary": " ".join(etype.description.split()),
            "contentType": "application/json",
            "headers": _headers_of(etype),
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "examples": [{"name": "seed-0", "payload": json.loads(catalog.sample(etype.key, 0))}],
        }
        channels[name] = {
            "address": None,  # each subscription's URL
            "title": etype.key,
            "description": f"Deliveries of `{etype.key}` to the subscriptions that receive it: one POST each.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"send{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"POST a {etype.key} event to a subscriber",
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "webhook-sim events",
            "version": __version__,
            "description": "Every webhook event webhook-sim sends, as the provider would: the body as delivered "
            "(envelope included), its JSON Schema and its signature headers. Any 2xx answer is a success; "
            "anything else is retried on the provider's schedule.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def add_webhooks(document: dict[str, Any]) -> dict[str, Any]:
    """Add to an OpenAPI 3.1 `document` a `webhooks` entry per event type (the POST a subscriber receives) and
    the payload schemas as components; returns the document."""
    webhooks: dict[str, Any] = {}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for etype in catalog.event_types():
        name = component_name(etype)
        schemas.update(_hoisted(etype, draft07=False))
        native = catalog.get_provider(etype.provider).native_signing
        webhooks[etype.key] = {
            "post": {
                "operationId": f"receive{name}",
                "summary": etype.key,
                "description": " ".join(etype.description.split())
                + f" Signed with the subscription's scheme; by default `{native}`.",
                "tags": ["webhooks"],
                "parameters": [
                    {"name": header, "in": "header", "required": True, "schema": schema}
                    for header, schema in _SIGNATURES[native].items()
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                },
                "responses": {
                    "2XX": {"description": "Received: any 2xx answer is a success; anything else is retried."}
                },
            }
        }
    document["webhooks"] = webhooks
    return document


async def asyncapi(_call: Call) -> Response:
    # Built once, in a thread: 0.1 s of building that the event loop would otherwise spend not sending.
    return JSONResponse(await asyncio.to_thread(asyncapi_document))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/asyncapi.json",
        asyncapi,
        "The AsyncAPI 3.0 document of every event",
        "events",
        content="application/json",
        description="A channel, a send operation and a message per event type: the payload's JSON Schema, the "
        "signature headers of each scheme and a sample body.",
    ),
]
