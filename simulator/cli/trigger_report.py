"""What `trigger` prints of its event, as things happen: the event's id and each delivery's id as soon as they
exist, each delivery's outcome as it ends, and, when the wait ends or Ctrl-C comes, the state of those still
going. A person who stops a long wait still has the ids to look up or resend."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from typing import Any

from simulator.api.access_log import escape_controls
from simulator.cli import remote
from simulator.client import DeliveryInfo
from simulator.core.report import plain_error
from simulator.credentials import mask_url

SUCCESS = ("succeeded", "dropped")


def last_answer(d: DeliveryInfo, *, retries: bool = True) -> str:
    """The last attempt's answer of a delivery still going: `HTTP 500; answer: …`, the transport error, or `no
    answer yet`; and when the next attempt is due, unless no more `retries` are made (a `trigger` without a server
    stops sending when it ends)."""
    parts = []
    if d.last_status is not None:
        parts.append(f"HTTP {d.last_status}")
    if d.last_error and d.last_error != f"HTTP {d.last_status}":
        parts.append(plain_error(d.last_error) or d.last_error)
    answer = remote.answer(d)
    if answer:
        parts.append(f"answer: {answer}")
    if retries and (retry := remote.next_retry(d)):
        parts.append(f"next retry {retry}")
    return "; ".join(parts) or "no answer yet"


class Report:
    """The lines of one `trigger`: `begin` once the event exists, `seen` at each look at its deliveries, `end` once
    (the wait over, not waited for, or interrupted)."""

    def __init__(
        self,
        event_id: str,
        etype: str,
        ids: list[str],
        url: str | None,
        fmt: str,
        *,
        retries: bool = True,
        named: bool = False,
    ) -> None:
        # Shown on every line: a password in the URL (sent as Basic auth) is masked, as the dashboard masks it.
        shown = mask_url(url) if url is not None else None
        self.event_id, self.etype, self.ids, self.url, self.fmt = event_id, etype, list(ids), shown, fmt
        self.retries = retries  # whether the deliveries still going are retried once `trigger` ends
        self.named = named  # the subscriptions were named (`--subscription`): each one not sent to is said why
        self.started = time.monotonic()
        self.last: dict[str, DeliveryInfo] = {}
        self.told: set[str] = set()  # the deliveries whose line of outcome was printed

    def begin(self, waiting: float) -> None:
        """The event's line, and in text each delivery's id before its outcome is known."""
        if self.fmt == "json":  # the deliveries' ids at once, as text says them: `--wait 0` prints nothing more
            _emit({"object": "event", "id": self.event_id, "type": self.etype, "deliveries": self.ids})
        else:
            print(f"event {self.event_id} ({self.etype})", flush=True)
        if not self.ids:
            # Where subscriptions were named, each was said already: "no enabled subscription receives it" read as
            # if the server had looked at every other one.
            whom = "none of the subscriptions named" if self.named else "no enabled subscription"
            print(f"not sent: {whom} receives {self.etype}", file=sys.stderr)
            return
        if self.fmt == "text":
            what = f"waiting up to {waiting:g} s for its outcome" if waiting else "not waited for (--wait 0)"
            for delivery_id in self.ids:
                print(f"delivery {delivery_id}{self._where}: created, {what}", flush=True)

    def seen(self, found: Iterable[DeliveryInfo]) -> None:
        """Deliveries as just read: the outcome of each that ended is printed, once."""
        for d in found:
            self.last[d.id] = d
            if d.status in remote.FINAL and d.id not in self.told:
                self._line(d, remote.outcome(d))

    def end(self, *, under_way: frozenset[str] = frozenset(), why: str = "") -> None:
        """The state of each delivery whose outcome was not printed; `why` says how the wait ended when it did
        not run out. `under_way`: deliveries whose attempt was waiting for its answer when the wait ended."""
        waited = round(time.monotonic() - self.started, 1)
        for delivery_id in self.ids:
            d = self.last.get(delivery_id)
            if delivery_id in self.told:
                continue
            if d is None:  # not read yet (Ctrl-C at once, or not waited for)
                self._unread(delivery_id, why or f"not read after {waited:g} s")
                continue
            if d.status in remote.FINAL:
                self._line(d, remote.outcome(d))
                continue
            state = f"still {d.status} after {waited:g} s"
            if d.id in under_way:
                state += f", attempt {d.attempts} under way with no answer yet (the receiver may have the request)"
            elif d.attempts:
                state += f" (last: {last_answer(d, retries=self.retries)})"
            self._line(d, f"{state}; {why}" if why else state)

    def all_final(self) -> bool:
        """Whether every delivery was read in a final state."""
        return all(self.last.get(i) is not None and self.last[i].status in remote.FINAL for i in self.ids)

    def code(self) -> int:
        """0 when every delivery succeeded, 1 when one did not (or none was made)."""
        if not self.ids:
            return 1
        return 0 if all(self.last.get(i) is not None and self.last[i].status in SUCCESS for i in self.ids) else 1

    @property
    def _where(self) -> str:
        return f" → {self.url}" if self.url else ""

    def _line(self, d: DeliveryInfo, state: str) -> None:
        self.told.add(d.id)
        if self.fmt == "json":
            _emit(delivery_record(d, self.event_id, self.url, state))
        else:  # the receiver's answer is in `state`: its control characters are escaped, not played on a terminal
            print(escape_controls(f"delivery {d.id}{self._where}: {state}"), flush=True)

    def _unread(self, delivery_id: str, state: str) -> None:
        self.told.add(delivery_id)
        if self.fmt == "json":
            fields = {"id": delivery_id, "event": self.event_id, "target": self.url, "status": None, "final": False}
            _emit({"object": "delivery", **fields, "outcome": state})
        else:
            print(f"delivery {delivery_id}{self._where}: {state}", flush=True)


def delivery_record(d: DeliveryInfo, event_id: str, url: str | None, outcome: str) -> dict[str, Any]:
    """A delivery's line in `--format json`: the facts of the text line as fields, and the line's phrase."""
    error = plain_error(d.last_error) if d.last_error != f"HTTP {d.last_status}" else None
    return {
        "object": "delivery",
        "id": d.id,
        "event": event_id,
        "subscription": d.subscription_id,
        "target": url,
        "status": d.status,
        "final": d.status in remote.FINAL,
        "attempts": d.attempts,
        "http_status": d.last_status,
        "error": error,
        "outcome": outcome,
    }


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)
