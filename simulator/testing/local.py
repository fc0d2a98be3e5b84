"""The in-process simulator behind the pytest plugin (imported through `simulator.testing`, which names it all).

- `AppServer` (from `simulator.runtime`) serves an ASGI app (the control API, or a consumer under test:
  `serve_app`) on an ephemeral 127.0.0.1 port, in a thread with its own event loop.
- `LocalSimulator` is a `Simulator` on an ephemeral SQLite file with its control API on such a server.
- `WebhookSim` is what the `webhook_sim` fixtures yield: that simulator, driven through `simulator.client.Client`
  (the same API users drive), with the shortcuts a test needs. `RunHandle` is a started run.
- `detect_scheme` and `make_verifier` check a received request's signature, whatever scheme signed it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from simulator import arguments, catalog, signing
from simulator.client import AsyncClient, Client, DeliveryInfo, EmittedEvent, RunEventInfo, RunInfo, SubscriptionInfo
from simulator.receiving import SIGNATURE_HEADERS as SIGNATURE_HEADERS
from simulator.receiving import Verifier as Verifier
from simulator.receiving import detect_scheme as detect_scheme
from simulator.receiving import make_verifier as make_verifier
from simulator.receiving import verifier_for as verifier_for
from simulator.runtime import AppServer as AppServer
from simulator.runtime import serve_app as serve_app  # re-exported: documented here for consumers
from simulator.testing import checks
from simulator.testing.timeouts import final, states, unfinished

if TYPE_CHECKING:
    from simulator.core.simulator import Simulator

T = TypeVar("T")
ASGIApp = Callable[..., Awaitable[None]]


class LocalSimulator:
    """A simulator on an ephemeral SQLite file and its control API, served in a background thread."""

    def __init__(self, server: AppServer, sim: Simulator) -> None:
        self.server = server
        self.sim = sim
        # A Ctrl-C may come before its close does (pytest then runs no more teardowns): closed as the process
        # exits, its server's thread still running. Its SQLite files stayed in the temporary folder.
        atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        with contextlib.suppress(BaseException):  # the last chance: nothing is left to report it to
            self.close(timeout=5.0)

    @classmethod
    def open(
        cls,
        *,
        scenario_dirs: Sequence[Path] = (),
        token: str | None = None,
        timeout: float = 10.0,
        provider_key: str | None = None,
        db: str | None = None,
    ) -> LocalSimulator:
        """`provider_key`: the only key the provider API twins accept (None: any non-empty key). `db`: the store
        (default: an ephemeral SQLite file)."""
        from simulator.api.app import create_app, stopping
        from simulator.core.simulator import Simulator

        server = AppServer()
        try:
            sim = server.call(Simulator.open(db, scenario_dirs=scenario_dirs), timeout)
        except BaseException:
            server.close_loop()
            raise
        sim.provider_key = provider_key
        # A test's runs end with its session: its receivers are gone by then, and a run handed on (to a `serve`
        # sharing the store, or the next session on the file) would send to nobody.
        sim.runs.hands_on = False
        try:
            app = create_app(sim, token=token)
            server.start(app, lifespan="on", timeout=timeout, before_stopping=lambda: stopping(app))
        except BaseException:
            server.call(sim.close(grace=0))
            server.close_loop()
            raise
        return cls(server, sim)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self, timeout: float = 10.0) -> None:
        """Stop the API, let in-flight attempts finish (one second at most), delete the store. A Ctrl-C meanwhile
        does not cut it short: each step is waited for to its end (within `timeout`), then the interrupt goes on.
        Cut short, the store's SQLite files stayed behind, and its tasks were destroyed pending."""
        deadline = time.monotonic() + timeout
        closing: Future[None] | None = None

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        def sim_closed() -> None:
            nonlocal closing
            if closing is None:  # once: a second wait waits for the same close
                closing = self.server.submit(self.sim.close(grace=1))
            closing.result(left())

        interrupted: KeyboardInterrupt | None = None
        for step in (lambda: self.server.stop_serving(left()), sim_closed, lambda: self.server.close_loop(left())):
            while True:
                try:
                    step()
                    break
                except KeyboardInterrupt as exc:
                    interrupted = exc
                    if time.monotonic() >= deadline:
                        raise
        atexit.unregister(self._at_exit)
        if interrupted is not None:
            raise interrupted


