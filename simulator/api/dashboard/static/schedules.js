// Schedules: GET /schedules, add one (POST /schedules: a cron expression, an interval or a time), pause and
// resume (POST /schedules/{id}/pause|resume), delete.

import { all } from "./api.js";
import { badge, dateTime, field, h, link, relative, throttled } from "./dom.js";
import { act, apiForm, jsonObject, number, recordTable, seedInput, seedValue } from "./forms.js";

const COLUMNS = ["Id", "Scenario", "Trigger", "Next run", "State", ""];

export function schedulesView(root, _params, ctx) {
  const list = recordTable(ctx, "/schedules", COLUMNS, (s, load) => row(s, ctx, load));
  list.table.classList.add("schedules");
  const form = createForm(ctx, list.load);
  root.append(h("h1", {}, "Schedules"), list.box, form);
  list.load();
  all("/scenarios").then((scenarios) => {
    const select = form.querySelector('select[name="scenario"]');
    select.replaceChildren(...scenarios.map((s) => h("option", { value: s.name }, s.name)));
    form.refreshCall();
  }).catch((error) => ctx.fail(error, "GET /scenarios"));
  const refresh = throttled(list.load);
  const stop = ctx.follow({}, { runs: (m) => m.other && refresh(), reload: refresh });
  return () => {
    refresh.cancel();
    stop();
  };
}

function trigger(t) {
  if (t.cron) return `cron ${t.cron} UTC`; // the scheduler reads cron in UTC, whatever the browser's zone
  if (t.interval) return `every ${t.interval} s`;
  return `at ${dateTime(t.at)}`;
}

// A one-off that has fired: no next time, not paused. Listed until deleted, with the run it started (or why none
// started); pausing or resuming it is refused, so it has neither button.
const fired = (s) => !s.paused && !s.next_run_at && Boolean(s.trigger.at);

function state(s) {
  if (!fired(s)) return badge(s.paused ? "paused" : "enabled");
  const last = s.last_firing;
  if (!last) return badge("firing");
  if (last.error) return h("span", { title: last.error }, badge("failed"));
  return h("span", {}, badge("fired"), " ", link(`/runs/${encodeURIComponent(last.run)}`, h("code", {}, last.run)));
}

function row(s, ctx, reload) {
  const path = `/schedules/${encodeURIComponent(s.id)}`;
  const toggle = fired(s) ? null : s.paused
    ? h("button", { type: "button", onclick: () => act(ctx, `Resumed ${s.id}`, "POST", `${path}/resume`, undefined, reload) }, "Resume")
    : h("button", { type: "button", onclick: () => act(ctx, `Paused ${s.id}`, "POST", `${path}/pause`, undefined, reload) }, "Pause");
  const remove = h("button", { type: "button", class: "danger", onclick: () => {
    if (confirm(`Delete schedule ${s.id}?`)) act(ctx, `Deleted ${s.id}`, "DELETE", path, undefined, reload);
  } }, "Delete");
  return h("tr", { dataset: { id: s.id, state: fired(s) ? "fired" : s.paused ? "paused" : "active" } },
    h("td", {}, h("code", {}, s.id)),
    h("td", {}, s.scenario),
    h("td", {}, trigger(s.trigger)),
    h("td", {}, s.next_run_at ? `${dateTime(s.next_run_at)} (${relative(s.next_run_at)})` : "—"),
    h("td", {}, state(s)),
    h("td", { class: "actions" }, h("div", { class: "buttons" }, toggle, remove)));
}

function createForm(ctx, reload) {
  const scenario = h("select", { name: "scenario", required: true });
  const kind = h("select", { name: "kind" }, [["interval", "every N seconds"], ["cron", "cron (UTC)"], ["at", "once, at a time"]]
    .map(([value, label]) => h("option", { value }, label)));
  // It holds the trigger the kind names: the API's refusal names that field.
  const when = h("input", { name: "when", dataset: { fields: "interval cron at" }, required: true, placeholder: "3600", size: 24 });
  const seed = seedInput();
  const speed = h("input", { name: "speed", type: "number", min: 0, step: "any", value: "1" });
  const target = h("input", { name: "target", type: "url", placeholder: "empty: every matching subscription", size: 36 });
  const faults = h("textarea", { name: "faults", rows: 2, placeholder: '{"duplicate": 0.1}' });
  const hints = { interval: "3600", cron: "0 9 * * 1-5", at: "2030-01-01T09:00:00Z" };
  // What the field holds, by kind: a cron expression is read in UTC (9 * * * * is 09:00 UTC, not the browser's 9).
  const helps = { interval: "seconds between runs", cron: "cron (UTC): minute hour day month weekday", at: "an ISO 8601 time" };
  const help = h("small", { class: "help when-help" }, helps.interval);
  kind.addEventListener("change", () => {
    when.placeholder = hints[kind.value];
    help.textContent = helps[kind.value];
  });
  const build = () => {
    const body = { scenario: scenario.value };
    body[kind.value] = kind.value === "interval" ? Number(when.value) : when.value.trim();
    const chosen = seedValue(seed);
    if (chosen !== null) body.seed = chosen;
    body.speed = number(speed) ?? 1;
    if (target.value.trim()) body.target = target.value.trim();
    const f = jsonObject(faults, "faults");
    if (Object.keys(f).length) body.faults = f;
    return body;
  };
  return apiForm({
    attrs: { id: "schedule-form", class: "card stack" },
    method: "POST",
    path: "/schedules",
    build,
    done: (created) => {
      ctx.notify(`Schedule ${created.id} added`);
      reload();
    },
    fields: [
      h("h2", {}, "New schedule"),
      h("div", { class: "row" }, field("Scenario", scenario), field("Trigger", kind), field("When", when, help)),
      h("div", { class: "row" }, field("Seed", seed), field("Speed", speed), field("Target URL", target)),
      field("Faults", faults),
    ],
    submit: ["Add"],
  });
}
