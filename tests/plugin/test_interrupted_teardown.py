"""A Ctrl-C while the `webhook_sim` fixture closes its simulator: the simulator is closed all the same (its SQLite
files deleted, its tasks ended), then the interrupt goes on. Cut short, the files stayed in the temporary folder
and the loop's tasks were destroyed pending."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

INTERRUPTED = """
import os, signal, threading

import pytest


@pytest.fixture
def interrupt_at_teardown(webhook_sim):
    yield
    # Torn down just before `webhook_sim` (which it uses): the interrupt comes while the simulator closes.
    threading.Timer(float(os.environ["INTERRUPT_AFTER"]), os.kill, (os.getpid(), signal.SIGINT)).start()


def test_ctrl_c_while_the_simulator_closes(interrupt_at_teardown, webhook_sim):
    assert webhook_sim.url.startswith("http://127.0.0.1:")
"""


@pytest.mark.parametrize("after", [0.0, 0.02, 0.1])
def test_a_ctrl_c_during_the_fixtures_close_leaves_no_store_behind(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: float
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool))
    monkeypatch.setenv("INTERRUPT_AFTER", str(after))
    pytester.makepyfile(INTERRUPTED)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", timeout=60)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, output
    assert sorted(path.name for path in spool.iterdir()) == [], output
    assert "Task was destroyed but it is pending" not in output