class RunHandle:
    """A started run. `wait()` (sync) or `await handle` / `await handle.wait_async()` give the finished run."""

    def __init__(self, client: Client, info: RunInfo, secret: str | None) -> None:
        self.client = client
        self.info = info
        self.id = info.id
        self.secret = secret  # what the target verifies with (the one given, or generated for it)

    def __repr__(self) -> str:
        return f"RunHandle({self.id!r}, scenario={self.info.scenario!r})"

    def get(self) -> RunInfo:
        """The run as it stands now."""
        return self.client.get_run(self.id)

    def wait(self, timeout: float = 60.0) -> RunInfo:
        """Block until the run completed, failed or was cancelled (its deliveries then are final, but for those of a
        subscription disabled after consecutive dead deliveries: they wait, `failed`, until it is enabled)."""
        try:
            return self.client.wait_run(self.id, timeout)  # which checks `timeout` (`arguments.seconds`)
        except TimeoutError as exc:
            raise TimeoutError(unfinished(self.client, self.id, str(exc))) from None

    async def wait_async(self, timeout: float = 60.0) -> RunInfo:
        """`wait()` for an async test. It polls with an async client: a consumer served on the test's loop keeps
        answering, and a cancelled wait (Ctrl-C) ends at once. Polled in a thread, it went on until its timeout,
        and the loop's end waited for that thread."""
        arguments.seconds("timeout", timeout)  # refused in the test's own frame
        # No token: the control API a test starts takes none, as `self.client` sends none.
        async with AsyncClient(self.client.base_url) as client:
            try:
                return await client.wait_run(self.id, timeout)
            except TimeoutError as exc:
                said = await asyncio.to_thread(unfinished, self.client, self.id, str(exc))
        raise TimeoutError(said) from None

    def __await__(self) -> Generator[Any, None, RunInfo]:
        return self.wait_async().__await__()

    def events(self) -> list[RunEventInfo]:
        """The events the run emitted, in order."""
        return list(self.client.iter_run_events(self.id))

    def deliveries(self, *, attempts: bool = True, **filters: Any) -> list[DeliveryInfo]:
        """The run's deliveries, oldest first (with their attempt logs unless `attempts=False`)."""
        if "run" in filters:  # this handle's run is the filter; another run's are `WebhookSim.deliveries(run=…)`
            raise TypeError("a run's deliveries are filtered by its own run: use WebhookSim.deliveries(run=...)")
        return _deliveries(self.client, attempts, run=self.id, **filters)


def _deliveries(
    client: Client, attempts: bool, *, run: object = None, subscription: object = None, **filters: Any
) -> list[DeliveryInfo]:
    run_id = checks.optional_id("run", run, "run")
    subscription_id = checks.optional_id("subscription", subscription, "subscription")
    found = list(client.iter_deliveries(run=run_id, subscription=subscription_id, **filters))
    return [client.get_delivery(d.id) for d in found] if attempts else found


