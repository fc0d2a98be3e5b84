"""A marker naming a scenario the simulator does not have (a misspelt name, a file that is not there or is no
scenario) is an error of the test in one line naming the `scenario` option, the name and the nearest known names
(or every one): it was the API's 404 raised as an `ApiError` under a page of traceback."""

import pytest

from tests.plugin.test_marker_option_types import INI

pytest_plugins = ["pytester"]

INSIDE = ("*Traceback*", "*During handling*", "*ApiError*", "*NotFound*", "*ScenarioInvalid*", "*plugin.py*")


def test_an_unknown_scenario_is_one_line_naming_it_and_the_known_names(pytester: pytest.Pytester):
    pytester.makeini(INI)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.webhook_sim(scenario="nope")
        def test_unknown():
            pass

        @pytest.mark.webhook_sim("syncfy-credential-lifecyle")
        def test_misspelt(webhook_sim_run):
            pass
    """)
    result = pytester.runpytest("-q")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.webhook_sim: scenario: unknown scenario 'nope'; known: *syncfy-credential-lifecycle*",
            "@pytest.mark.webhook_sim: scenario: unknown scenario 'syncfy-credential-lifecyle'; "
            "did you mean syncfy-credential-lifecycle*",
        ],
        consecutive=False,
    )
    for inside in INSIDE:
        result.stdout.no_fnmatch_line(inside)


def test_a_scenario_file_not_there_or_not_a_scenario_is_one_line_naming_it(pytester: pytest.Pytester):
    pytester.makeini(INI)
    pytester.makefile(".yaml", broken="name: broken\nprovider: syncfy\nsteps: [1\n")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.webhook_sim(scenario="missing.yaml")
        def test_missing():
            pass

        @pytest.mark.webhook_sim(scenario="broken.yaml")
        def test_broken():
            pass
    """)
    result = pytester.runpytest("-q")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.webhook_sim: scenario: no such scenario file: *missing.yaml",
            "@pytest.mark.webhook_sim: scenario: *broken.yaml is not a valid scenario: *broken.yaml:3: invalid YAML*",
        ],
        consecutive=False,
    )
    for inside in INSIDE:
        result.stdout.no_fnmatch_line(inside)
