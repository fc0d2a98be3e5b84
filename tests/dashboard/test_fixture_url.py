"""The `webhook_sim` and `webhook_sim_session` fixtures name their dashboard in a failing test's report, and only
there."""

import pytest

pytest_plugins = ["pytester"]


def test_a_failing_test_names_the_dashboard(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n")
    pytester.makepyfile("""
        import httpx

        def test_fails(webhook_sim):
            assert httpx.get(webhook_sim.url + "/").headers["content-type"].startswith("text/html")
            assert False, "on purpose"

        def test_passes(webhook_sim):
            pass

        def test_fails_on_the_session_one(webhook_sim_session):
            assert False, "on purpose"

        def test_passes_on_the_session_one(webhook_sim_session):
            pass
    """)
    # The other plugins installed here are not under test; loading them took half of the subprocess's time.
    others = [
        arg
        for name in ("schemathesis", "hypothesispytest", "faker", "typeguard", "anyio")
        for arg in ("-p", f"no:{name}")
    ]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *others)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        ["*Captured webhook-sim setup*", "dashboard: http://127.0.0.1:*/ (while the test runs)"]
    )
    result.stdout.fnmatch_lines(["dashboard: http://127.0.0.1:*/ (while the session runs)"])
    assert result.stdout.str().count("dashboard: http://") == 2
