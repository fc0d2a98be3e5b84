"""A run's page in a real Chromium: a run that is not there is said once; while a run plays the page keeps up,
one read at a time, reading the counts alone as deliveries change; a timeline cut at 2,000 events says how many
it leaves out."""

from __future__ import annotations

from typing import Any

from simulator.testing.receiver import Receiver
from tests.dashboard.conftest import Page

# The page's calls, as it makes them: each GET's path and query, whether its answer has been read, and how many
# calls to each path were under way at once at most. `window.slow` delays the calls to one path, so a read takes
# longer than the changes it follows come in, as on a busy machine.
RECORD = """
window.calls = [];
window.most = {};
const underway = {};
const real = window.fetch;
window.fetch = async (input, init) => {
  const url = new URL(String(input), location.href);
  const call = { path: url.pathname, query: url.search, read: false };
  if (call.path === "/stream") return real(input, init);
  window.calls.push(call);
  underway[call.path] = (underway[call.path] || 0) + 1;
  window.most[call.path] = Math.max(window.most[call.path] || 0, underway[call.path]);
  const done = () => {
    if (!call.read) underway[call.path] -= 1;
    call.read = true;
  };
  try {
    if (window.slow?.path === call.path) await new Promise((resolve) => setTimeout(resolve, window.slow.ms));
    const response = await real(input, init);
    const json = response.json.bind(response);
    response.json = () => json().finally(done);
    const text = response.text.bind(response); // the page reads an answer's text, then parses it
    response.text = () => text().finally(done);
    return response;
  } catch (error) {
    done();
    throw error;
  }
};
"""


def fact(page: Page, name: str) -> str:
    """One line of the facts at the top of a run's page."""
    return str(page.one(f'table.facts tr[data-name="{name}"] td').get_attribute("textContent"))


def calls(page: Page, path: str) -> list[dict[str, Any]]:
    return [c for c in page.js("return window.calls") if c["path"] == path]


def test_a_run_that_is_not_there_is_said_once(page: Page) -> None:
    page.open("/")
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
    page.js(RECORD)
    page.js("location.hash = '#/runs/nope'")
    page.wait(lambda: "Cannot read run nope." in page.one("#view").text, what="the run's page, saying so")
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the run's stream")
    # The stream asks for everything to be read again: the page reads the run again, and fails again (what the
    # page does with an answer is done before the next poll sees it read).
    with page.server.client() as api:
        api.post("/reset")
    page.wait(lambda: [c["read"] for c in calls(page, "/runs/nope")][1:2] == [True], what="the run read again")
    # The browser logs each 404 as an error of its own: those of this run's reads, and nothing else.
    logged = [e["message"] for e in page.browser.console() if e["level"] == "SEVERE"]
    assert logged and all("/runs/nope" in m and "404 (Not Found)" in m for m in logged), logged
    told = [t.text for t in page.css("#toasts .toast.error")]
    assert len(told) == 1 and "no run 'nope'" in told[0], told
    assert "Cannot read run nope." in page.one("#view").text


def test_a_run_page_keeps_up_one_read_at_a_time(page: Page, webhook_receiver: Receiver) -> None:
    n = 300
    with page.server.client() as api:
        spec = {"scenario": "dash-tokens", "params": {"n": n, "gap": "20ms"}, "target": webhook_receiver.url}
        run = api.post("/runs", json=spec).json()
    path = f"/runs/{run['id']}"
    page.open("/")
    page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
    page.js(RECORD + f"window.slow = {{ path: '{path}', ms: 1200 }};")
    page.js(f"location.hash = '#{path}'")
    with page.server.client() as api:
        page.wait(lambda: api.get(path).json()["status"] == "completed", 60, "the run")
        final = api.get(path).json()
    assert final["counts"] == {"succeeded": n}

    def caught_up() -> bool:
        rows = page.js(
            "return [...document.querySelectorAll('.timeline tr[data-seq]')]"
            ".map(r => [...r.querySelectorAll('.badge')].map(b => b.dataset.status).join())"
        )
        shown = (fact(page, "status"), fact(page, "events"), fact(page, "deliveries"))
        return shown == ("completed", str(n), f"{n} succeeded") and rows == ["succeeded"] * n

    page.wait(caught_up, 15, "the page caught up with the run")
    # One read at a time of the run, of its events and of its deliveries, however fast they changed.
    most = page.js("return window.most")
    assert [most.get(p) for p in (path, f"{path}/events", "/deliveries")] == [1, 1, 1], most
    # The counts followed the run (GET /runs/{id}); the timeline was read whole once (twice if the stream opened
    # late), then only its newer events were.
    assert len(calls(page, path)) >= 3
    whole = [c for c in calls(page, f"{path}/events") if "cursor=" not in c["query"]]
    assert 1 <= len(whole) <= 2, whole
    assert len([c for c in calls(page, "/deliveries") if "run=" in c["query"]]) == len(whole)  # 300: one page each


def test_a_cut_timeline_says_how_many_events_it_leaves_out(page: Page) -> None:
    with page.server.client() as api:
        run = api.post("/runs", json={"scenario": "dash-lots", "speed": 0}).json()
        page.wait(lambda: api.get(f"/runs/{run['id']}").json()["status"] == "completed", 60, "the run")
    page.open(f"/runs/{run['id']}")
    more = page.one(".timeline tr.more")
    page.wait(lambda: more.text == "50 more events not shown (the timeline lists the first 2,000)", what="the rest")
    assert page.js("return document.querySelectorAll('.timeline tr[data-seq]').length") == 2000
    assert fact(page, "events") == "2050"


# The page's reads are answered (taken from the server) but handed to it only once the stream has brought a change
# of the run: the change falls inside the page's first read, after the read took the run.
HELD = """
const real = window.fetch;
let release;
const held = new Promise((resolve) => { release = resolve; });
window.answered = [];
window.fetch = async (input, init) => {
  const url = new URL(String(input), location.href);
  const response = await real(input, init);
  if (url.pathname !== "/stream") {
    window.answered.push(url.pathname);
    await held;
    return response;
  }
  const [page, watched] = response.body.tee();
  (async () => {
    const reader = watched.getReader();
    const text = new TextDecoder();
    let seen = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      seen += text.decode(value, { stream: true });
      // The page's copy of these bytes is handled in the microtasks that follow; a timer runs after them.
      if (seen.includes("event: runs") && seen.includes(arguments[0])) setTimeout(release, 50);
    }
  })();
  return new Response(page, { status: response.status, headers: response.headers });
};
"""


def test_a_run_that_changes_while_its_page_first_reads_it_is_read_again(page: Page) -> None:
    with page.server.client() as api:
        run = api.post("/runs", json={"scenario": "dash-tokens", "params": {"n": 5, "gap": "1h"}}).json()
        page.open("/runs")
        page.wait(lambda: page.one(".live").get_attribute("data-state") == "live", what="the stream")
        page.js(HELD.replace("arguments[0]", repr(run["id"])))
        page.js("location.hash = arguments[0]", f"#/runs/{run['id']}")
        path = f"/runs/{run['id']}"
        page.wait(lambda: path in page.js("return window.answered"), what="the run read, while it runs")
        assert api.post(f"/runs/{run['id']}/cancel").status_code == 200
    page.wait(lambda: fact(page, "status") == "cancelled", what="the page to show the run cancelled")
