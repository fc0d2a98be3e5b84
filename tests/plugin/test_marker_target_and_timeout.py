"""The marker's `target` and `timeout`: a target that is no URL nor fixture name, and a run that outlives its
timeout, are errors of the test in one line; a timeout of 0 checks once, as `run.wait(0)` does."""

import pytest

from tests.plugin.test_marker_option_types import INI

pytest_plugins = ["pytester"]
LIFECYCLE = '"syncfy-credential-lifecycle", '


def errors_of(pytester: pytest.Pytester, marked: dict[str, str], conftest: str | None = None) -> pytest.RunResult:
    """Run a file of one test per entry of `marked` (its name, and its marker's arguments after the scenario's
    name), each expected to be an error of the test."""
    pytester.makeini(INI)
    if conftest is not None:
        pytester.makeconftest(conftest)
    tests = (
        f"@pytest.mark.webhook_sim({LIFECYCLE}{given})\ndef test_{name}():\n    pass\n"
        for name, given in marked.items()
    )
    pytester.makepyfile("import pytest\n\n" + "\n".join(tests))
    result = pytester.runpytest("-q")
    result.assert_outcomes(errors=len(marked))
    return result


def test_a_target_that_is_no_http_url_nor_a_fixtures_name_is_an_error_naming_it(pytester: pytest.Pytester):
    result = errors_of(pytester, {"no_scheme": 'target="127.0.0.1:9000/hook"', "not_http": 'target="ftp://x"'})
    kind = "target must be 'receiver', an http(s)://*URL or a fixture's name"
    result.stdout.fnmatch_lines(
        [
            f"@pytest.mark.webhook_sim: {kind}, got '127.0.0.1:9000/hook': did you mean 'http://127.0.0.1:9000/hook'?",
            f"@pytest.mark.webhook_sim: {kind}, got 'ftp://x'",
        ],
        consecutive=False,
    )
    for inside in ("*not found*", "*Traceback*", "*Error: *"):
        result.stdout.no_fnmatch_line(inside)


def test_a_target_naming_no_fixture_is_one_line_and_a_fixtures_own_missing_fixture_is_pytests_account(
    pytester: pytest.Pytester,
):
    conftest = """
        import pytest

        @pytest.fixture
        def consumer_url(no_such_database):
            return "http://127.0.0.1:9/hook"
    """
    marked = {"misspelt": 'target="no_such_fixture"', "broken_fixture": 'target="consumer_url"'}
    result = errors_of(pytester, marked, conftest)
    result.stdout.fnmatch_lines(
        ["@pytest.mark.webhook_sim: target='no_such_fixture' names no fixture, and is no http:// or https:// URL"]
    )
    result.stdout.no_fnmatch_line("*fixture 'no_such_fixture' not found*")
    # The line alone: failed inside the lookup's `except`, the lookup's error came first, chained.
    result.stdout.no_fnmatch_line("*('no_such_fixture', <SubRequest*")
    result.stdout.no_fnmatch_line("*During handling of the above exception*")
    # The target's own fixture asks for one that is missing: pytest says which, as for any fixture.
    result.stdout.fnmatch_lines(["*fixture 'no_such_database' not found*"])


def test_a_run_that_outlives_its_timeout_is_one_line_and_a_timeout_of_0_checks_once(pytester: pytest.Pytester):
    conftest = """
        import math

        import pytest

        @pytest.fixture
        def silent(make_webhook_receiver):
            return make_webhook_receiver(delay=math.inf)  # answers nothing: the run never finishes
    """
    marked = {"checked_once": 'target="silent", timeout=0', "timed_out": 'target="silent", timeout=0.5'}
    result = errors_of(pytester, marked, conftest)
    result.stdout.fnmatch_lines(
        [
            # pending or running: checked once at once, the run may not have begun to play yet
            "@pytest.mark.webhook_sim: run run_* (syncfy-credential-lifecycle) is still * after 0s; *",
            "@pytest.mark.webhook_sim: run run_* (syncfy-credential-lifecycle) is still * after 0.5s; *",
        ],
        consecutive=False,
    )
    for inside in ("*must be*", "*Traceback*", "*TimeoutError*", "*local.py*", "*During handling*"):
        result.stdout.no_fnmatch_line(inside)
