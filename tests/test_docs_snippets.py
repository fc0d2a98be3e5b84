"""Every fenced snippet of the README and of docs/, run as a reader would paste it.

Each snippet is decided below: run (shell against a real server and receiver, Python in a fresh pytest project,
scenario files through `webhook-sim validate`, JSON parsed), or skipped with the reason, which `-rs` lists. A
snippet nobody decided fails `test_every_snippet_is_run_or_skipped_for_a_reason`, so a new one cannot go unseen.

What the quick start is given that a reader's machine has already: free ports instead of 8080 and 9000 (others
may be in use here), and `.venv/bin/webhook-sim serve --port P --db <temporary folder>` for `scripts/serve` (which
also runs `pip install` and keeps its database in `./data`).
"""

from __future__ import annotations

import configparser
import json
import os
import queue
import re
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from simulator.scenarios import builtin_dir
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually
from tests.ports import free_port, refused_port

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PAGES = ["README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)
# A line of `listen` (not of `deliveries`, whose second column is an id). Output of the session's commands shares
# the receiver's stdout: a line may follow curl's answer, which ends without a newline.
LISTEN_LINE = re.compile(r"\d\d:\d\d:\d\d\.\d{3}  (?:syncfy|basistheory|\?) .*")
TIMEOUT = 600


@dataclass(frozen=True)
class Snippet:
    page: str
    line: int
    lang: str
    code: str
    heading: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def read_snippets() -> list[Snippet]:
    found = []
    for page in PAGES:
        text = (ROOT / page).read_text("utf-8")
        # Headings are looked for outside the blocks: a `# comment` in a shell block is not one.
        outside = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
        for m in FENCE.finditer(text):
            headings = HEADING.findall(outside[: m.start()])
            line = text.count("\n", 0, m.start()) + 1
            found.append(Snippet(page, line, m.group(1), m.group(2), headings[-1] if headings else ""))
    return found


SNIPPETS = read_snippets()

GITHUB = "a GitHub Actions workflow: it runs on GitHub's runners (checkout, setup-python, docker steps)"


def decide(s: Snippet) -> tuple[str, str]:
    """What is done with a snippet: (action, why it is skipped, for `skip`)."""
    if s.lang == "text":
        return "skip", "output, shown for reference"
    if s.page == "docs/events.md" or s.lang == "json":
        return (
            ("json", "") if _parses(s.code) or "…" not in s.code else ("skip", "an excerpt: … marks what is left out")
        )
    if s.page == "README.md":
        return _readme(s)
    if s.lang == "yaml":
        return _yaml(s)
    if s.lang == "python":
        return _python(s)
    if s.lang == "ini":
        return "ini", ""
    if s.page == "docs/ci.md" and s.lang == "bash":
        return "bash", ""
    if s.page == "docs/scenarios.md" and s.lang == "bash":
        return "skip", "my-scenarios/checkout.yaml stands for a scenario file of yours"
    if s.page == "docs/faults.md" and "syncfy-chaos" in s.code:
        return "skip", "needs your consumer on localhost:8000 and its Syncfy secret"
    if s.page == "docs/faults.md" and "--target URL" in s.code:
        return "skip", "URL stands for your consumer's"
    if s.lang == "bash" and "curl -N" in s.code:
        return "skip", "follows a server's event stream until stopped"
    return "undecided", ""


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _readme(s: Snippet) -> tuple[str, str]:
    if s.heading == "Quick start" and s.lang == "bash":
        return "quickstart", ""
    if s.heading.startswith("The provider's API") and s.lang == "bash":
        return "skip", "placeholders (<id_credential>, …) stand for the ids a webhook names"
    if s.heading.startswith("The provider's API") and s.lang == "python":
        return "quickstart", ""
    if s.lang == "console":
        return "console", ""
    if s.lang == "yaml":
        return _yaml(s)
    if s.lang == "python" and "def test_" in s.code:
        return "pytester", ""
    if s.code.startswith("scripts/serve "):
        return "skip", "installs .venv with pip and runs a lasting server or the whole suite (the quick start serves)"
    if s.heading == "Running at scale" and "docker compose" in s.code:
        return "skip", "needs a container engine (checked as a file by tests/scale/test_compose.py)"
    if s.heading == "Running at scale":
        return "skip", "lasting servers and workers against a PostgreSQL of yours (tests/scale/ starts the same)"
    if s.heading == "Benchmarks":
        return "skip", "benchmarks take minutes of the whole machine; see benchmarks/README.md"
    return "undecided", ""


def _yaml(s: Snippet) -> tuple[str, str]:
    if re.search(r"runs-on:|uses: |^\s*- run:|docker ", s.code, re.M):
        return "skip", GITHUB
    if all(re.search(rf"^{key}:", s.code, re.M) for key in ("name", "provider", "steps")):
        return "scenario", ""
    if s.code.startswith("# yaml-language-server"):
        return "skip", "an editor directive, not a scenario"
    return "skip", "a fragment of a scenario file; the complete examples are validated"


def _python(s: Snippet) -> tuple[str, str]:
    if s.heading == "The marker":
        return "skip", "an outline: `{...}` stands for your values"
    if "def test_" in s.code:
        return "pytester", ""
    if s.page == "docs/verifying.md":
        return "definitions", ""
    if s.heading == "Without pytest":
        return "script", ""
    return "undecided", ""


def test_every_snippet_is_run_or_skipped_for_a_reason():
    undecided = [str(s) for s in SNIPPETS if decide(s)[0] == "undecided"]
    assert undecided == [], "decide what these snippets are (run them, or skip them saying why)"
    assert sum(decide(s)[0] == "quickstart" for s in SNIPPETS) >= 2


OTHERS = [s for s in SNIPPETS if decide(s)[0] != "quickstart"]


@pytest.mark.parametrize("snippet", OTHERS, ids=str)
def test_snippet(snippet: Snippet, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    action, why = decide(snippet)
    if action == "skip":
        pytest.skip(f"{snippet}: {why}")
    if action == "pytester":
        run_pytester(snippet, request.getfixturevalue("pytester"))
    else:
        RUNNERS[action](snippet, tmp_path)


# -- runners ------------------------------------------------------------------------------------------------


def run_json(s: Snippet, _tmp: Path) -> None:
    data = json.loads(s.code)
    if s.page == "docs/ci.md" and "failures" in data:  # the report sample: the fields a real report has
        real = real_report(_tmp)
        assert list(data) == list(real)
        assert list(data["failures"][0]) == list(real["failures"][0])


def real_report(tmp: Path) -> dict:
    path = tmp / "report.json"
    target = f"http://127.0.0.1:{refused_port()}/hooks"
    args = ["run", "syncfy-credential-lifecycle", "--target", target, "--speed", "0", "--max-attempts", "1"]
    done = subprocess.run(
        [str(BIN / "webhook-sim"), *args, "--report", str(path)], capture_output=True, timeout=TIMEOUT
    )
    assert done.returncode == 1, done.stderr
    return json.loads(path.read_text())


def run_scenario(s: Snippet, tmp: Path) -> None:
    # An example is checked as the reader's file: a built-in's name, which `validate` refuses as the server would,
    # is taken as a name of its own (the documented examples take one already).
    code = s.code
    builtins = {p.stem for p in builtin_dir().glob("*.yaml")}
    first, _, rest = code.partition("\n")
    if first.startswith("name: ") and first.removeprefix("name: ").strip() in builtins:
        code = f"name: example-{first.removeprefix('name: ').strip()}\n{rest}"
    path = tmp / "snippet.yaml"
    path.write_text(code)
    done = subprocess.run(
        [str(BIN / "webhook-sim"), "validate", str(path)], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1 file(s) valid\n"


def run_ini(s: Snippet, _tmp: Path) -> None:
    config = configparser.ConfigParser()
    config.read_string(s.code)  # the examples' projects are configured with it (see run_pytester)
    assert config.sections() == ["pytest"]


def run_bash(s: Snippet, tmp: Path) -> None:
    done = shell(s.code, cwd=tmp)
    assert done.returncode == 0, done.stdout + done.stderr
    if "bt-webhooks.pub.pem" in s.code:
        assert (tmp / "bt-webhooks.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")


def shell(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`script` in bash with the project's .venv/bin first on PATH, as after `source .venv/bin/activate`."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PATH": path, **env},
    )


def run_console(s: Snippet, tmp: Path) -> None:
    """`$ command` lines, each followed by what it prints (`…` stands for anything)."""
    for command, expected in re.findall(r"^\$ (.+)\n((?:(?!\$ ).*\n?)*)", s.code, re.M):
        done = shell(command, cwd=tmp)
        pattern = ".*".join(re.escape(part) for part in expected.strip().split("…"))
        assert re.fullmatch(pattern, (done.stdout + done.stderr).strip(), re.S), (command, done)


def run_definitions(s: Snippet, _tmp: Path) -> None:
    namespace: dict = {}
    exec(compile(s.code, str(s), "exec"), namespace)  # tests/plugin/test_docs_examples.py uses them on deliveries
    assert any(name.startswith("verify") and callable(value) for name, value in namespace.items())


def run_script(s: Snippet, tmp: Path) -> None:
    """A script against a local URL: that URL is a real receiver here (its port rewritten)."""
    with Receiver() as receiver:
        code = re.sub(r"127\.0\.0\.1:8000", f"127.0.0.1:{receiver.port}", s.code)
        done = subprocess.run(
            [str(BIN / "python"), "-c", code], cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert done.returncode == 0, done.stderr
        assert "status='completed'" in done.stdout
        assert receiver.requests


CONSUMER = ROOT / "tests" / "plugin" / "consumer" / "consumer_app.py"
MYSERVICE = '''
"""The service the example tests: the consumer of tests/plugin/consumer, behind `create_app`."""
from consumer_app import Consumer, Settings

_service = Consumer()


def create_app(basistheory_public_key, syncfy_secret):
    global _service
    _service = Consumer(Settings(syncfy_secret=syncfy_secret, basistheory_public_key=basistheory_public_key))
    return _service.app()


def processed_events():
    return list(_service.processed)
'''


def run_pytester(s: Snippet, pytester: pytest.Pytester) -> None:
    """The example as the test module of a fresh project, with the configuration the page gives."""
    ini = [x for x in SNIPPETS if x.page == s.page and x.heading == s.heading and x.lang == "ini"]
    options = ini[0].code.split("\n", 1)[1] if ini else ""
    pytester.makeini(f"[pytest]\n{options}asyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n")
    if "myservice" in s.code:  # "your code": a real consumer stands in for it
        pytester.makepyfile(consumer_app=CONSUMER.read_text(), myservice=MYSERVICE)
    pytester.makepyfile(test_example=s.code)
    tests = len(re.findall(r"^(?:async )?def test_", s.code, re.M))
    pytester.runpytest("-q", "-p", "no:cacheprovider").assert_outcomes(passed=tests)


RUNNERS = {
    "json": run_json,
    "scenario": run_scenario,
    "ini": run_ini,
    "bash": run_bash,
    "console": run_console,
    "definitions": run_definitions,
    "script": run_script,
}


# -- the quick start ----------------------------------------------------------------------------------------


def quick_start_script(api: int, listen: int, db: Path) -> str:
    """The quick start's blocks as one shell session; its Python (the Basis Theory SDK) runs in it too."""
    parts = []
    for s in SNIPPETS:
        if decide(s)[0] != "quickstart":
            continue
        code = s.code.replace("8080", str(api)).replace("9000", str(listen))
        code = code.replace("scripts/serve", f".venv/bin/webhook-sim serve --port {api} --db {db}")
        parts.append(code if s.lang == "bash" else f".venv/bin/python - <<'PYTHON'\n{code}PYTHON\n")
    return "\n".join(parts)


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def test_the_quick_start_works_when_pasted(tmp_path: Path) -> None:
    api, listen = free_port(), free_port()
    script = quick_start_script(api, listen, tmp_path / "quickstart.db")
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its background jobs (the server, the receiver) are stopped with it
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    out: list[str] = []
    try:
        assert proc.wait(timeout=TIMEOUT) == 0, "".join(out) + drain(lines, out)
        drain(lines, out)
        with httpx.Client(base_url=f"http://127.0.0.1:{api}", timeout=30) as server:
            eventually(lambda: settled(server), timeout=TIMEOUT, what="the server's deliveries")
            reached = sum(
                1
                for d in server.get("/deliveries", params={"limit": 500}).json()["data"]
                for a in server.get(f"/deliveries/{d['id']}").json()["attempt_log"]
                if a["status_code"] is not None
            )
        attempts = int(re.search(r"^attempts: (\d+)$", "".join(out), re.M).group(1))  # the in-process run's
        triggered = "".join(out).count("succeeded after 1 attempt, HTTP 204")
        expected = reached + attempts + triggered

        def heard() -> list[str]:
            return LISTEN_LINE.findall(drain(lines, out))

        eventually(lambda: len(heard()) >= expected, timeout=TIMEOUT, what=f"{expected} lines from listen")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            drain(lines, out, timeout=30)
            proc.stdout.close()
    listened = LISTEN_LINE.findall("".join(out))
    assert len(listened) == expected, "".join(out)
    assert all(" ✓ " in line for line in listened), "".join(out)
    assert {line.split()[1] for line in listened} == {"syncfy", "basistheory"}  # the SDK's token events too
    assert triggered == 1 and "\nstatus: completed\n" in "".join(out)


def settled(server: httpx.Client) -> bool:
    found = server.get("/deliveries", params={"limit": 500}).json()["data"]
    return bool(found) and all(d["status"] in ("succeeded", "dead", "dropped") for d in found)


def drain(lines: queue.Queue, into: list[str], timeout: float = 0.0) -> str:
    """Move what `lines` holds into `into` (waiting up to `timeout` for the end); returns the text so far."""
    while True:
        try:
            line = lines.get(timeout=timeout) if timeout else lines.get_nowait()
        except queue.Empty:
            return "".join(into)
        if line is None:
            lines.put(None)
            return "".join(into)
        into.append(line)
