"""The pytest plugin (registered through the `pytest11` entry point `webhook_sim`).

Fixtures:
- `webhook_sim` / `webhook_sim_session`: an in-process simulator and its control API (a fresh one per test, or
  one per session), as a `simulator.testing.WebhookSim`.
- `webhook_receiver` / `make_webhook_receiver(**opts)`: real HTTP receivers that record what arrives.
- `webhook_sim_run`: the finished run of the test's `@pytest.mark.webhook_sim(...)` marker.

The ini option `webhook_sim_scenarios` lists folders of the project's own scenario files. The simulator's
modules are imported when a fixture is first used, so merely having the plugin installed costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from simulator.client import RunInfo
    from simulator.testing import WebhookSim
    from simulator.testing.receiver import Receiver

MARKER = "webhook_sim"
MARKER_HELP = (
    "webhook_sim(scenario, seed=None, params=None, faults=None, speed=0, target='receiver', signing=None, "
    "secret=None, timeout=60): run the scenario before the test against `webhook_receiver`, a URL, or the fixture "
    "named by `target`; the finished run is the `webhook_sim_run` fixture"
)
# The options and what each must be, checked before anything starts: a list for `params` died in `dict()` with a
# TypeError naming no option, a number for `target` was looked up as fixture '123', and a string for `seed` came
# back as the API's 422 under a page of traceback. None is each optional one's default.
_OPTION_KINDS: dict[str, tuple[tuple[type, ...], bool, str]] = {
    "scenario": ((str, PurePath), False, "a scenario's name or a YAML file's path"),
    "seed": ((int,), True, "an integer"),
    "params": ((Mapping,), True, "a dict"),
    "faults": ((Mapping,), True, "a dict"),
    "speed": ((int, float), False, "a finite number"),
    "target": ((str,), False, "'receiver', an http(s):// URL or a fixture's name"),
    "signing": ((str,), True, "a scheme's name"),
    "secret": ((str,), True, "a string"),
    "timeout": ((int, float), False, "finite seconds above 0"),
    "start_time": ((str, datetime), True, "an RFC 3339 time or a datetime"),
    "max_in_flight": ((int,), True, "an integer"),
}
MARKER_OPTIONS = frozenset(_OPTION_KINDS)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "webhook_sim_scenarios",
        type="paths",
        default=[],
        help="folders of scenario files the webhook_sim fixtures can run by name",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


def _scenario_dirs(config: pytest.Config) -> list[Path]:
    return [Path(p) for p in config.getini("webhook_sim_scenarios")]


@pytest.fixture
def webhook_sim(request: pytest.FixtureRequest) -> Iterator[WebhookSim]:
    """A fresh in-process simulator for this test (stopped after it). A failing test's report names its
    dashboard, which serves while the test runs (stop there with a breakpoint or `--pdb` to look)."""
    from simulator import testing

    with testing.webhook_sim(scenario_dirs=_scenario_dirs(request.config)) as sim:
        # A report section is shown with a failure only, as captured output is.
        request.node.add_report_section("setup", "webhook-sim", f"dashboard: {sim.url}/ (while the test runs)")
        yield sim


@pytest.fixture(scope="session")
def webhook_sim_session(request: pytest.FixtureRequest) -> Iterator[WebhookSim]:
    """One in-process simulator for the whole session; call `.reset()` where tests must not see each other. A
    failing test that uses it names its dashboard too (see `pytest_runtest_makereport`)."""
    from simulator import testing

    with testing.webhook_sim(scenario_dirs=_scenario_dirs(request.config)) as sim:
        yield sim


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """Name the session simulator's dashboard in the report of each test that uses it, as `webhook_sim` does
    (a section is shown with a failure only). Before the report is made from the item's sections."""
    sim = getattr(item, "funcargs", {}).get("webhook_sim_session")
    if call.when == "setup" and sim is not None:
        item.add_report_section("setup", "webhook-sim", f"dashboard: {sim.url}/ (while the session runs)")


@pytest.fixture
def make_webhook_receiver() -> Iterator[Callable[..., Receiver]]:
    """A factory of started receivers (stopped after the test):

    `make_webhook_receiver(verify=(scheme, secret_or_pem), status=204, delay=0.0, fail=0, fail_status=500,
    retry_after=None)`. `verify` records each request's verification (`scheme` may be "auto"); `fail` answers
    the first N requests with `fail_status`; `status` and `delay` shape every later answer."""
    from simulator.testing import verifier_for
    from simulator.testing.receiver import Receiver

    started: list[Receiver] = []

    def make(
        *,
        verify: tuple[str, str | None] | str | None = None,
        status: int = 204,
        delay: float = 0.0,
        fail: int = 0,
        fail_status: int = 500,
        retry_after: str | None = None,
    ) -> Receiver:
        receiver = Receiver(verifier=verifier_for(verify) if verify is not None else None)
        receiver.respond(status, delay)
        if fail:
            receiver.fail(fail, fail_status, retry_after)
        started.append(receiver.start())
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def webhook_receiver(make_webhook_receiver: Callable[..., Receiver]) -> Receiver:
    """A started receiver that records every request and answers 204."""
    return make_webhook_receiver()


