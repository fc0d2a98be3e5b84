// Subscriptions: GET /subscriptions, create (POST), edit (PATCH what changed), pause and resume (PATCH `enabled`),
// delete. Secrets appear as the API masks them; the answer to POST, the one that holds a generated secret in full,
// is not shown.

import { api } from "./api.js";
import { badge, field, h, link, throttled } from "./dom.js";
import { act, apiForm, closeButton, dialog, jsonObject, number, recordTable, secretInput, signingSelect } from "./forms.js";

const COLUMNS = ["Id", "URL", "Events", "Signing", "Secret", "Status", "Deliveries", ""];

export function subscriptionsView(root, _params, ctx) {
  const list = recordTable(ctx, "/subscriptions", COLUMNS, (sub, load) => row(sub, ctx, load));
  list.table.classList.add("subscriptions");
  root.append(h("h1", {}, "Subscriptions"), list.box, createForm(ctx, list.load));
  list.load();
  const refresh = throttled(list.load);
  const stop = ctx.follow({}, { runs: (m) => m.other && refresh(), reload: refresh });
  return () => {
    refresh.cancel();
    stop();
  };
}

function row(sub, ctx, reload) {
  const path = `/subscriptions/${encodeURIComponent(sub.id)}`;
  const done = () => {
    ctx.forgetSubscription(sub.id);
    reload();
  };
  const toggle = sub.enabled
    ? h("button", { type: "button", class: "pause", title: "PATCH enabled: false — no new deliveries; those under way wait until it is resumed",
      onclick: () => act(ctx, `Paused ${sub.id}`, "PATCH", path, { enabled: false }, done) }, "Pause")
    : h("button", { type: "button", class: "resume", title: "PATCH enabled: true",
      onclick: () => act(ctx, `Resumed ${sub.id}`, "PATCH", path, { enabled: true }, done) }, "Resume");
  const remove = h("button", { type: "button", class: "danger", onclick: () => {
    if (confirm(`Delete subscription ${sub.id}? Its deliveries stay in the history.`)) {
      act(ctx, `Deleted ${sub.id}`, "DELETE", path, undefined, done);
    }
  } }, "Delete");
  const edit = h("button", { type: "button", class: "edit", onclick: () => editForm(sub, ctx, done) }, "Edit");
  const again = h("button", { type: "button", class: "redeliver", title: "POST /subscriptions/{id}/redeliver: each dead delivery again, same id and body",
    onclick: () => redeliverDead(sub, ctx, done) }, "Resend dead");
  return h("tr", { dataset: { id: sub.id, status: sub.status } },
    h("td", {}, h("code", {}, sub.id)),
    h("td", { class: "url" }, sub.url),
    h("td", { class: "events wrap" }, sub.events.length ? sub.events.join(", ") : "all"),
    h("td", {}, sub.signing || "native"),
    h("td", { class: "secret" }, sub.secret ?? ""),
    h("td", {}, badge(sub.status), sub.consecutive_dead ? h("small", { class: "muted" }, ` ${sub.consecutive_dead} dead in a row`) : null),
    h("td", {}, link(`/?subscription=${encodeURIComponent(sub.id)}`, "deliveries")),
    h("td", { class: "actions" }, h("div", { class: "buttons" }, edit, again, toggle, remove)));
}

async function redeliverDead(sub, ctx, done) {
  try {
    const answer = await api("POST", `/subscriptions/${encodeURIComponent(sub.id)}/redeliver`);
    const n = answer.redelivered.length;
    ctx.notify(n ? `${n} dead deliver${n === 1 ? "y" : "ies"} of ${sub.id} sent again` : `${sub.id} has no dead delivery`);
    done();
  } catch (error) {
    ctx.fail(error, `Resend dead of ${sub.id}`);
  }
}

