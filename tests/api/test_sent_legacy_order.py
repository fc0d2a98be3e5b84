"""A Syncfy documents notice a release before `rid` came first sent, `events` first: that release recorded its
attempt as the envelope rendered (no body), with the JWT that signed those bytes. It is shown as those bytes, not
as the envelope rendered now: same length, other bytes, and a `body_sha256` that fits neither.
The older release is this one with the renderer it had, so its store is written exactly as that release wrote it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest

from simulator.models import Event
from simulator.providers.syncfy.provider import SyncfyProvider
from simulator.signing import verify
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually

# A Syncfy secret (base64), so the test can check the JWT it reads back against the body shown with it.
SECRET = "c2VudC1sZWdhY3ktb3JkZXItdGVzdC1zZWNyZXQ="


def events_first(self: SyncfyProvider, events: Sequence[Event], envelope_id: str, delivered_at: datetime) -> bytes:
    """The renderer of the releases before a7471a8: `events`, then `rid`, for every notice."""
    inner = ",".join(e.json for e in events)
    return f'{{"events":[{inner}],"rid":"{envelope_id}"}}'.encode()


def sent_by_an_older_release(api: httpx.Client, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> str:
    """A documents.completed delivered by the older renderer, which the receiver has; its id. The renderer is
    the current one again on return, as after an upgrade."""
    body = {"url": receiver.url, "signing": "syncfy", "secret": SECRET}
    assert api.post("/subscriptions", json=body).status_code == 201
    with monkeypatch.context() as older:
        older.setattr(SyncfyProvider, "render", events_first)
        answer = api.post("/events", json={"type": "documents.completed"})
        assert answer.status_code == 202, answer.text
        [delivery_id] = answer.json()["deliveries"]
        eventually(lambda: succeeded(api, delivery_id), what="its attempt recorded")
    [original] = receiver.wait_for(1)
    assert original.body.startswith(b'{"events":[')
    return delivery_id


def succeeded(api: httpx.Client, delivery_id: str) -> dict[str, Any] | None:
    delivery: dict[str, Any] = api.get(f"/deliveries/{delivery_id}").json()
    return delivery if delivery["status"] == "succeeded" and delivery["attempt_log"] else None


def attempts(api: httpx.Client, delivery_id: str, count: int) -> list[dict[str, Any]] | None:
    """The delivery's attempts once it has `count` and has succeeded."""
    delivery = succeeded(api, delivery_id)
    return delivery["attempt_log"] if delivery is not None and len(delivery["attempt_log"]) == count else None


def test_an_attempt_an_older_release_sent_is_shown_as_those_bytes_with_the_signature_that_signed_them(
    api: httpx.Client, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery_id = sent_by_an_older_release(api, receiver, monkeypatch)
    original = receiver.requests[0].body

    [attempt] = api.get(f"/deliveries/{delivery_id}").json()["attempt_log"]
    shown = attempt["request"]
    assert shown["body"].encode() == original  # was {"rid":…,"events":[…]}: same length, other bytes
    assert shown["headers"]["Content-Length"] == str(len(original))
    check = verify("syncfy", shown["headers"], shown["body"].encode(), secret=SECRET)
    assert check.ok, check.reason

    # A documents notice this release sends gives `rid` first, and is shown as it went out.
    answer = api.post("/events", json={"type": "documents.completed"})
    [current_id] = answer.json()["deliveries"]
    [attempt] = eventually(lambda: attempts(api, current_id, 1), what="the current release's attempt recorded")
    current = receiver.wait_for(2)[1].body
    assert current.startswith(b'{"rid":"')
    assert attempt["request"]["body"].encode() == current
    assert verify("syncfy", attempt["request"]["headers"], current, secret=SECRET).ok
