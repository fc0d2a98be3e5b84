// Runs (GET /runs, newest first) and one run (GET /runs/{id}): its summary counts, its events planned against
// when their deliveries were made, its ETA or next event while it plays, and Cancel (POST /runs/{id}/cancel).
// Both follow GET /stream. The list reads again (at most once a second) when something changes; a run's page
// reads again what changed alone (see runView), one read at a time, so a run of thousands of deliveries a second
// does not leave it behind.

import { all, api, get } from "./api.js";
import { badge, coalesced, dateTime, focusLost, focusedName, h, json, link, pairs, refocus, relative, throttled,
  timeCell } from "./dom.js";
import { scrolling } from "./forms.js";

const PLAYING = new Set(["pending", "running"]);
const SHOWN = 2000; // a long run's timeline lists its first events and counts the rest; the counts cover them all
// The run's page last left and what had the focus on it (a delivery opened from its timeline): coming back to it
// (Escape on the delivery), that takes the focus back.
let left = null;

function counts(run) {
  const c = run.counts || {};
  return h("span", { class: "counts" }, ["succeeded", "pending", "failed", "dead", "dropped"]
    .filter((s) => c[s])
    .map((s) => h("span", { class: `count s-${s}`, title: s }, `${c[s]} ${s}`)));
}

function progress(run) {
  const planned = run.planned_events;
  const text = planned ? `${run.events} / ${planned}` : String(run.events);
  return h("span", { class: "progress", title: "events sent / planned" }, text);
}

function eta(run) {
  if (!PLAYING.has(run.status)) return "";
  const parts = [];
  if (run.next_event_at) parts.push(`next event ${relative(run.next_event_at)}`);
  if (run.ends_at) parts.push(`ends ${relative(run.ends_at)}`);
  return parts.join(", ");
}

function cancelButton(run, ctx, after) {
  if (!PLAYING.has(run.status)) return null;
  const button = h("button", { type: "button", class: "danger cancel", dataset: { focus: `cancel:${run.id}` } },
    "Cancel");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", `/runs/${encodeURIComponent(run.id)}/cancel`);
      ctx.notify(`Run ${run.id} cancelled`);
      after();
    } catch (error) {
      button.disabled = false;
      ctx.fail(error, "Cancel");
    }
  });
  return button;
}

