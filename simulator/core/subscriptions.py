"""Subscriptions: where matching events go. Creating, changing and looking them up; the runs, the schedules and the
API reach subscriptions only through this."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from simulator import catalog, credentials, signing
from simulator.core.syncfy_v1 import V1Bodies
from simulator.core.validation import FaultCheck
from simulator.delivery.engine import DeliveryEngine
from simulator.errors import Conflict, FieldError, InvalidInput, NotFound
from simulator.ids import new_id
from simulator.models.enums import SigningScheme as Scheme
from simulator.models.inputs import RetrySpec, SubscriptionSpec
from simulator.models.records import RetryPolicy, Subscription
from simulator.store import Store, postgres


def receives(sub: Subscription, etype: catalog.EventType) -> bool:
    """Whether `sub` is sent events of `etype`: it is enabled and its filters take the type."""
    return sub.enabled and catalog.matches(sub.events, etype)


class Subscriptions:
    def __init__(self, store: Store, engine: DeliveryEngine, check_faults: FaultCheck) -> None:
        self.store = store
        self.engine = engine
        self.check_faults = check_faults
        # (ad-hoc event target URL, scheme, secret, retry policy) -> its ephemeral subscription's id
        self._targets: dict[tuple[str, Scheme | None, str | None, str | None], str] = {}
        # Changes one at a time: each reads the subscription, then writes it whole. Two at once lost one's fields,
        # and a PATCH beside a DELETE wrote the deleted subscription back.
        self._editing = asyncio.Lock()
        # Subscriptions the Syncfy twin made for its V1 webhooks are sent Syncfy's V1 body: told to the engine
        # here, before it resumes sending, whether or not the twin is ever called.
        engine.body_forms.append(V1Bodies(store).body)

    async def create(self, spec: SubscriptionSpec, *, ephemeral: bool = False) -> Subscription:
        """Create a subscription. The returned record holds the secret: the only time it is shown."""
        self.store.writer.check()  # 503 while the store cannot write
        for i, flt in enumerate(spec.events):
            _check_filter(flt, f"events.{i}")
        secret = spec.secret
        if secret is None:
            secret = signing.new_secret(spec.signing or "syncfy")
        else:
            signing.validate_secret(spec.signing or "syncfy", secret)
        self.check_faults(spec.faults, "faults")
        sub = Subscription(
            id=new_id("sub"),
            url=spec.url,
            events=tuple(spec.events),
            signing=spec.signing,
            secret=secret,
            headers=dict(spec.headers),
            timeout=spec.timeout,
            retry=_policy(spec.retry),
            max_in_flight=spec.max_in_flight,
            strict_order=spec.strict_order,
            batch=spec.batch,
            faults=dict(spec.faults),
            status="enabled" if spec.enabled else "disabled",
            disable_after=spec.disable_after,
            created_at=time.time(),
            ephemeral=ephemeral,
        )
        await self.store.put_subscription(sub)
        self.engine.subscription_changed(sub)
        return sub

    async def get(self, sub_id: str) -> Subscription:
        sub = await self.store.get_subscription(sub_id)
        if sub is None:
            raise NotFound(f"no subscription {sub_id!r}", errors=[FieldError("id", "not found")])
        return sub

    @asynccontextmanager
    async def _edit(self, sub_id: str) -> AsyncIterator[None]:
        """Changes to a subscription one at a time: in this process, and on a shared store in every process."""
        async with self._editing, postgres.one_editor(self.store.engine, f"subscription {sub_id}"):
            yield

    async def update(self, sub_id: str, patch: BaseModel) -> Subscription:
        """Change a subscription; `enabled: true` re-enables it and resets its failure count."""
        async with self._edit(sub_id):
            return await self._update(sub_id, patch)

    async def _update(self, sub_id: str, patch: BaseModel) -> Subscription:
        sub = await self.get(sub_id)
        changes: dict[str, Any] = patch.model_dump(exclude_unset=True)
        for i, flt in enumerate(changes.get("events") or []):
            _check_filter(flt, f"events.{i}")
        if "events" in changes:
            changes["events"] = tuple(changes["events"])
        if "retry" in changes:
            changes["retry"] = _policy(RetrySpec.model_validate(changes["retry"]) if changes["retry"] else None)
        if "enabled" in changes:
            enabled = changes.pop("enabled")
            changes["status"] = "enabled" if enabled else "disabled"
            if enabled:
                changes["consecutive_dead"] = 0
        if "secret" in changes or "signing" in changes:
            changes["secret"] = _secret_for(sub, changes)
        if "faults" in changes:
            self.check_faults(changes["faults"], "faults")
        # What was shown masked and is sent back as shown is unchanged (see `simulator.credentials`).
        if "url" in changes:
            changes["url"] = credentials.kept_url(changes["url"], sub.url)
        if "headers" in changes:
            changes["headers"] = credentials.kept_headers(changes["headers"], sub.headers)
        sub = replace(sub, **changes)
        await self.store.put_subscription(sub)
        self.engine.subscription_changed(sub)
        return sub

    async def delete(self, sub_id: str) -> None:
        async with self._edit(sub_id):
            await self.get(sub_id)
            await self.engine.subscription_removed(sub_id)
            await self.store.delete_subscription(sub_id)

    async def list(
        self, limit: int | None = None, cursor: str | None = None, *, listed: bool = False
    ) -> builtins.list[Subscription]:
        return await self.store.list_subscriptions(limit, cursor, listed=listed)

    async def matching(self, etype: catalog.EventType, ids: Sequence[str] | None = None) -> builtins.list[Subscription]:
        """The enabled subscriptions that receive `etype` (among `ids` when given)."""
        if ids is not None:
            subs = [await self._named(i, n) for n, i in enumerate(ids)]
        else:
            subs = await self.store.list_subscriptions(listed=True)
        return [s for s in subs if receives(s, etype)]

    async def _named(self, sub_id: str, n: int) -> Subscription:
        """The `n`th subscription a request names (`subscriptions.n`): a 404 named the field `id`, which such a
        body has none of, where `POST /runs` names `subscriptions.n`."""
        try:
            return await self.get(sub_id)
        except NotFound as exc:
            raise NotFound(exc.detail, errors=[FieldError(f"subscriptions.{n}", "not found")]) from None

    async def passed_over(self, etype: catalog.EventType, ids: Sequence[str]) -> builtins.list[tuple[str, str]]:
        """Of the subscriptions named in `ids`, those that `matching` leaves out, each with why: an event sent to
        no one must say so, not answer an empty list."""
        out = []
        first: dict[str, int] = {}  # each at its first place: named twice, said once (and sent once)
        for n, sub_id in enumerate(ids):
            first.setdefault(sub_id, n)
        for sub in [await self._named(sub_id, n) for sub_id, n in first.items()]:
            if receives(sub, etype):
                continue
            if not sub.enabled:
                out.append((sub.id, "disabled: it receives no events until it is enabled again"))
            else:
                out.append((sub.id, f"not subscribed to {etype.key} (its events: {', '.join(sub.events)})"))
        return out

    async def target(
        self, url: str, signing: Scheme | None = None, secret: str | None = None, retry: RetrySpec | None = None
    ) -> Subscription:
        """One ephemeral subscription per ad-hoc target URL, scheme, secret and retry policy, reused by every event
        sent there with them (a subscription and a lane per event would pile up in a long-running server). Never
        disabled, like a run's target, and never sent anything else. No secret: one generated for it."""
        key = (url, signing, secret, None if retry is None else retry.model_dump_json())
        sub_id = self._targets.get(key)
        sub = await self.store.get_subscription(sub_id) if sub_id else None
        if sub is None:
            spec = SubscriptionSpec(url=url, disable_after=0, signing=signing, secret=secret, retry=retry)
            sub = await self.create(spec, ephemeral=True)
            self._targets[key] = sub.id
        return sub

    async def remove_all(self) -> None:
        """Stop every subscription's lane (before the store forgets them)."""
        for sub in await self.store.list_subscriptions():
            await self.engine.subscription_removed(sub.id)
        self._targets.clear()


