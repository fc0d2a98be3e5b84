"""Having the plugin installed costs a test run that does not use it nothing: loading it imports none of the
simulator (the client, the catalog, the servers) until a fixture is used."""

import pytest

pytest_plugins = ["pytester"]


def test_loading_the_plugin_imports_none_of_the_simulator(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n")
    pytester.makepyfile("""
        import sys

        def test_unrelated(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("webhook_sim")
            assert "simulator.testing.plugin" in sys.modules
            loaded = sorted(m for m in sys.modules if m.startswith(("simulator.", "httpx", "uvicorn", "starlette")))
            assert loaded == ["simulator.testing", "simulator.testing.plugin"]

        def test_the_fixtures_import_it_when_used(webhook_sim):
            from simulator.testing import WebhookSim

            assert isinstance(webhook_sim, WebhookSim) and "simulator.client" in sys.modules
    """)
    # A process of its own: this one has the simulator imported already.
    pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider").assert_outcomes(passed=2)
