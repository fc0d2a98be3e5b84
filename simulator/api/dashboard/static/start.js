// Start a scenario (POST /runs, its parameters read from GET /scenarios/{name}) and emit one event
// (POST /events), each in a dialog over the current view, so the deliveries it makes can be watched arriving.

import { all, get } from "./api.js";
import { field, h, link, setText } from "./dom.js";
import {
  apiForm, closeButton, dialog, jsonObject, number, secretInput, seedInput, seedValue, showProblem, signingSelect,
} from "./forms.js";

function targetFields(withSigning) {
  const mode = h("select", { name: "deliver_to" }, h("option", { value: "subscriptions" }, "every matching subscription"),
    h("option", { value: "target" }, "one URL (ad hoc)"));
  const url = h("input", { name: "target", type: "url", placeholder: "http://127.0.0.1:9000/webhooks", size: 40 });
  const signing = signingSelect();
  const secret = secretInput();
  const urlFields = h("div", { class: "stack", hidden: true }, field("Target URL", url),
    withSigning ? field("Signing", signing) : null, withSigning ? field("Secret", secret, "kept by the server; never shown") : null);
  mode.addEventListener("change", () => {
    urlFields.hidden = mode.value !== "target";
  });
  const read = (body) => {
    if (mode.value !== "target") return body;
    body.target = url.value.trim();
    if (withSigning && signing.value) body.signing = signing.value;
    if (withSigning && secret.value) body.secret = secret.value;
    return body;
  };
  return { fields: [field("Deliver to", mode), urlFields], read };
}

export async function openStart(ctx) {
  const scenario = h("select", { name: "scenario", required: true });
  const description = h("p", { class: "muted description" });
  const params = h("div", { class: "params stack" });
  const seed = seedInput();
  const speed = h("input", { name: "speed", type: "number", min: 0, step: "any", value: "1" });
  const faults = h("textarea", { name: "faults", rows: 2, placeholder: '{"duplicate": 0.1, "malformed": 0.05}' });
  const target = targetFields(true);
  const inputs = new Map();

  const build = () => {
    const body = { scenario: scenario.value };
    // No prototype: a parameter may be named `__proto__`, which on a plain object sets the prototype, not a key.
    const values = Object.create(null);
    for (const [name, [input, kind]] of inputs) {
      if (input.type === "checkbox") {
        if (input.dataset.touched) values[name] = input.checked; // untouched: the scenario's default
      } else if (input.value.trim() !== "") {
        values[name] = kind === "number" ? Number(input.value) : input.value.trim();
      }
    }
    if (Object.keys(values).length) body.params = values;
    const chosen = seedValue(seed);
    if (chosen !== null) body.seed = chosen;
    body.speed = number(speed) ?? 1;
    const f = jsonObject(faults, "faults");
    if (Object.keys(f).length) body.faults = f;
    return target.read(body);
  };
  async function showParams() {
    params.replaceChildren();
    inputs.clear();
    if (!scenario.value) return;
    try {
      const s = await get(`/scenarios/${encodeURIComponent(scenario.value)}`);
      setText(description, s.description);
      for (const [name, p] of Object.entries(s.params || {})) {
        const kind = typeof p.default;
        const input = kind === "boolean"
          ? h("input", { name: `param-${name}`, type: "checkbox", checked: p.default === true })
          : h("input", { name: `param-${name}`, type: kind === "number" ? "number" : "text", step: "any", placeholder: String(p.default ?? "") });
        input.addEventListener("change", () => {
          input.dataset.touched = "1";
        });
        inputs.set(name, [input, kind]);
        params.append(field(name, input, p.description));
      }
      form.refreshCall();
    } catch (error) {
      ctx.fail(error, "GET /scenarios/{name}");
    }
  }

  const form = apiForm({
    attrs: { id: "start-form", class: "stack" },
    method: "POST",
    path: "/runs",
    build,
    done: (run) => {
      close();
      ctx.notify(h("span", {}, "Run ", link(`/runs/${encodeURIComponent(run.id)}`, run.id), ` started (${run.scenario})`));
    },
    fields: [
      h("h2", {}, "Start a scenario"),
      field("Scenario", scenario), description, params,
      h("div", { class: "row" }, field("Seed", seed, "the same seed gives the same bodies"),
        field("Speed", speed, "1 real time, 10 ten times faster, 0 no waiting")),
      target.fields,
      field("Faults", faults, "a JSON object, as the API takes it"),
    ],
    submit: ["Start", closeButton(() => close())],
  });
  scenario.addEventListener("change", showParams);
  const close = dialog(form);
  try {
    const scenarios = await all("/scenarios");
    scenario.replaceChildren(...scenarios.map((s) => h("option", { value: s.name }, `${s.name} (${s.provider})`)));
    await showParams();
  } catch (error) {
    showProblem(form, error);
  }
}

export async function openEmit(ctx) {
  const type = h("select", { name: "type", required: true });
  const overrides = h("textarea", { name: "overrides", rows: 3, placeholder: '{"payload.is_executing": 0}' });
  const seed = seedInput();
  const target = targetFields(false);
  const build = () => {
    const body = { type: type.value };
    const o = jsonObject(overrides, "overrides");
    if (Object.keys(o).length) body.overrides = o;
    const chosen = seedValue(seed);
    if (chosen !== null) body.seed = chosen;
    return target.read(body);
  };
  const form = apiForm({
    attrs: { id: "emit-form", class: "stack" },
    method: "POST",
    path: "/events",
    build,
    done: (emitted) => {
      close();
      const first = emitted.deliveries[0];
      const count = `${emitted.deliveries.length} ${emitted.deliveries.length === 1 ? "delivery" : "deliveries"}`;
      ctx.notify(h("span", {}, `Event ${emitted.id} emitted: `,
        first ? link(`/deliveries/${encodeURIComponent(first)}`, count) : "no subscription matched"));
    },
    fields: [
      h("h2", {}, "Emit one event"),
      field("Type", type),
      field("Overrides", overrides, "dotted paths into the event, as a JSON object"),
      field("Seed", seed),
      target.fields,
    ],
    submit: ["Emit", closeButton(() => close())],
  });
  const close = dialog(form);
  try {
    const types = await ctx.types();
    type.replaceChildren(...types.map((t) => h("option", { value: t.type }, t.type)));
    form.refreshCall();
  } catch (error) {
    showProblem(form, error);
  }
}
