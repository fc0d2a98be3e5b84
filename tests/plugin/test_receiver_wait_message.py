"""A consumer's wait for requests that do not all come fails within its timeout, naming what did arrive."""

import pytest

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def test_a_wait_for_requests_that_never_come_says_what_arrived(pytester: pytest.Pytester):
    pytester.makeini(INI)
    pytester.makepyfile("""
        import time

        from simulator.testing import signing_secret

        def test_seven_of_eight(webhook_sim, make_webhook_receiver):
            receiver = make_webhook_receiver(verify=("syncfy", signing_secret("syncfy")))  # not the sender's
            ids = [webhook_sim.emit("syncfy:credentials.updated", target=receiver.url).id for _ in range(7)]
            assert len(receiver.wait_for(7)) == 7 and sorted(receiver.event_ids()) == sorted(ids)
            print("IDS", *receiver.event_ids())  # in the order they arrived
            started = time.monotonic()
            try:
                receiver.wait_for(8, timeout=0.5)
            finally:
                print("WAITED", round(time.monotonic() - started, 1))
    """)
    result = pytester.runpytest("-q", "-rA")
    result.assert_outcomes(failed=1)
    ids = next(line for line in result.outlines if line.startswith("IDS ")).split()[1:]
    waited = next(line for line in result.outlines if line.startswith("WAITED "))
    assert float(waited.split()[1]) < 5
    shown = "; ".join(f"/hook answered 204, not verified (*), events {eid}" for eid in ids[2:])
    result.stdout.fnmatch_lines(
        [f"E * AssertionError: expected 8 requests within 0.5s, got 7: 2 earlier, then {shown}"]
    )
