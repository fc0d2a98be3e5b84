// Runs (GET /runs, newest first) and one run (GET /runs/{id}): its summary counts, its events planned against
// when their deliveries were made, its ETA or next event while it plays, and Cancel (POST /runs/{id}/cancel).
// Both follow GET /stream and read again (at most once a second) when something changes.

import { all, api, get } from "./api.js";
import { add, badge, clear, dateTime, h, json, link, pairs, relative, throttled, timeCell } from "./dom.js";

const PLAYING = new Set(["pending", "running"]);
const SHOWN = 2000; // a long run's timeline shows its first events; the counts cover them all

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
  const button = h("button", { type: "button", class: "danger cancel" }, "Cancel");
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
    h("table", { class: "list runs" }, h("thead", {}, h("tr", {}, ["Started", "Run", "Scenario", "Status", "Events",
      "Deliveries", "ETA", ""].map((name) => h("th", {}, name)))), body));

  let last = null;
  async function load() {
    try {
      const runs = await all("/runs");
      const text = JSON.stringify(runs);
      if (text === last) return; // unchanged: the rows stay
      last = text;
      runs.sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
      body.replaceChildren(...runs.map((run) => h("tr", { dataset: { id: run.id, status: run.status } },
        h("td", {}, timeCell(run.started_at || run.created_at)),
        h("td", {}, link(`/runs/${encodeURIComponent(run.id)}`, run.id)),
        h("td", {}, run.scenario),
        h("td", {}, badge(run.status)),
        h("td", { class: "num" }, progress(run)),
        h("td", {}, counts(run)),
        h("td", { class: "eta" }, eta(run)),
        h("td", {}, cancelButton(run, ctx, refresh)))));
      if (!runs.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No run yet: Start scenario.")));
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
  let last = null;
  async function load() {
    try {
      const [run, events, deliveries] = await Promise.all([
        get(`/runs/${encodeURIComponent(id)}`),
        all(`/runs/${encodeURIComponent(id)}/events`, {}, SHOWN),
        all("/deliveries", { run: id }, SHOWN * 2),
      ]);
      const text = JSON.stringify([run, events, deliveries]);
      if (text === last) return; // unchanged: what is open in the page stays open
      last = text;
      add(clear(root), render(run, events, deliveries, ctx, refresh));
    } catch (error) {
      root.replaceChildren(h("h1", {}, "Run"), h("p", { class: "error" }, `Cannot read run ${id}.`), link("/runs", "← Runs"));
      ctx.fail(error, `GET /runs/${id}`);
    }
  }
  const refresh = throttled(load);
  load();
  const stop = ctx.follow({ run: id }, { ready: refresh, runs: refresh, deliveries: refresh, reload: refresh });
  return () => {
    refresh.cancel();
    stop();
  };
}

function render(run, events, deliveries, ctx, refresh) {
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
    h("p", {}, link("/runs", "← Runs"), " · ", link(`/?run=${encodeURIComponent(run.id)}`, "its deliveries")),
    h("div", { class: "title" }, h("h1", {}, "Run ", h("code", {}, run.id)), badge(run.status), cancelButton(run, ctx, refresh)),
    pairs(facts, "pairs facts"),
    h("h2", {}, "Timeline"),
    timeline(run, events, deliveries),
  ];
}

// Each event: when the scenario placed it (simulated time, from the first event) and when its deliveries were
// made and how they stand; events still to come are counted, not listed.
function timeline(run, events, deliveries) {
  const byEvent = new Map();
  for (const d of deliveries) for (const e of d.event_ids) byEvent.set(e, [...(byEvent.get(e) || []), d]);
  const origin = events.length ? new Date(events[0].occurred_at).getTime() : 0;
  const started = run.started_at ? new Date(run.started_at).getTime() : 0;
  const offset = (t, from) => (t ? `+${((new Date(t).getTime() - from) / 1000).toFixed(1)} s` : "");
  const rows = events.map((e) => {
    const ds = byEvent.get(e.id) || [];
    return h("tr", { dataset: { seq: e.seq } },
      h("td", { class: "num" }, String(e.seq)),
      h("td", {}, e.type),
      h("td", { title: e.occurred_at }, offset(e.occurred_at, origin)),
      h("td", {}, ds.length ? offset(ds[0].created_at, started) : "—"),
      h("td", {}, ds.map((d) => link(`/deliveries/${encodeURIComponent(d.id)}`, badge(d.status)))),
      h("td", {}, h("details", {}, h("summary", {}, "body"), h("pre", {}, json(e.body)))));
  });
  const waiting = run.planned_events && PLAYING.has(run.status) ? run.planned_events - events.length : 0;
  return h("table", { class: "list timeline" },
    h("thead", {}, h("tr", {}, ["#", "Type", "Planned (simulated)", "Sent (real)", "Deliveries", ""].map((n) => h("th", {}, n)))),
    h("tbody", {}, rows, waiting > 0
      ? h("tr", { class: "muted" }, h("td", { colspan: 6 }, `${waiting} more to come${run.next_event_at ? `, the next ${relative(run.next_event_at)}` : ""}`))
      : null));
}
