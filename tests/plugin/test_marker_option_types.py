"""A marker option of the wrong type, or of a value the API refuses, is an error naming the option, not a
traceback from inside the plugin."""

import pytest

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers
filterwarnings = error
"""

WRONG = [
    ("params=[1, 2]", "params must be a dict, got [[]1, 2[]]"),
    ("faults='duplicate'", "faults must be a dict, got 'duplicate'"),
    ("target=123", "target must be 'receiver', an http(s)://*, got 123"),
    ("seed='abc'", "seed must be an integer, got 'abc'"),
    ("seed=True", "seed must be an integer, got True"),
    ("speed='fast'", "speed must be a finite number, got 'fast'"),
    ("speed=float('nan')", "speed must be a finite number, got nan"),
    ("speed=float('inf')", "speed must be a finite number, got inf"),
    ("timeout='10'", "timeout must be a finite number of seconds, 0 or more, got '10'"),
    ("timeout=float('inf')", "timeout must be a finite number of seconds, 0 or more, got inf"),
    ("max_in_flight=1.5", "max_in_flight must be an integer, got 1.5"),
    ("start_time=12", "start_time must be an RFC 3339 time or a datetime, got 12"),
    ("signing='bogus'", "signing must be one of standard, basistheory, syncfy, none, got 'bogus'"),
    ("max_in_flight=0", "max_in_flight must be 1 or more and at most 1000, got 0"),
]


def test_a_marker_option_of_the_wrong_type_is_an_error_naming_it(pytester: pytest.Pytester):
    pytester.makeini(INI)
    tests = "\n".join(
        f"@pytest.mark.webhook_sim('syncfy-credential-lifecycle', {option})\ndef test_{i}():\n    pass\n"
        for i, (option, _) in enumerate(WRONG)
    )
    pytester.makepyfile("import pytest\n\n" + tests)
    result = pytester.runpytest("-q")
    result.assert_outcomes(errors=len(WRONG))
    result.stdout.fnmatch_lines([f"@pytest.mark.webhook_sim: {said}" for _, said in WRONG], consecutive=False)
    for inside in ("*Error: *", "*Traceback*", "*During handling*", "*fixture '123' not found*"):
        result.stdout.no_fnmatch_line(inside)


def test_options_of_the_documented_types_are_taken(pytester: pytest.Pytester):
    pytester.makeini(INI)
    pytester.makepyfile("""
        from datetime import UTC, datetime

        import pytest

        @pytest.mark.webhook_sim(
            scenario="syncfy-credential-lifecycle",
            seed=None,
            params={"refreshes": 0},
            faults=None,
            speed=0,
            start_time=datetime(2025, 1, 1, tzinfo=UTC),
            max_in_flight=2,
            timeout=30.5,
        )
        def test_typed(webhook_receiver, webhook_sim_run):
            assert webhook_sim_run.status == "completed" and len(webhook_receiver.requests) == 4
    """)
    pytester.runpytest("-q").assert_outcomes(passed=1)
