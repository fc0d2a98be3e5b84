"""An attempt's request headers, and what its outcome does to its delivery and its subscription: success, a retry
on the policy's schedule (a receiver's Retry-After honoured in real seconds), or death, which counts toward
disabling the subscription."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from simulator import USER_AGENT, catalog
from simulator.credentials import basic_auth, mask_headers, masked_request
from simulator.delivery.gate import Gate
from simulator.delivery.gather import Records
from simulator.delivery.hooks import BodyForm, FaultHooks, Signer
from simulator.delivery.job import Job
from simulator.delivery.lane import Lane
from simulator.delivery.sender import Outcome, Sender
from simulator.ids import derived_fraction
from simulator.models import Subscription
from simulator.signing import SigningKey, sign
from simulator.store import Store, codec
from simulator.store.leases import Leases
from simulator.store.writer import Op
from simulator.timeutil import DeliveryClock, iso_ms

log = logging.getLogger("webhook_sim.delivery")


def request_headers(sub: Subscription, native: str, key: SigningKey, job: Job, body: bytes, ts: int) -> dict[str, str]:
    """Every header of an attempt: content type, user agent, a URL's credentials as Basic auth (as providers send
    them), the signature in the subscription's scheme (else the provider's `native` one), its own headers."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    headers.update(basic_auth(sub.url))
    signed = sign(
        sub.signing or native,
        msg_id=job.message_id,
        timestamp=ts,
        body=body,
        secret=sub.secret,
        key=key,
        envelope_id=job.envelope_id,
    )
    headers.update(signed)
    if sub.headers:
        # Names are case-insensitive: a subscription's `content-type` replaces the sender's `Content-Type`,
        # where both went out.
        given = {name.lower() for name in sub.headers}
        headers = {name: value for name, value in headers.items() if name.lower() not in given}
        headers.update(sub.headers)
    return headers


def attempt_row(
    job: Job,
    started: float,
    delivered: datetime,
    outcome: Outcome,
    injected: dict[str, Any] | None,
    request: tuple[str, Mapping[str, str] | None, bytes, bool],
) -> dict[str, Any]:
    """The record of one attempt. `request` is the URL, the headers that went out (None if no request did), the
    body, and whether that body is the rendered one no fault changed (stored as "rendered", not again)."""
    url, sent, body, as_rendered = request
    return {
        "delivery_id": job.id,
        "number": job.attempts,
        "started_at": started,
        "latency_ms": outcome.latency_ms,
        "status_code": outcome.status,
        "error": outcome.error,
        "response": outcome.response,
        "response_encoding": outcome.response_encoding,  # None: UTF-8 text (NULL, as in rows from before it)
        "delivered_at": iso_ms(delivered),
        "faults": codec.dumps(injected) if injected else None,
        # The request as sent and the answer's headers. (Credentials the URL carries are masked: the record is
        # shown, and kept unsealed.)
        **codec.exchange_row(*masked_request(url, sent), body, as_rendered, outcome.headers),
    }


def _shown(sub: Subscription, sent: dict[str, str] | None) -> Mapping[str, str] | None:
    """The headers of an attempt as its record keeps them: an `Authorization` the subscription's own headers
    give is masked, as one made of the URL's credentials is (`Bearer ***`). Only such a subscription pays for it."""
    return mask_headers(sent) if sub.headers and sent is not None else sent