export function runsView(root, _params, ctx) {
  const body = h("tbody");
  root.append(h("h1", {}, "Runs"),
    scrolling(h("table", { class: "list runs" }, h("thead", {}, h("tr", {}, ["Started", "Run", "Scenario", "Status",
      "Events", "Deliveries", "ETA", ""].map((name) => h("th", {}, name)))), body)));

  let last = null;
  async function load() {
    try {
      const runs = await all("/runs");
      const text = JSON.stringify(runs);
      if (text === last) return; // unchanged: the rows stay
      last = text;
      runs.sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
      const had = focusedName(body);
      body.replaceChildren(...runs.map((run) => h("tr", { dataset: { id: run.id, status: run.status } },
        h("td", {}, timeCell(run.started_at || run.created_at)),
        h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(run.id)}`, dataset: { focus: `run:${run.id}` } },
          run.id)),
        h("td", {}, run.scenario),
        h("td", {}, badge(run.status)),
        h("td", { class: "num" }, progress(run)),
        h("td", {}, counts(run)),
        h("td", { class: "eta" }, eta(run)),
        h("td", {}, cancelButton(run, ctx, refresh)))));
      if (!runs.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No run yet: Start scenario.")));
      // The rows redrawn keep the focus; a Cancel gone with its run's end gives it to the run's link.
      if (had && focusLost()) refocus(body, [had, had.replace(/^cancel:/, "run:")]);
    } catch (error) {
      ctx.fail(error, "GET /runs");
    }
  }
  const refresh = throttled(load);
  load();
  const stop = ctx.follow({}, { ready: refresh, runs: refresh, reload: refresh });
  return () => {
    refresh.cancel();
    stop();
  };
}

export function runView(root, params, ctx) {
  const id = params.id;
  const path = `/runs/${encodeURIComponent(id)}`;
  root.append(h("p", { class: "muted" }, "Loading…"));
  // What is shown once the whole run has been read (see build); null before, and after a read failed.
  let page = null;
  let queued = null; // deliveries that changed while the whole run was being read: applied on top of it
  let told = null; // the failure last told: a retry that fails the same way is shown, not told again
  // What the next refresh reads. A change costs little: a delivery's own row is redrawn from the stream's data,
  // the counts and status at the top come from GET /runs/{id}, and only events not listed yet are read. The
  // whole run is read again only when the stream (re)opens or asks for it.
  const want = { all: false, run: false, events: false };
  let gone = false; // the page was left: a read still under way then draws nothing (another view has the root)

  async function sync() {
    const now = { ...want };
    want.all = want.run = want.events = false;
    try {
      if (now.all || !page) await readAll();
      else if (now.run) {
        const run = await get(path);
        if (gone) return;
        showRun(run);
      }
      if (gone) return;
      if (page && (now.events || page.events.length < Math.min(SHOWN, page.run.events))) await readNewer();
      told = null;
    } catch (error) {
      if (gone) return;
      page = null;
      root.replaceChildren(h("h1", {}, "Run"), h("p", { class: "error" }, `Cannot read run ${id}.`), link("/runs", "← Runs"));
      const text = String(error?.message || error);
      if (text !== told) ctx.fail(error, `GET /runs/${id}`);
      told = text;
    }
  }

  async function readAll() {
    queued = [];
    try {
      const [run, events, deliveries] = await Promise.all([
        get(path),
        all(`${path}/events`, {}, SHOWN),
        all("/deliveries", { run: id }, SHOWN * 2),
      ]);
      if (gone) return;
      build(run, events, deliveries);
      const later = queued;
      queued = null;
      for (const message of later) changed(message);
    } finally {
      queued = null;
    }
  }

  // The events after the last one listed (the list's cursor is an event's seq), until the timeline is full.
  async function readNewer() {
    let cursor = page.events.length ? String(page.events[page.events.length - 1].seq) : null;
    while (page.events.length < SHOWN) {
      const found = await get(`${path}/events`, { limit: Math.min(500, SHOWN - page.events.length), cursor });
      if (gone) return;
      append(found.data);
      if (!found.next_cursor) return;
      cursor = found.next_cursor;
    }
  }

  function build(run, events, deliveries) {
    const had = focusedName(root); // the whole run read again (the stream opened again): the focus stays
    const back = left?.id === id ? left.name : null;
    left = null;
    const tbody = h("tbody");
    const tail = h("tr", { class: "muted more" }, h("td", { colspan: 6 }));
    const title = h("div");
    const facts = h("div");
    page = { run, text: null, title, facts, events: [], rows: new Map(), deliveries: new Map(), origin: null, tbody, tail };
    for (const d of deliveries) hold(d);
    tbody.append(tail);
    root.replaceChildren(
      h("p", {}, link("/runs", "← Runs"), " · ", link(`/?run=${encodeURIComponent(id)}`, "its deliveries")),
      title,
      facts,
      h("h2", {}, "Timeline"),
      scrolling(h("table", { class: "list timeline" },
        h("thead", {}, h("tr", {}, ["#", "Type", "Planned (simulated)", "Sent (real)", "Deliveries", ""].map((n) => h("th", {}, n)))),
        tbody)),
    );
    showRun(run);
    append(events);
    if (had && focusLost()) refocus(root, [had]);
    else if (back && focusLost()) refocus(root, [back])?.scrollIntoView({ block: "nearest" });
  }

  // The top of the page (status, Cancel, counts), redrawn only when the run changed: a Cancel button under the
  // pointer stays the same button.
  function showRun(run) {
    page.run = run;
    const text = JSON.stringify(run);
    if (text !== page.text) {
      page.text = text;
      const [title, facts] = summary(run, ctx, () => ask("run"));
      const had = focusedName(page.title) ?? focusedName(page.facts);
      page.title.replaceWith(title);
      page.facts.replaceWith(facts);
      if (had && focusLost()) refocus(root, [had, "title"]); // a Cancel gone with the run's end: its heading
      Object.assign(page, { title, facts });
    }
    showTail();
  }

  function append(events) {
    const fragment = document.createDocumentFragment();
    for (const e of events) {
      if (page.events.length >= SHOWN) break;
      if (page.rows.has(e.id)) continue;
      page.events.push(e);
      page.origin ??= new Date(e.occurred_at).getTime();
      const tr = eventRow(e, page.origin);
      page.rows.set(e.id, tr);
      showDeliveries(tr, e.id);
      fragment.append(tr);
    }
    page.tbody.insertBefore(fragment, page.tail);
    if (page.events.length >= SHOWN) {
      // A full timeline keeps only its own events' deliveries.
      for (const key of page.deliveries.keys()) if (!page.rows.has(key)) page.deliveries.delete(key);
    }
    showTail();
  }

  // Where a delivery is kept, by event: for the events listed, and while the timeline is not full for those not
  // read yet too (their rows will show them).
  function hold(d) {
    const touched = [];
    for (const e of d.event_ids) {
      if (!page.rows.has(e) && page.events.length >= SHOWN) continue;
      const held = page.deliveries.get(e) || new Map();
      page.deliveries.set(e, held);
      // Attempts only grow: a delivery told with fewer than the one held is an older state of it (told by the
      // stream before the list was read, say), not news.
      if ((held.get(d.id)?.attempts ?? -1) > d.attempts) continue;
      held.set(d.id, d);
      touched.push(e);
    }
    return touched;
  }

  function showDeliveries(tr, eventId) {
    const ds = [...(page.deliveries.get(eventId)?.values() || [])];
    // When the event was first sent: its deliveries' earliest first attempt. Not their creation, which a timed
    // run makes ahead of time (the event read as sent before the run had started).
    const sent = ds.map((d) => d.first_attempt_at).filter(Boolean).sort()[0];
    const started = page.run.started_at ? new Date(page.run.started_at).getTime() : 0;
    tr.cells[3].textContent = sent ? offset(sent, started) : "—";
    const had = focusedName(tr.cells[4]); // a delivery's link redrawn as it changes keeps the focus
    tr.cells[4].replaceChildren(...ds.map((d) => h("a", { href: `#/deliveries/${encodeURIComponent(d.id)}`,
      dataset: { focus: `delivery:${d.id}` } }, badge(d.status))));
    if (had && focusLost()) refocus(tr.cells[4], [had]);
  }

  // Below the rows: the events left out of a full timeline, and those still to come.
  function showTail() {
    const run = page.run;
    const parts = [];
    const left = page.events.length >= SHOWN ? run.events - page.events.length : 0;
    if (left > 0) {
      parts.push(`${left} more ${left === 1 ? "event" : "events"} not shown (the timeline lists the first ${SHOWN.toLocaleString("en")})`);
    }
    const waiting = run.planned_events && PLAYING.has(run.status) ? run.planned_events - run.events : 0;
    if (waiting > 0) parts.push(`${waiting} more to come${run.next_event_at ? `, the next ${relative(run.next_event_at)}` : ""}`);
    page.tail.hidden = !parts.length;
    page.tail.firstChild.textContent = parts.join("; ");
  }

  // A delivery's change redraws its event's row, from the stream's own data: nothing is read.
  function changed(message) {
    if (queued) {
      queued.push(message);
      return;
    }
    if (!page) return;
    const touched = new Set(message.data.flatMap(hold));
    for (const e of touched) {
      const tr = page.rows.get(e);
      if (tr) showDeliveries(tr, e);
      else want.events = true; // an event not read yet
    }
    if (want.events) refresh();
  }

  const refresh = coalesced(sync, 250);
  const ask = (what) => {
    want[what] = true;
    refresh();
  };
  // The run is read when the stream is open (so no change falls between the two), or after a while without it.
  const fallback = setTimeout(() => ask("all"), 1500);
  const stop = ctx.follow({ run: id }, {
    ready: () => {
      clearTimeout(fallback);
      ask("all");
    },
    reload: () => ask("all"),
    // A run that could not be read is read again when the stream opens again, not at every change of others. One
    // that changes while its first read is under way (`queued`) is read again after it: that read may have taken
    // the run before the change, and the page showed a finished run as running for good.
    runs: (m) => {
      if ((page || queued !== null) && (m.other || m.ids.includes(id))) ask("run");
    },
    deliveries: changed,
  });
  return () => {
    left = { id, name: focusedName(root) };
    gone = true;
    clearTimeout(fallback);
    refresh.cancel();
    stop();
  };
}

