"""A delivery's line in `webhook-sim deliveries`: the last status a receiver answered is shown whatever it is.
A receiver answering status 000 (which the API records as 0) showed `-`, as if it had answered nothing, and the
error column leaves out "HTTP 0" as said by that column: the line said neither."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.cli.remote import line
from simulator.client.records import DeliveryInfo

FIELDS: dict[str, Any] = {
    "id": "msg_1",
    "subscription_id": "sub_1",
    "run_id": None,
    "type": "syncfy:credentials.created",
    "event_ids": ["e1"],
    "status": "dead",
    "attempts": 2,
    "next_attempt_at": None,
    "created_at": "2026-01-01T00:00:00Z",
    "finished_at": None,
    "faults": {},
}


@pytest.mark.parametrize(("status", "error", "shown"), [(0, "HTTP 0", " 0 "), (None, "timeout after 5s", " - ")])
def test_the_last_status_is_shown_even_when_it_is_0(status: int | None, error: str, shown: str) -> None:
    delivery = DeliveryInfo.model_validate({**FIELDS, "last_status": status, "last_error": error})
    text = line(delivery)
    assert f" 2 {shown.strip()} " in " ".join(text.split()) + " ", text
