"""Statuses the server answers that the document lists: 503 on every operation (a store that cannot answer or be
written now, a server stopping) and 408 on every one that takes a body (a body that stops coming; the answers
themselves are tested with the server's guard and store). Unlisted, a client made from the document had no case
for them."""

from __future__ import annotations

from simulator.api.app import ENDPOINTS
from simulator.api.openapi import document


def test_every_operation_lists_503_and_every_one_with_a_body_408() -> None:
    doc = document(ENDPOINTS, secured=False)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "503" in op["responses"], (method, path)
            assert ("408" in op["responses"]) == ("requestBody" in op), (method, path)
            for status in ("408", "503"):
                if status in op["responses"]:
                    assert "application/problem+json" in op["responses"][status]["content"], (method, path)