function summary(run, ctx, refresh) {
  const facts = [
    ["Scenario", run.scenario],
    ["Status", badge(run.status)],
    ["Events", progress(run)],
    ["Deliveries", counts(run)],
    ["Seed", String(run.seed ?? "random")],
    ["Speed", run.speed === 0 ? "0 (no waiting)" : `${run.speed}×`],
    ["Started", dateTime(run.started_at)],
    ["Finished", run.finished_at ? dateTime(run.finished_at) : "—"],
  ];
  if (eta(run)) facts.push(["ETA", eta(run)]);
  if (Object.keys(run.params || {}).length) facts.push(["Parameters", h("code", {}, JSON.stringify(run.params))]);
  if (Object.keys(run.faults || {}).length) facts.push(["Faults", h("code", {}, JSON.stringify(run.faults))]);
  if (run.target) facts.push(["Target", run.target]);
  if (run.error) facts.push(["Error", h("span", { class: "error-text" }, run.error)]);
  return [
    h("div", { class: "title" }, h("h1", { tabindex: -1, dataset: { focus: "title" } }, "Run ", h("code", {}, run.id)),
      badge(run.status), cancelButton(run, ctx, refresh)),
    pairs(facts, "pairs facts"),
  ];
}

const offset = (t, from) => {
  if (!t) return "";
  const seconds = (new Date(t).getTime() - from) / 1000;
  const shown = Math.abs(seconds).toFixed(1);
  return `${seconds < 0 && shown !== "0.0" ? "−" : "+"}${shown} s`;
};

// One event: when the scenario placed it (simulated time, from the first event); its deliveries' cells are
// filled, and redrawn as they change, by the run's view.
function eventRow(e, origin) {
  const body = h("details", {}, h("summary", {}, "body"));
  // The body is laid out when first opened: two thousand bodies built up front were most of a long run's page.
  body.addEventListener("toggle", () => {
    if (body.open && !body.querySelector("pre")) body.append(h("pre", {}, json(e.body)));
  });
  return h("tr", { dataset: { seq: e.seq } },
    h("td", { class: "num" }, String(e.seq)),
    h("td", {}, e.type),
    h("td", { title: e.occurred_at }, offset(e.occurred_at, origin)),
    h("td", {}, "—"),
    h("td", {}),
    h("td", {}, body));
}
