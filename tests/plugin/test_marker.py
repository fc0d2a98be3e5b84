"""The marker, its options and errors, the session fixture and the ini option, in projects run by pytester."""

import pytest

from simulator.testing.plugin import MARKER_OPTIONS

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers
filterwarnings = error
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    return pytester


def test_a_marked_test_runs_its_scenario_against_the_receiver_first(project: pytest.Pytester):
    project.makepyfile("""
        import pytest

        @pytest.mark.webhook_sim("syncfy-credential-lifecycle", seed=5, params={"refreshes": 1})
        def test_sync(webhook_receiver, webhook_sim_run):
            assert webhook_sim_run.status == "completed" and webhook_sim_run.seed == 5
            assert webhook_sim_run.counts == {"succeeded": 5}
            assert len(webhook_receiver.requests) == 5
            assert all(r.verified for r in webhook_receiver.requests)

        @pytest.mark.webhook_sim(scenario="basistheory-token-lifecycle", seed=1, faults={"bad_signature": 1.0})
        async def test_async_without_asking_for_the_run(webhook_receiver, webhook_sim):
            # The run happened before the body; the receiver checked each signature with the public key.
            assert webhook_receiver.requests
            assert not any(r.verified for r in webhook_receiver.requests)
            [run] = list(webhook_sim.client.iter_runs())
            assert run.status == "completed" and run.faults == {"bad_signature": 1.0}
    """)
    project.runpytest("-q").assert_outcomes(passed=2)


def test_the_target_may_be_a_url_or_a_fixture(project: pytest.Pytester):
    project.makeconftest("""
        import pytest

        @pytest.fixture
        def other(make_webhook_receiver):
            return make_webhook_receiver(status=202)

        @pytest.fixture
        def other_url(other):
            return other.url
    """)
    project.makepyfile("""
        import pytest

        @pytest.mark.webhook_sim("syncfy-credential-lifecycle", params={"refreshes": 0}, target="other")
        def test_fixture_with_url(other, webhook_receiver, webhook_sim_run):
            assert len(other.requests) == webhook_sim_run.events == 4
            assert other.requests[0].status == 202 and webhook_receiver.requests == []

        @pytest.mark.webhook_sim("syncfy-credential-lifecycle", params={"refreshes": 0}, target="other_url")
        def test_fixture_giving_a_url(other, webhook_sim_run):
            assert len(other.requests) == 4
    """)
    project.runpytest("-q").assert_outcomes(passed=2)


def test_marker_mistakes_are_reported_as_errors(project: pytest.Pytester):
    project.makepyfile("""
        import pytest

        @pytest.mark.webhook_sim("syncfy-credential-lifecycle", sped=0)
        def test_misspelt():
            pass

        @pytest.mark.webhook_sim(seed=1)
        def test_no_scenario():
            pass

        def test_run_without_marker(webhook_sim_run):
            pass

        @pytest.mark.webhook_sim("no-such-scenario")
        def test_unknown_scenario():
            pass

        @pytest.mark.webhook_sim("syncfy-credential-lifecycle", timeout=-1)
        def test_negative_timeout():
            pass
    """)
    result = project.runpytest("-q")
    result.assert_outcomes(errors=5)
    result.stdout.fnmatch_lines(
        [
            "*unknown options sped*",
            "*no scenario*",
            "*needs the test to be marked*",
            "@pytest.mark.webhook_sim: scenario: unknown scenario 'no-such-scenario'; known: *",
            "*timeout must be a finite number of seconds, 0 or more, got -1*",
        ]
    )


def test_the_marker_is_registered(project: pytest.Pytester):
    result = project.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.webhook_sim(scenario, *"])
    helped = next(line for line in result.stdout.lines if line.startswith("@pytest.mark.webhook_sim("))
    assert all(f"{option}=" in helped for option in MARKER_OPTIONS - {"scenario"}), helped


def test_the_session_simulator_is_shared_and_the_ini_adds_scenario_folders(project: pytest.Pytester):
    project.makeini(INI + "webhook_sim_scenarios = my-scenarios\n")
    (project.path / "my-scenarios").mkdir()
    (project.path / "my-scenarios" / "one.yaml").write_text(
        "name: project-one-event\nprovider: syncfy\ndescription: One credential.\n"
        "steps:\n  - emit: credentials.created\n"
    )
    project.makepyfile("""
        seen = []

        def test_first(webhook_sim_session, webhook_receiver):
            seen.append(webhook_sim_session)
            run = webhook_sim_session.run("project-one-event", target=webhook_receiver.url).wait()
            assert run.status == "completed" and len(webhook_receiver.requests) == 1

        def test_second(webhook_sim_session, webhook_sim):
            assert seen == [webhook_sim_session]
            assert len(list(webhook_sim_session.client.iter_runs())) == 1
            assert webhook_sim.url != webhook_sim_session.url
            assert list(webhook_sim.client.iter_runs()) == []
    """)
    project.runpytest("-q").assert_outcomes(passed=2)


def test_the_run_plays_once_every_other_fixture_of_the_test_is_set_up(project: pytest.Pytester):
    """pytest sets a plugin's autouse fixtures up before a project's: the run played first, and the project's
    own `clean` fixture then wiped what it had delivered."""
    project.makeconftest("""
        import pytest

        SEEN = []

        @pytest.fixture(autouse=True)
        def clean(webhook_receiver):
            webhook_receiver.clear()
            SEEN.append("clean")

        @pytest.fixture
        def after_the_run(webhook_sim_run):
            SEEN.append("after the run")
            return webhook_sim_run.events
    """)
    project.makepyfile("""
        import pytest
        from conftest import SEEN

        @pytest.mark.webhook_sim("syncfy-credential-lifecycle", params={"refreshes": 0})
        def test_kept(webhook_receiver, webhook_sim_run):
            assert len(webhook_receiver.requests) == webhook_sim_run.events == 4

        @pytest.mark.webhook_sim("syncfy-credential-lifecycle", params={"refreshes": 0})
        def test_a_fixture_using_the_run_comes_after_it(webhook_receiver, after_the_run):
            assert after_the_run == 4 and len(webhook_receiver.requests) == 4
            assert SEEN[-2:] == ["clean", "after the run"]
    """)
    project.runpytest("-q").assert_outcomes(passed=2)


def test_a_marker_scenario_file_is_read_from_the_configurations_folder(project: pytest.Pytester):
    """It was read from the working directory: a test run from an IDE, or from a monorepo's root, looked for
    another file."""
    (project.path / "scenarios").mkdir()
    (project.path / "scenarios" / "mini.yaml").write_text(
        "name: marker-mini\nprovider: syncfy\ndescription: one event\nsteps:\n  - emit: credentials.created\n"
    )
    tests = project.mkdir("tests")
    (tests / "test_mini.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.webhook_sim('scenarios/mini.yaml')\n"
        "def test_mini(webhook_receiver, webhook_sim_run):\n"
        "    assert webhook_sim_run.scenario == 'marker-mini' and len(webhook_receiver.requests) == 1\n"
    )
    elsewhere = project.mkdir("elsewhere")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(elsewhere)
        result = project.runpytest("-q", str(tests / "test_mini.py"), "-c", str(project.path / "tox.ini"))
    result.assert_outcomes(passed=1)
