"""The plugin as a consumer's project uses it: its own test suite, run by pytester, sync and async tests."""

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONSUMER = Path(__file__).parent / "consumer"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(CONSUMER, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return pytester


def test_the_consumers_suite_passes(project: pytest.Pytester):
    result = project.runpytest("-q")
    result.assert_outcomes(passed=4)


def test_a_consumer_that_does_not_dedupe_is_caught(project: pytest.Pytester):
    app = project.path / "consumer_app.py"
    source = app.read_text()
    assert "DEDUPE = True" in source
    app.write_text(source.replace("DEDUPE = True", "DEDUPE = False"))
    result = project.runpytest("-q")
    # The duplicate fault, the marker's duplicate fault and a redelivery each make it process an event twice;
    # the Basis Theory test has no duplicates and still passes.
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_standard_webhooks_events_are_processed_once*",
            "*test_syncfy_duplicates_are_processed_once*",
            "*test_a_redelivered_event_is_processed_once*",
        ]
    )
