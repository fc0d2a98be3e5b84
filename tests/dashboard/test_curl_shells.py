"""Copy as curl, pasted into the shells users have: bash, POSIX sh and fish each send the very bytes and headers of
the attempt, and a header value a stranger chose (a subscription the Syncfy twin made, say) runs nothing. fish reads
`\\'` and `\\\\` inside single quotes as escapes: a body's JSON escapes came out changed, and `a\\'; cmd; echo \\'`
ran `cmd`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from simulator.testing.receiver import Receiver
from tests.dashboard.conftest import Page
from tests.dashboard.test_detail import only_delivery
from tests.dashboard.test_list import SECRET

SHELLS = ["bash", "sh", "fish"]
EVIL = 'a\\b"c\nd'


@pytest.mark.parametrize("shell", SHELLS)
def test_the_copied_command_sends_the_same_request_in_each_shell(
    page: Page, webhook_receiver: Receiver, tmp_path: Path, shell: str
) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell} on this machine (.ci/run installs it: apt-get install {shell})")
    planted = tmp_path / "planted"
    hostile = f"a\\'; touch {planted}; echo \\'"
    with page.server.client() as api:
        sub = {"url": webhook_receiver.url, "signing": "standard", "secret": SECRET, "headers": {"X-Note": hostile}}
        assert api.post("/subscriptions", json=sub).status_code == 201
        # A body with JSON escapes in it: a backslash, a quote and a newline in a value.
        event = {"type": "basistheory:token.created", "overrides": {"data.token.metadata": {"note": EVIL}}}
        made = api.post("/events", json=event)
        assert made.status_code == 202, made.text
    [original] = webhook_receiver.wait_for(1)
    assert b"\\\\" in original.body and b'\\"' in original.body
    page.open(f"/deliveries/{only_delivery(page)['id']}")
    page.one(".copy-curl").click()
    command = page.wait(lambda: page.one("pre.curl").get_attribute("textContent"), what="the curl command")
    done = subprocess.run([shell, "-c", command + " --silent"], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert not planted.exists()
    [_, again] = webhook_receiver.wait_for(2)
    assert again.body == original.body
    assert again.headers["x-note"] == hostile
    assert again.headers["webhook-signature"] == original.headers["webhook-signature"]