def _dotted(overrides: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides from a dict of dotted paths and from keyword arguments spelling dots as `__`. A path given both
    ways is refused, as the API refuses an overrides object naming a key twice: one value silently won."""
    given = dict(arguments.mapping("overrides", overrides) or {})
    for name, value in fields.items():
        path = name.replace("__", ".")
        if path in given:
            raise ValueError(f"override {path!r} is given twice: in the overrides dict and as {name}=")
        given[path] = value
    return given


class WebhookSim:
    """An in-process simulator for tests, driven through its control API (`.client`, at `.url`)."""

    def __init__(self, local: LocalSimulator) -> None:
        self.local = local
        self.url = local.url
        self.client = Client(local.url)
        self._secrets: dict[str, str | None] = {}
        self._target_secrets: dict[tuple[str, str | None], str | None] = {}
        self._closed = False
        self._public_key: str | None = None

    def close(self, timeout: float = 10.0) -> None:
        """Stop the simulator and delete its store; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self.client.close()
        self.local.close(timeout)

    @property
    def public_key_pem(self) -> str:
        """The PEM public key a consumer verifies Basis Theory's `BT-SIGNATURE` with."""
        if self._public_key is None:
            self._public_key = self.client.public_key()
        return self._public_key

    def secret(self, subscription_id: str) -> str | None:
        """The secret of a subscription made here, as shown at its creation (the API masks it afterwards)."""
        checks.an_id("subscription_id", subscription_id, "subscription")
        if subscription_id not in self._secrets:
            raise KeyError(f"{subscription_id} was not created through this fixture; its secret is not known")
        return self._secrets[subscription_id]

    def subscribe(
        self,
        url: str,
        *,
        events: Sequence[str] | None = None,
        signing: str | None = None,
        secret: str | None = None,
        **fields: Any,
    ) -> SubscriptionInfo:
        """Create a subscription (see `Client.create_subscription` for `fields`); its `.secret` is in full."""
        events = arguments.strings("events", events, '["syncfy:*"]')
        # Checked here, as `emit` and `run` check theirs: the server's refusal was an ApiError, no ValueError.
        if signing is not None:
            checks.scheme("signing", signing)
        if secret is not None:
            arguments.text("secret", secret)
        checks.numbers(fields)
        sub = self.client.create_subscription(
            checks.url("url", url), events=events, signing=signing, secret=secret, **fields
        )
        self._secrets[sub.id] = sub.secret
        return sub

    def emit(
        self,
        type: str,
        overrides: Mapping[str, Any] | None = None,
        /,
        *,
        subscriptions: Sequence[str] | None = None,
        target: str | None = None,
        seed: int | None = None,
        signing: str | None = None,
        secret: str | None = None,
        **fields: Any,
    ) -> EmittedEvent:
        """Emit one event now. Overrides as a dict of dotted paths, or keywords: `payload__is_executing=0`.
        With `target`, its deliveries are signed with `secret` (under `signing`, default the provider's scheme);
        without one, with a secret generated here once per target and scheme: `target_secret(target)`."""
        subscriptions = checks.id_list("subscriptions", subscriptions, "subscription", '["sub_…"]')
        checks.seed(seed)
        if signing is not None:
            checks.scheme("signing", signing)
        if secret is not None:
            arguments.text("secret", secret)
        if target is not None and secret is None:
            secret = self.target_secret(target, signing or native_scheme(_type_provider(type)))
        return self.client.emit(
            type,
            _dotted(overrides, fields),
            target=None if target is None else checks.url("target", target),
            seed=seed,
            subscriptions=subscriptions,
            signing=signing,
            secret=secret,
        )

    def target_secret(self, target: str, signing: str | None = None) -> str | None:
        """The secret `emit(target=…)` signs that target's deliveries with when none is given (None for a scheme
        without one): known before the first event, so the receiver can be set up with it."""
        checks.url("target", target)
        # A target named with no scheme is Syncfy's, as `emit` of a Syncfy type.
        scheme = "syncfy" if signing is None else checks.scheme("signing", signing)
        if scheme in ("basistheory", "none"):
            return None
        key = (target, scheme)
        if key not in self._target_secrets:
            self._target_secrets[key] = signing_secret(scheme)
        return self._target_secrets[key]

    def run(
        self,
        scenario: str | Path,
        *,
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
        faults: Mapping[str, Any] | None = None,
        speed: float = 0,
        target: str | None = None,
        subscriptions: Sequence[str] | None = None,
        signing: str | None = None,
        secret: str | None = None,
        **fields: Any,
    ) -> RunHandle:
        """Start a run of `scenario` (a name, or a YAML file's path). At `speed` 0 nothing waits, retries
        included. With `target`, a secret is generated here when none is given, so `handle.secret` has it."""
        # None is no speed: the server's default (1, real time) would play where this method's default is 0.
        if not isinstance(scenario, str | Path):
            raise TypeError(f"scenario must be a scenario's name or a YAML file's path, got {scenario!r}")
        checks.seed(seed)
        arguments.number("speed", speed)
        if secret is not None:
            arguments.text("secret", secret)
        checks.numbers(fields)
        subscriptions = checks.id_list("subscriptions", subscriptions, "subscription", '["sub_…"]')
        # Only None is none given: `faults=""` or `params=[]` was dropped as if no value had been passed.
        params, faults = arguments.mapping("params", params), arguments.mapping("faults", faults)
        if target is not None:
            checks.url("target", target)
        if signing is not None:
            checks.scheme("signing", signing)
        name = self._scenario_name(scenario)  # a file is read once: by its name from here on
        if target is not None and secret is None:
            secret = signing_secret(signing or native_scheme(self.provider_of(name)))
        info = self.client.start_run(
            name,
            seed=seed,
            params=None if params is None else dict(params),
            faults=None if faults is None else dict(faults),
            speed=speed,
            target=target,
            signing=signing,
            secret=secret,
            subscriptions=subscriptions,
            **fields,
        )
        if target is not None:  # the run's own subscription for the target
            self._secrets.update((sub_id, secret) for sub_id in info.subscriptions or ())
        return RunHandle(self.client, info, secret)

    def provider_of(self, scenario: str | Path) -> str | None:
        """The provider a scenario (a name or a file's path) is of; None when it cannot be read (the run's own
        error then says why)."""
        from simulator.scenarios import lookup

        try:
            return lookup.find_name_or_file(scenario, self.local.sim.scenario_dirs).provider
        except Exception:
            return None

    def _scenario_name(self, scenario: str | Path) -> str:
        """A scenario file's name, its folder added to the simulator's scenario folders. A file may not take the
        name of a built-in or of another file the simulator knows (`ScenarioInvalid`, as `webhook-sim run` says):
        the server would play that one."""
        text = str(scenario)
        if not (isinstance(scenario, Path) or text.endswith((".yaml", ".yml"))):
            return text
        from simulator.scenarios import lookup

        path = Path(text).resolve()
        # With its folder, which the server reads from now on: another file there of that name makes it ambiguous.
        loaded = lookup.find_name_or_file(path, [*self.local.sim.scenario_dirs, path.parent])
        if path.parent not in self.local.sim.scenario_dirs:
            self.local.sim.scenario_dirs.append(path.parent)
        return loaded.name

    def deliveries(
        self,
        *,
        run: str | None = None,
        subscription: str | None = None,
        status: str | None = None,
        type: str | None = None,
        attempts: bool = True,
    ) -> list[DeliveryInfo]:
        """Every delivery matching the filters, oldest first, with attempt logs unless `attempts=False`."""
        status = checks.status(status)
        return _deliveries(self.client, attempts, run=run, subscription=subscription, status=status, type=type)

    def wait_for_deliveries(
        self,
        count: int = 1,
        *,
        timeout: float = 10.0,
        run: str | None = None,
        subscription: str | None = None,
        type: str | None = None,
    ) -> list[DeliveryInfo]:
        """Wait until at least `count` deliveries match and none of them is pending any more (what an emitted
        event needs: a run's `wait()` already settles its deliveries). AssertionError after `timeout`."""
        if arguments.whole("count", count) < 1:
            raise ValueError(f"count must be 1 or more, got {count}: a wait for nothing passes at once")
        deadline = time.monotonic() + arguments.seconds("timeout", timeout)
        while True:
            found = _deliveries(self.client, False, run=run, subscription=subscription, type=type)
            if len(found) >= count and all(final(d) for d in found):
                return [self.client.get_delivery(d.id) for d in found]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} final deliveries within {timeout}s; have {states(self.client, found)}"
                )
            time.sleep(0.01)

    def redeliver(self, delivery_id: str, *, timeout: float = 10.0) -> DeliveryInfo:
        """Send a finished delivery again (same id and body) and wait until that new attempt has ended, whatever
        its outcome (the last of `attempt_log`): a refused one is then retried as the provider would, in its own
        time. It waited for the delivery to be final, so a refusal (what a test of redelivery to a consumer that
        is down looks for) timed out, or came back as the retry's success."""
        checks.an_id("delivery_id", delivery_id, "delivery")
        arguments.seconds("timeout", timeout)
        before = self.client.get_delivery(delivery_id).attempts
        self.client.redeliver(delivery_id)
        deadline = time.monotonic() + timeout
        while (found := self.client.get_delivery(delivery_id)).attempts <= before:  # counted once it has ended
            if time.monotonic() > deadline:
                said = f"{delivery_id} was sent again, but its attempt {before + 1} had no outcome within {timeout}s"
                raise AssertionError(f"{said} ({found.status})")
            time.sleep(0.01)
        return found

    def reset(self) -> None:
        """Forget every subscription, run, delivery and schedule."""
        self.client.reset()
        self._secrets.clear()