@pytest.fixture
def webhook_sim_run(request: pytest.FixtureRequest) -> RunInfo:
    """The finished run of the test's `@pytest.mark.webhook_sim(...)` marker."""
    from simulator import testing
    from simulator.client import ApiError
    from simulator.errors import NotFound
    from simulator.scenarios.document import ScenarioInvalid

    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        pytest.fail("webhook_sim_run needs the test to be marked @pytest.mark.webhook_sim(scenario=...)", pytrace=False)
    options = _marker_options(marker)
    _set_up_the_others(request)
    sim: WebhookSim = request.getfixturevalue("webhook_sim")
    target, receiver = _target(request, options.pop("target", "receiver"))
    timeout = options.pop("timeout", 60.0)
    if not 0 < timeout < math.inf:  # NaN too; an infinite one overflowed in the HTTP library
        pytest.fail(f"@pytest.mark.webhook_sim: timeout must be seconds above 0, got {timeout!r}", pytrace=False)
    options["scenario"] = _scenario(request.config, options["scenario"])
    if options.get("secret") is None:  # the run's own scheme: none for a Basis Theory run that names none
        scheme = options.get("signing") or testing.native_scheme(sim.provider_of(options["scenario"]))
        options["secret"] = testing.signing_secret(scheme)
    if receiver is not None and receiver.verifier is None:
        # Set before the run starts: its first request may arrive at once.
        scheme = "none" if options.get("signing") == "none" else "auto"  # else every request must be signed
        receiver.verifier = testing.make_verifier(scheme, secret=options.get("secret"), public_pem=sim.public_key_pem)
    try:
        handle = sim.run(options.pop("scenario"), target=target, **options)
    except ApiError as exc:
        # A value the API refused (a seed out of range) is the marker's mistake, and so is a scenario it does not
        # know (the answer names the nearest, or every one); any other answer is not.
        if exc.status == 404 and any(e.get("field") == "scenario" for e in exc.errors):
            refused = f"scenario: {exc.detail}"
        elif exc.status == 422:
            refused = str(exc)
        else:
            raise
    except (NotFound, ScenarioInvalid) as exc:  # the scenario file it names, read here: not there, or no scenario
        refused = f"scenario: {exc.detail}"
    else:
        return handle.wait(timeout)
    pytest.fail(f"@pytest.mark.webhook_sim: {refused}", pytrace=False)  # outside `except`: no chained traceback


def _scenario(config: pytest.Config, scenario: Any) -> Any:
    """A marker's scenario file, relative to the ini file's folder as `webhook_sim_scenarios` is (it was the
    working directory's, so a test run from an IDE or a monorepo's root looked for another file)."""
    text = str(scenario)
    if not (isinstance(scenario, Path) or text.endswith((".yaml", ".yml"))) or Path(text).is_absolute():
        return scenario
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return base / text


def _set_up_the_others(request: pytest.FixtureRequest) -> None:
    """Every other fixture of the test, set up before the run plays: pytest sets a plugin's autouse fixtures up
    before a project's, and a project's `clean_database` fixture then wiped what the run had delivered. A fixture
    that itself uses the run (directly or not) comes after it, as it must."""
    for name in request.fixturenames:
        if name in _OURS or name in request.node.funcargs:
            continue
        try:
            request.getfixturevalue(name)
        except pytest.FixtureLookupError as exc:
            if "webhook_sim_run" not in str(exc):  # not a fixture waiting for the run: a real fault
                raise


_OURS = ("request", "webhook_sim_run", "_webhook_sim_marker")


@pytest.fixture(autouse=True)
def _webhook_sim_marker(request: pytest.FixtureRequest) -> None:
    """A marked test gets its run before its body, whether or not it asks for `webhook_sim_run`."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("webhook_sim_run")


def _marker_options(marker: pytest.Mark) -> dict[str, Any]:
    options = dict(marker.kwargs)
    if marker.args:
        if len(marker.args) > 1 or "scenario" in options:
            pytest.fail("@pytest.mark.webhook_sim takes the scenario as its only positional argument", pytrace=False)
        options["scenario"] = marker.args[0]
    unknown = sorted(set(options) - MARKER_OPTIONS)
    if unknown or "scenario" not in options:
        problem = f"unknown options {', '.join(unknown)}" if unknown else "no scenario"
        pytest.fail(f"@pytest.mark.webhook_sim: {problem}; it takes {', '.join(sorted(MARKER_OPTIONS))}", pytrace=False)
    for name, value in options.items():
        kinds, optional, kind = _OPTION_KINDS[name]
        taken = isinstance(value, kinds) and not isinstance(value, bool)  # True is an int, but no seed
        # NaN and infinity: JSON has neither (the client failed as it wrote the request, under a traceback).
        taken = taken and not (isinstance(value, float) and not math.isfinite(value))
        if not (taken or (value is None and optional)):
            pytest.fail(f"@pytest.mark.webhook_sim: {name} must be {kind}, got {value!r}", pytrace=False)
    return options


def _target(request: pytest.FixtureRequest, target: Any) -> tuple[str, Receiver | None]:
    """The URL a marked test's run goes to, and the receiver behind it when it is `webhook_receiver`."""
    from simulator.testing.receiver import Receiver

    if isinstance(target, str) and target.startswith(("http://", "https://")):
        return target, None
    value = request.getfixturevalue("webhook_receiver" if target == "receiver" else str(target))
    if isinstance(value, str):
        return value, None
    url = getattr(value, "url", None)
    if not isinstance(url, str):
        pytest.fail(
            f"@pytest.mark.webhook_sim target={target!r}: the fixture gives neither a URL nor an object with a `url`",
            pytrace=False,
        )
    return url, value if isinstance(value, Receiver) else None