// Edit in a dialog: the fields as they stand, and a PATCH of only those changed (the API changes only the fields
// given), so an edit never rewrites what another client changed meanwhile in the fields it left alone.
function editForm(sub, ctx, done) {
  const url = h("input", { name: "url", type: "url", required: true, value: sub.url, size: 40 });
  const events = h("input", { name: "events", value: sub.events.join(", "), placeholder: "empty: all", size: 30 });
  const headers = h("textarea", { name: "headers", rows: 2 }, Object.keys(sub.headers).length ? JSON.stringify(sub.headers) : "");
  const timeout = h("input", { name: "timeout", type: "number", min: 0.1, step: "any", value: String(sub.timeout) });
  const retry = h("input", { name: "retry", value: sub.retry ? sub.retry.delays.join(", ") : "", placeholder: "empty: the provider's", size: 30 });
  const faults = h("textarea", { name: "faults", rows: 2 }, Object.keys(sub.faults).length ? JSON.stringify(sub.faults) : "");
  const build = () => {
    const body = {};
    if (url.value.trim() !== sub.url) body.url = url.value.trim();
    const filters = events.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (filters.join(",") !== sub.events.join(",")) body.events = filters;
    const extra = jsonObject(headers, "headers");
    if (JSON.stringify(extra) !== JSON.stringify(sub.headers)) body.headers = extra;
    if (number(timeout) !== null && number(timeout) !== sub.timeout) body.timeout = number(timeout);
    const delays = retry.value.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
    if (delays.join(",") !== (sub.retry ? sub.retry.delays.join(",") : "")) body.retry = delays.length ? { ...(sub.retry || {}), delays } : null;
    const f = jsonObject(faults, "faults");
    if (JSON.stringify(f) !== JSON.stringify(sub.faults)) body.faults = f;
    return body;
  };
  let close = () => {};
  const form = apiForm({
    attrs: { id: "subscription-edit", class: "stack" },
    method: "PATCH",
    path: `/subscriptions/${encodeURIComponent(sub.id)}`,
    build,
    done: () => {
      close();
      ctx.notify(`Saved ${sub.id}`);
      done();
    },
    fields: [
      h("h2", {}, `Edit ${sub.id}`),
      h("div", { class: "row" }, field("URL", url), field("Events", events)),
      h("div", { class: "row" }, field("Retry delays", retry), field("Timeout (s)", timeout)),
      h("div", { class: "row" }, field("Extra headers", headers), field("Faults", faults)),
    ],
    submit: ["Save", closeButton(() => close())],
  });
  close = dialog(form);
}

function createForm(ctx, reload) {
  const url = h("input", { name: "url", type: "url", required: true, placeholder: "http://127.0.0.1:9000/webhooks", size: 40 });
  const events = h("input", { name: "events", placeholder: "syncfy:*, token.*  (empty: all)", size: 30 });
  const signing = signingSelect();
  const secret = secretInput();
  const headers = h("textarea", { name: "headers", rows: 2, placeholder: '{"X-Env": "staging"}' });
  const retry = h("input", { name: "retry", placeholder: "5, 300, 1800  (seconds; empty: the provider's)", size: 30 });
  const timeout = h("input", { name: "timeout", type: "number", min: 0.1, step: "any", placeholder: "30" });
  const faults = h("textarea", { name: "faults", rows: 2, placeholder: '{"duplicate": 0.1}' });
  const build = () => {
    const body = { url: url.value.trim() };
    const filters = events.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (filters.length) body.events = filters;
    if (signing.value) body.signing = signing.value;
    if (secret.value) body.secret = secret.value;
    const extra = jsonObject(headers, "headers");
    if (Object.keys(extra).length) body.headers = extra;
    if (retry.value.trim()) body.retry = { delays: retry.value.split(",").map((s) => Number(s.trim())) };
    if (number(timeout) !== null) body.timeout = number(timeout);
    const f = jsonObject(faults, "faults");
    if (Object.keys(f).length) body.faults = f;
    return body;
  };
  const form = apiForm({
    attrs: { id: "subscription-form", class: "card stack" },
    method: "POST",
    path: "/subscriptions",
    build,
    done: (created) => {
      form.reset();
      form.refreshCall();
      ctx.notify(`Subscription ${created.id} created`);
      reload();
    },
    fields: [
      h("h2", {}, "New subscription"),
      h("div", { class: "row" }, field("URL", url), field("Events", events)),
      h("div", { class: "row" }, field("Signing", signing), field("Secret", secret, "kept by the server; the page shows it masked only")),
      h("div", { class: "row" }, field("Retry delays", retry), field("Timeout (s)", timeout)),
      h("div", { class: "row" }, field("Extra headers", headers), field("Faults", faults)),
    ],
    submit: ["Create"],
  });
  return form;
}
