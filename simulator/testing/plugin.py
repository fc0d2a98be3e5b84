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
    from simulator.testing import RunHandle, WebhookSim
    from simulator.testing.receiver import Receiver

MARKER = "webhook_sim"
MARKER_HELP = (
    "webhook_sim(scenario, seed=None, params=None, faults=None, speed=0, target='receiver', signing=None, "
    "secret=None, timeout=60, start_time=None, max_in_flight=None): run the scenario before the test against "
    "`webhook_receiver`, a URL, or the fixture named by `target`; the finished run is the `webhook_sim_run` fixture"
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
    "timeout": ((int, float), False, "a finite number of seconds, 0 or more"),
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
    retry_after=None, reject_invalid=False)`. `verify` records each request's verification (`scheme` may be
    "auto"); `fail` answers the first N requests with `fail_status`; `status` and `delay` shape every later
    answer; `reject_invalid` answers 401 to a request unsigned or whose signature `verify` does not verify."""
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
        retry_after: int | str | None = None,
        reject_invalid: bool = False,
    ) -> Receiver:
        _check_receiver_options(verify, fail, fail_status, retry_after, reject_invalid)
        verifier = verifier_for(verify) if verify is not None else None
        receiver = Receiver(verifier=verifier, reject_invalid=reject_invalid)
        receiver.respond(status, delay)
        if fail:
            receiver.fail(fail, fail_status, retry_after)
        started.append(receiver.start())
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


def _check_receiver_options(
    verify: object, fail: int, fail_status: int, retry_after: int | str | None, reject_invalid: bool
) -> None:
    """Refuse options that would do nothing, or be checked only with `fail`: `fail_status=99` and `retry_after=5`
    were taken silently without it."""
    from simulator import arguments
    from simulator.testing.receiver import check_answer, retry_after_header

    arguments.whole("fail", fail)
    check_answer(fail_status, 0.0, "fail_status")
    retry_after_header(retry_after)
    if retry_after is not None and not fail:
        raise ValueError(
            f"retry_after={retry_after!r} is sent with the answers of `fail`, and fail is 0: give fail=N too, "
            "or call .fail(times, status, retry_after) on the receiver"
        )
    if not isinstance(reject_invalid, bool):
        raise TypeError(f"reject_invalid must be True or False, got {reject_invalid!r}")
    if reject_invalid and verify is None:
        raise ValueError("reject_invalid needs verify=(scheme, secret_or_pem): without it no signature is checked")


@pytest.fixture
def webhook_receiver(make_webhook_receiver: Callable[..., Receiver]) -> Receiver:
    """A started receiver that records every request and answers 204."""
    return make_webhook_receiver()


@pytest.fixture
def webhook_sim_run(request: pytest.FixtureRequest) -> RunInfo:
    """The finished run of the test's `@pytest.mark.webhook_sim(...)` marker."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        pytest.fail("webhook_sim_run needs the test to be marked @pytest.mark.webhook_sim(scenario=...)", pytrace=False)
    options = _marker_options(marker)
    _set_up_the_others(request)
    sim: WebhookSim = request.getfixturevalue("webhook_sim")
    target, receiver = _target(request, options.pop("target", "receiver"))
    timeout = options.pop("timeout", 60.0)
    options["scenario"] = _scenario(request.config, options["scenario"])
    _sign(sim, options, receiver)
    handle = _started(sim, target, options)
    try:
        return handle.wait(timeout)
    except TimeoutError as exc:  # its message says what the run had done: the traceback, only where it came from
        timed_out = str(exc)
    pytest.fail(f"@pytest.mark.webhook_sim: {timed_out}", pytrace=False)  # outside `except`: no chained traceback


def _sign(sim: WebhookSim, options: dict[str, Any], receiver: Receiver | None) -> None:
    """The run's secret (generated for its scheme unless given), and the verification of the receiver the run
    goes to, if it has none yet."""
    from simulator import testing

    if options.get("secret") is None:  # the run's own scheme: none for a Basis Theory run that names none
        scheme = options.get("signing") or testing.native_scheme(sim.provider_of(options["scenario"]))
        options["secret"] = testing.signing_secret(scheme)
    if receiver is not None and receiver.verifier is None:
        # Set before the run starts: its first request may arrive at once.
        scheme = "none" if options.get("signing") == "none" else "auto"  # else every request must be signed
        receiver.verifier = testing.make_verifier(scheme, secret=options.get("secret"), public_pem=sim.public_key_pem)


def _started(sim: WebhookSim, target: str, options: dict[str, Any]) -> RunHandle:
    """The marker's run, started; what the API or the scenario's file refuses is the test's error, in one line."""
    from simulator.client import ApiError
    from simulator.errors import NotFound
    from simulator.scenarios.document import ScenarioInvalid

    try:
        return sim.run(options.pop("scenario"), target=target, **options)
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
    except (TypeError, ValueError) as exc:  # a value `run` refuses before asking (a max_in_flight of 0), named
        refused = str(exc)
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
        if (wrong := _value_problem(name, value)) is not None:
            pytest.fail(f"@pytest.mark.webhook_sim: {wrong}", pytrace=False)
    return options


def _value_problem(name: str, value: Any) -> str | None:
    """What is wrong with an option of the right type, if anything. A target that is no URL nor fixture name was
    looked up as a fixture ("fixture '127.0.0.1:9000/hook' not found"), and a signing scheme not known was
    found only as its secret was made."""
    kind = _OPTION_KINDS[name][2]
    if name == "timeout" and value < 0:
        return f"timeout must be {kind}, got {value!r}"
    if name == "target" and not (value == "receiver" or value.startswith(_URL) or value.isidentifier()):
        hint = f": did you mean 'http://{value}'?" if "://" not in value else ""
        return f"target must be {kind}, got {value!r}{hint}"
    if name == "signing" and value is not None:
        from simulator.testing import checks

        try:
            checks.scheme("signing", value)
        except ValueError as exc:
            return str(exc)
    return None


_URL = ("http://", "https://")


_MISSING = object()  # a `target` no fixture has


def _target(request: pytest.FixtureRequest, target: str) -> tuple[str, Receiver | None]:
    """The URL a marked test's run goes to, and the receiver behind it when it is `webhook_receiver`."""
    from simulator.testing.receiver import Receiver

    if target.startswith(_URL):
        return target, None
    name = "webhook_receiver" if target == "receiver" else target
    try:
        value = request.getfixturevalue(name)
    except pytest.FixtureLookupError as exc:
        if exc.argname != name:
            raise  # the fixture is there, and what it asks for is not: pytest's own account of that
        value = _MISSING
    if value is _MISSING:  # failed out here: inside the `except`, the lookup's error was shown before the line
        # One line, as the marker's other mistakes are, not pytest's list of every fixture.
        said = f"target={target!r} names no fixture, and is no http:// or https:// URL"
        pytest.fail(f"@pytest.mark.webhook_sim: {said}", pytrace=False)
    if isinstance(value, str):
        return value, None
    url = getattr(value, "url", None)
    if not isinstance(url, str):
        pytest.fail(
            f"@pytest.mark.webhook_sim target={target!r}: the fixture gives neither a URL nor an object with a `url`",
            pytrace=False,
        )
    return url, value if isinstance(value, Receiver) else None