def _secret_for(sub: Subscription, changes: dict[str, Any]) -> str | None:
    """The secret after a change of scheme or secret: the one given (the input model checked it against a scheme
    given with it), a new one for `secret: null`, else the stored one, which must fit a new scheme (409 if not:
    the request is well-formed, the subscription's state is what it conflicts with)."""
    scheme = changes.get("signing", sub.signing) or "syncfy"
    if "secret" in changes and changes["secret"] is None:
        return signing.new_secret(scheme)
    secret = changes.get("secret", sub.secret)
    try:
        signing.validate_secret(scheme, secret)
    except InvalidInput as exc:
        stored = "the subscription's signing scheme" if "signing" not in changes else "the subscription's secret"
        raise Conflict(
            f"{exc.detail}: it does not fit {stored}; send `signing` and `secret` together (`secret: null` makes "
            "a new one)",
            errors=exc.errors,
        ) from None
    return secret


def _check_filter(flt: str, field: str) -> None:
    try:
        catalog.validate_filter(flt)
    except Exception as exc:
        raise InvalidInput(f"{field}: {exc}", errors=[FieldError(field, str(exc))]) from None


def _policy(spec: RetrySpec | None) -> RetryPolicy | None:
    return RetryPolicy(tuple(spec.delays), spec.jitter) if spec is not None else None