class Outcomes:
    """The engine's part that makes attempts and settles them (a mixin: the engine provides what is declared
    here, `_finish` and `_notify`)."""

    store: Store
    key: SigningKey
    faults: FaultHooks
    body_forms: list[BodyForm]
    gate: Gate
    sender: Sender
    leases: Leases | None
    _delivered_at: DeliveryClock
    _records: Records
    stopping = False  # set once the engine closes: an attempt cut short then is recorded as interrupted
    # Counts the changes to subscriptions this process made or saw: a run's choice of receivers is made again.
    subscriptions_version = 0

    async def _attempt(self, lane: Lane, job: Job) -> None:
        sub = lane.sub
        provider = catalog.get_provider(job.events[0].provider)
        if job.attempts == 0:  # sent, the events it carries have happened: the API twins show them
            self.gate.started(job.id)
        job.attempts += 1
        started = time.time()
        # `delivered_at` is the real time of the attempt, whatever the run's simulated clock says.
        delivered = self._delivered_at.stamp(sub.id, started)
        rendered = provider.render(job.events, job.envelope_id, delivered)
        body = await self._formed(sub, job, rendered)
        sent: dict[str, str] | None = None  # the headers that went out, once a request did
        try:
            headers = request_headers(sub, provider.native_signing, self.key, job, body, int(started))
        except Exception as exc:  # a subscription whose secret cannot sign: a failed attempt, not a crash
            outcome = Outcome(None, 0.0, f"signing failed: {exc}", None, None)
            injected = None
        else:
            # The signer lets a fault that changes the body or the timestamp re-sign what it sends (made only for a
            # delivery that has faults: the others never use it).
            signer = None
            if job.faults:
                signer = Signer(int(started), partial(request_headers, sub, provider.native_signing, self.key, job))
            injected = None
            try:
                body, headers, injected = self.faults.on_attempt(sub, job, body, headers, signer)
                sent = headers
                outcome = await self.sender.post(sub.url, body, headers, sub.timeout)
            except asyncio.CancelledError:
                # Recorded whenever its lane closes (a stop, a deletion, a lease handed over or lost): the request
                # went out. A lease lost and cut short at once left no trace of a request its receiver had.
                if sent is not None and (self.stopping or lane.closing):
                    request = (sub.url, _shown(sub, sent), body, body is rendered)
                    self._interrupted(job, started, delivered, injected, request, removed=lane.removed)
                raise
            except Exception as exc:  # a bug must still end as a recorded attempt on the retry schedule
                log.exception("attempt %d of %s failed unexpectedly", job.attempts, job.id)
                error = f"internal error: {type(exc).__name__}: {exc}"[:500]
                outcome = Outcome(None, (time.time() - started) * 1000, error, None, None)
        request = (sub.url, _shown(sub, sent), body, body is rendered)
        attempt = attempt_row(job, started, delivered, outcome, injected, request)
        if job.attempts == 1:  # answered: an event dropped behind the ones it carries has happened too
            self.gate.answered(job.id)
        if outcome.ok:
            self._succeeded(lane, job, outcome)
        else:
            self._failed(lane, job, outcome, provider.retry_policy)
        if self.leases is None:  # nothing waits for it (a restart sends again what has no record)
            self._records.add(attempt, job.update_row(), job.speed > 0)
            return
        op = Op(attempts=(attempt,), updates=(job.update_row(),), timed=job.speed > 0)
        # On a shared store the lane's slot is freed only once the record is committed: a process killed outright
        # then leaves unrecorded (and another sender makes again) no more than its attempts under way.
        recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        op.done = lambda _exc: None if recorded.done() else recorded.set_result(None)
        self.store.records.put_nowait(op)
        await recorded

    async def _formed(self, sub: Subscription, job: Job, rendered: bytes) -> bytes:
        """The body in the subscription's own form where a form gives one (then it is stored as sent, since
        re-rendering gives the envelope), else the provider's envelope as rendered."""
        for form in self.body_forms:
            body = await form(sub, job.events, rendered)
            if body is not None:
                return body
        return rendered

    def _interrupted(
        self,
        job: Job,
        started: float,
        delivered: datetime,
        injected: dict[str, Any] | None,
        request: tuple[str, Mapping[str, str] | None, bytes, bool],
        *,
        removed: bool = False,
    ) -> None:
        """Record an attempt cut short after its request went out: the receiver may have it, so the log must too.
        Cut by a stopping process, the delivery stays due (its status unchanged) and is sent again, with the same
        id, by the next process; cut because its subscription was deleted, it ends dead, as the deletion ends
        what the subscription had yet to deliver (whichever of the two is committed last says the same)."""
        if removed:
            error = "interrupted: its subscription was deleted before an answer came"
            job.status, job.finished_at, job.last_error = "dead", time.time(), "its subscription was deleted"
        else:
            again = "on restart" if self.leases is None else "by a process that sends on this store"
            error = f"interrupted: the sender stopped before an answer came (the delivery is sent again {again})"
        outcome = Outcome(None, (time.time() - started) * 1000, error, None, None)
        attempt = attempt_row(job, started, delivered, outcome, injected, request)
        if self.leases is None:
            self._records.add(attempt, job.update_row(), False)
        else:  # nothing may wait here: the writer commits it before the store closes
            self.store.records.put_nowait(Op(attempts=(attempt,), updates=(job.update_row(),), timed=False))

    def _finish(self, lane: Lane, job: Job) -> None:
        raise NotImplementedError

    def _notify(self) -> None:
        raise NotImplementedError

    def _succeeded(self, lane: Lane, job: Job, outcome: Outcome) -> None:
        job.status, job.last_status, job.last_error = "succeeded", outcome.status, None
        job.finished_at = time.time()
        if lane.sub.consecutive_dead:
            self._save_subscription(lane, replace(lane.sub, consecutive_dead=0))
        self._finish(lane, job)

    def _failed(self, lane: Lane, job: Job, outcome: Outcome, default_policy: Any) -> None:
        policy = lane.sub.retry or default_policy
        job.retries += 1
        job.last_status = outcome.status
        job.last_error = outcome.error or f"HTTP {outcome.status}"
        if job.retries > len(policy.delays):
            job.status, job.finished_at = "dead", time.time()
            self._dead(lane)
            self._finish(lane, job)
            return
        delay = policy.delay(job.retries, derived_fraction("jitter", job.draws_key, job.attempts))
        wait = delay / job.speed if job.speed > 0 else 0.0
        if outcome.retry_after is not None:
            # A receiver's Retry-After is real back-pressure: wall-clock seconds at every speed (the sender caps
            # it). The simulated timeline moves on by at least as much.
            delay = max(delay, outcome.retry_after)
            wait = max(wait, outcome.retry_after)
        job.sim_offset += delay
        job.status = "failed"
        job.due = time.time() + wait
        lane.requeue(job)

    def _dead(self, lane: Lane) -> None:
        sub = lane.sub
        dead = sub.consecutive_dead + 1
        status = "disabled" if sub.disable_after and dead >= sub.disable_after else sub.status
        if status == "disabled" and sub.enabled:
            log.warning("subscription %s disabled after %d consecutive dead deliveries", sub.id, dead)
        self._save_subscription(lane, replace(sub, consecutive_dead=dead, status=status))

    def _save_subscription(self, lane: Lane, sub: Subscription) -> None:
        if sub.status != lane.sub.status:
            self.subscriptions_version += 1  # disabled: a run sends it nothing more
        lane.update(sub)
        self.store.save_subscription_state(sub.id, sub.status, sub.consecutive_dead)
        self._notify()
