"""The documents a documents job downloaded, derived from the job's id and the outcome its events announced.
Pure functions: no HTTP, no SQL.

A job downloads one to four documents, fixed by its `id_job`. After `documents.success` every one is
"Downloaded"; after `documents.failed` the first is "Failed", a second (when there is one) "Not found", the rest
"Downloaded". A job has finished when it reports `documents.completed` ("possibly with errors"): a run that plans
its outcome shows it from then on (`Event.ends_with`); a completed job no later event ends (one triggered alone)
shows "Downloaded".

Every document is of a type in Syncfy's catalogue (`/documents/catalogues/document_types`, served as recorded):
the SAT's Constancia de Situación Fiscal, as a PDF or as JSON.

Where the emulation differs from Syncfy: `content` is a small PDF or JSON document made up for the document
(base64), not a real SAT form, and `id_job_webhook` selects the documents of the job whose notification carried
it (its semantics are not public).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from simulator.providers.syncfy.api import FISCAL_LOGIN, SiteRef, digest

STATUSES: dict[str, str] = {
    "Processing": "5b23219d056f2905985444c1",
    "Downloaded": "5b23219d056f2905985444c2",
    "Failed": "5b23219d056f2905985444c3",
    "Not found": "5b23219d056f2905985444c4",
    "Retrying": "5b23219d056f2905985444c5",
}
# The SAT's types in the recorded catalogue (document_types.json): the proof of tax status, as PDF and as JSON.
_TYPES = (
    ("5b2321ef056f29059a367e43", "Constancia_Situación_Fiscal", "pdf"),
    ("5f71fef9ba18355eeb4d6d81", "Constancia_Situación_Fiscal", "json"),
)
_CREATED = "2018-06-29T21:00:43+00:00"


def outcome(types: Sequence[str]) -> str | None:
    """`success`, `failed` or None (not announced yet) from the types of a job's documents events."""
    for name in reversed(types):
        if name == "documents.success":
            return "success"
        if name in ("documents.failed", "documents.fail"):
            return "failed"
    return None


def status_of(i: int, result: str | None) -> str:
    if result != "failed" or i > 1:
        return "Downloaded"
    return "Failed" if i == 0 else "Not found"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).isoformat()


def _content(title: str, rfc: str, kind: str) -> str:
    if kind == "json":
        text = json.dumps({"rfc": rfc, "documento": title}, ensure_ascii=False)
    else:
        text = f"%PDF-1.4\n% {title} {rfc}\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
    return base64.b64encode(text.encode()).decode()


def documents(
    id_job: str,
    site: SiteRef,
    id_external: str | None,
    result: str | None,
    reported: tuple[float, float],
    rfc: str | None = None,
) -> list[dict[str, Any]]:
    """The documents of job `id_job` (of a credential at `site`), as of the outcome `result`, fields in
    Syncfy's order. `reported`: when the job first and last reported on them; `rfc` the taxpayer's, as the
    credential was registered with (else the login a credential no registration gave shows, masked)."""
    raw = digest(id_job, "documents")
    # Made a second into the job, but never after it first reported them: a job the twin plays reports within
    # its first second, and its documents read as made after they were refreshed.
    created = min(int(id_job[:8], 16) + 1, int(reported[0]))
    finished = reported[1]
    rfc = rfc or FISCAL_LOGIN
    out = []
    for i in range(1 + raw[0] % 4):
        type_id, title, kind = _TYPES[(raw[1] + i) % len(_TYPES)]
        status = status_of(i, result)
        counter = (int.from_bytes(raw[2:5], "big") + i) % (1 << 24)
        out.append(
            {
                "id_document": f"{created:08x}{raw[5:10].hex()}{counter:06x}",
                "id_document_status": STATUSES[status],
                "id_document_type": type_id,
                "id_external": id_external,
                **site.ids(),
                "file": f"{title}_SAT_{rfc[:9]}.{kind}",
                "identifiers": None,
                "keywords": [rfc],
                "content": _content(title, rfc, kind) if status == "Downloaded" else None,
                "dt_refreshed": _iso(finished),
                "dt_created": _iso(created),
            }
        )
    return out


def status_catalogue() -> list[dict[str, Any]]:
    """`/documents/catalogues/document_status`."""
    return [
        {"id_document_status": oid, "name": name, "dt_created": _CREATED, "dt_modified": _CREATED}
        for name, oid in STATUSES.items()
    ]


@cache
def _type_catalogue() -> tuple[dict[str, Any], ...]:
    text = resources.files("simulator.providers.syncfy").joinpath("document_types.json").read_text("utf-8")
    return tuple(json.loads(text))


def type_catalogue() -> list[dict[str, Any]]:
    """`/documents/catalogues/document_types`: Syncfy's catalogue as its API answered it (a fresh copy)."""
    return [dict(row) for row in _type_catalogue()]


def matches(document: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    keys = ("id_document_status", "id_document_type", "id_site", "id_site_organization", "id_site_organization_type")
    return all(filters.get(k) in (None, "", document[k]) for k in keys)


def countries() -> list[dict[str, str]]:
    """`/v1/catalogues/countries`: Syncfy's catalogue as recorded (countries.json), ids and order as it has them."""
    text = resources.files("simulator.providers.syncfy").joinpath("countries.json").read_text("utf-8")
    rows: list[dict[str, str]] = json.loads(text)
    return rows