def native_scheme(provider: str | None) -> str:
    """The signing scheme a target gets without one named: its provider's own (a Basis Theory target is signed
    with the RSA key, and has no secret); Syncfy's where the provider is not known."""
    if provider is None:
        return "syncfy"
    return catalog.get_provider(provider).native_signing


def _type_provider(etype: str) -> str | None:
    try:
        return catalog.resolve(etype).provider
    except Exception:  # the emit's own error says why
        return None


def signing_secret(scheme: str) -> str | None:
    """A fresh secret for `scheme` (`whsec_…` for standard, base64 for syncfy, None for the others)."""
    return signing.new_secret(checks.scheme("scheme", scheme))


@contextmanager
def webhook_sim(
    *,
    scenario_dirs: Sequence[Path] = (),
    timeout: float = 10.0,
    provider_key: str | None = None,
    db: str | None = None,
) -> Iterator[WebhookSim]:
    """A `WebhookSim` for the block (what the pytest fixtures use; usable without pytest too). Its provider API
    twins answer under its `url` (`/basistheory/…`, `/syncfy/…`), accepting only `provider_key` when given.
    `db`: the store, an ephemeral SQLite file by default (a PostgreSQL URL shares it with other processes)."""
    local = LocalSimulator.open(scenario_dirs=scenario_dirs, timeout=timeout, provider_key=provider_key, db=db)
    try:
        sim = WebhookSim(local)
    except BaseException:  # Ctrl-C while its client was made: the simulator and its store go all the same
        local.close(timeout)
        raise
    try:
        yield sim
    finally:
        sim.close(timeout)
