"""Values an outside probe of the command line found crashing or taken silently: each is now exit 2 with a message
naming the option (or PATH), never a traceback, and nothing is sent, served or written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator import cli as webhook_sim
from simulator.cli import docs
from simulator.testing.receiver import Receiver

DEEP = "[" * 5000 + "]" * 5000  # past the parser's stack: RecursionError
FAR = "[" * 101 + "]" * 101  # within the parser's reach, past what the event's schema check can walk


# -- 1, 2: `trigger --override` values no request body may carry ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("NaN", "NaN is not a JSON number (to send it as text, quote it: '\"NaN\"')"),
        ("Infinity", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
        ("1e999", "1e999 is beyond the range of a JSON number"),
        ('{"a": 1, "a": 2}', "a is given more than once"),
        (DEEP, "nested too deeply: expected at most 100 levels of lists and objects"),
        (FAR, "nested too deeply: expected at most 100 levels of lists and objects"),
    ],
    ids=["nan", "infinity", "-infinity", "1e999", "repeated-key", "5000-levels", "101-levels"],
)
@pytest.mark.parametrize("through", ["server", "this process"])
def test_an_override_no_json_body_can_carry_is_refused_naming_it_with_or_without_a_server(
    exit_2, server, receiver: Receiver, value: str, words: str, through: str
) -> None:
    where = ["--server", server.url] if through == "server" else []
    err = exit_2("trigger", "credentials.created", *where, "--target", receiver.url, "--override", f"payload.x={value}")
    assert err.startswith(f"error: --override payload.x: {words}"), err
    assert "Traceback" not in err
    assert receiver.requests == []


def test_an_override_100_levels_deep_reaches_the_schema_check(main, receiver: Receiver) -> None:
    value = "[" * 100 + "]" * 100
    ran = main(
        "trigger", "credentials.created", "--target", receiver.url, "--override", f"payload.is_executing={value}"
    )
    assert ran.code == 2 and "does not fit the schema of payload.is_executing" in ran.err, ran


def test_an_override_that_is_no_json_is_still_sent_as_text(main, receiver: Receiver) -> None:
    ran = main("trigger", "credentials.created", "--target", receiver.url, "--override", "payload.id_external=1e9x")
    assert ran.code == 0, ran
    assert receiver.requests[0].json()["events"][0]["payload"]["id_external"] == "1e9x"


@pytest.mark.parametrize(("value", "words"), [(DEEP, "nested too deeply"), ('{"fixed": NaN}', "NaN is not a JSON")])
def test_a_fault_given_as_json_is_refused_the_same_way(exit_2, value: str, words: str) -> None:
    err = exit_2("run", "syncfy-credential-lifecycle", "--target", "http://127.0.0.1:9/", "--fault", f"delay={value}")
    assert err.startswith(f"error: --fault delay: {words}"), err


# -- 3: serve's numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option", "words"),
    [
        *((["--header-timeout", v], "--header-timeout", "from 0.1 to 3600") for v in ("nan", "-1", "inf", "0")),
        (["--max-connections", "0"], "--max-connections", "expected a whole number >= 1"),
        (["--max-connections", "-5"], "--max-connections", "expected a whole number >= 1"),
    ],
)
def test_serve_refuses_a_number_that_would_leave_it_unusable(exit_2, nothing_served, tmp_path, args, option, words):
    err = exit_2("serve", "--port", "0", "--db", str(tmp_path / "x.db"), *args)
    assert f"argument {option}: " in err and words in err, err


def test_serve_refuses_a_header_timeout_from_the_environment(exit_2, nothing_served, tmp_path, monkeypatch):
    monkeypatch.setenv("WEBHOOK_SIM_HEADER_TIMEOUT", "nan")
    err = exit_2("serve", "--port", "0", "--db", str(tmp_path / "x.db"))
    assert "argument --header-timeout: nan is not a number of seconds from 0.1 to 3600" in err, err


def test_deliveries_refuses_an_interval_no_timer_takes(exit_2) -> None:
    err = exit_2("deliveries", "--follow", "--interval", "nan", "--server", "http://127.0.0.1:9")
    assert "argument --interval: nan is not a number of seconds" in err, err


# -- 4: docs PATH ---------------------------------------------------------------------------------------------


def test_docs_refuses_a_folder_or_a_file_in_place_of_a_folder(exit_2, tmp_path: Path) -> None:
    assert f"error: PATH: {str(tmp_path)!r} is a folder: expected a file to write" in exit_2("docs", str(tmp_path))
    assert f"error: PATH: {tmp_path} is a folder" in exit_2("docs", "--check", str(tmp_path))
    (tmp_path / "file").write_text("x")
    err = exit_2("docs", str(tmp_path / "file" / "events.md"))
    assert f"{tmp_path / 'file'} is not a folder" in err, err


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs Linux's /proc")
def test_docs_refuses_a_file_it_cannot_write(exit_2) -> None:
    assert "error: PATH: cannot write /proc/version" in exit_2("docs", "/proc/version")


def test_docs_outside_a_source_checkout_prints_the_page_or_asks_for_path(main, exit_2, tmp_path, monkeypatch):
    monkeypatch.setattr(docs, "SOURCE_ROOT", tmp_path / "site-packages")  # an installed package: no docs/ beside
    ran = main("docs")
    assert ran.code == 0 and ran.out == docs.render_catalog(), ran
    assert not (tmp_path / "site-packages").exists()
    assert "no page to check: give its PATH" in exit_2("docs", "--check")


def test_docs_help_shows_the_default_page(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # argparse wraps its help at the terminal's width, and breaks a path at a hyphen (`/home/ci/my-checkout/…`):
    # wide enough, the path is whole wherever the checkout is.
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        webhook_sim.main(["docs", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {docs.SOURCE_ROOT / 'docs' / 'events.md'}, the source checkout's page)" in help_text


# -- 7: --scenarios folders at start ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["serve", "--port", "0"], ["worker", "--db", "postgresql://sim@127.0.0.1:1/sim"]],
    ids=["serve", "worker"],
)
def test_serve_and_worker_refuse_a_scenario_folder_that_is_not_there(exit_2, nothing_served, tmp_path, command):
    if command[0] == "serve":
        command = [*command, "--db", str(tmp_path / "x.db")]
    err = exit_2(*command, "--scenarios", str(tmp_path / "nope"))
    assert f"error: --scenarios: {str(tmp_path / 'nope')!r}: no such folder" in err, err
    (tmp_path / "file.yaml").write_text("x")
    err = exit_2(*command, "--scenarios", str(tmp_path / "file.yaml"))
    assert "file.yaml': not a folder" in err, err


# -- 8: subscriptions, deliveries, resend ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "1001"])
def test_subscription_max_in_flight_is_checked_with_the_servers_bounds(exit_2, value) -> None:
    err = exit_2("subscriptions", "create", "http://127.0.0.1:9/hook", "--max-in-flight", value)
    assert f"argument --max-in-flight: {value} is out of range: expected a whole number from 1 to 1000" in err, err


def test_subscription_max_in_flight_at_the_bound_is_taken(main, server) -> None:
    ran = main(
        "subscriptions",
        "create",
        "http://127.0.0.1:9/hook",
        "--max-in-flight",
        "1000",
        "--json",
        "--server",
        server.url,
    )
    assert ran.code == 0 and '"max_in_flight": 1000' in ran.out, ran


@pytest.mark.parametrize("option", ["--run", "--subscription", "--type"])
def test_an_empty_delivery_filter_is_refused_naming_it(exit_2, option) -> None:
    err = exit_2("deliveries", option, "", "--server", "http://127.0.0.1:9")
    assert f"argument {option}: empty: give a value, or leave the option out" in err, err


def test_resend_given_an_event_id_says_so_and_where_delivery_ids_are(main, exit_2, server, receiver) -> None:
    ran = main("trigger", "credentials.created", "--server", server.url, "--target", receiver.url)
    assert ran.code == 0, ran
    found = re.search(r"^event (\S+) ", ran.out, re.M)
    assert found, ran
    event = found.group(1)
    err = exit_2("resend", event, "--server", server.url)
    assert f"error: no delivery {event}: it looks like an event's id" in err, err
    assert "a delivery's id (msg_…)" in err and "webhook-sim deliveries" in err


# -- paths the system cannot look at (too long for a file name): each option named, never a traceback ----------

LONG = "a" * 5000  # past NAME_MAX: stat() fails with ENAMETOOLONG, which Path.is_dir() lets through


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["asyncapi", "--output", LONG], "argument --output: cannot write 'aaaa"),
        (["run", "basistheory-chaos", "--target", "http://127.0.0.1:9/", "--junit", LONG], "argument --junit: cannot"),
        (["run", "basistheory-chaos", "--target", "http://127.0.0.1:9/", "--report", f"{LONG}/r.json"], "--report: c"),
        (["run", "basistheory-chaos", "--target", "http://127.0.0.1:9/", "--scenarios", LONG], "--scenarios: 'aaa"),
        (["scenarios", "--scenarios", LONG], "cannot be read (File name too long)"),
        (["docs", "--check", LONG], "error: PATH: cannot read"),
    ],
    ids=["asyncapi-output", "run-junit", "run-report", "run-scenarios", "scenarios-scenarios", "docs-check"],
)
def test_a_path_too_long_to_look_at_is_refused_naming_its_option(exit_2, args: list[str], said: str) -> None:
    err = exit_2(*args)
    assert said in err and "File name too long" in err and "Traceback" not in err, err[:500]
    assert len(err) < 6000 or args[0] in ("scenarios", "docs"), len(err)  # an option's value is echoed cut short
