// What the forms share: a dialog to hold one, the API call a form will make shown as it is filled in (the page
// documents its calls; secrets masked), JSON fields, and refusals shown next to the fields they name.

import { ApiError, all, api } from "./api.js";
import { focusLost, h, setText } from "./dom.js";

export function dialog(form) {
  const box = document.getElementById("form-dialog");
  box.replaceChildren(form);
  if (!box.open) box.showModal();
  return () => box.close();
}

export function closeButton(close) {
  return h("button", { type: "button", onclick: close }, "Close");
}

// What the preview masks, as the API masks what it shows: the secret; a URL's credentials (`user:***@`, or `***@`
// for a user alone, often a token); an Authorization header's value, to its scheme (`Bearer ***`).
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i;
const AUTH_HEADERS = new Set(["authorization", "proxy-authorization"]);

function maskedUrl(url) {
  if (typeof url !== "string") return url;
  return url.replace(USERINFO, (_, scheme, info) => `${scheme}${info.includes(":") ? `${info.split(":")[0]}:***` : "***"}@`);
}

function maskedHeaders(headers) {
  if (!headers || typeof headers !== "object") return headers;
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => {
    if (!AUTH_HEADERS.has(name.toLowerCase()) || typeof value !== "string") return [name, value];
    const space = value.indexOf(" ");
    return [name, space > 0 ? `${value.slice(0, space)} ***` : "***"];
  }));
}

function masked(body) {
  if (!body || typeof body !== "object") return body;
  const out = { ...body };
  if (out.secret) out.secret = "****";
  for (const key of ["url", "target"]) if (key in out) out[key] = maskedUrl(out[key]);
  if ("headers" in out) out.headers = maskedHeaders(out.headers);
  return out;
}

// The request a form makes, kept up to date with `refresh()`.
export function apiCall(method, path, build) {
  const pre = h("pre", { class: "api-call" });
  const box = h("details", { class: "api-call-box" }, h("summary", {}, `API call: ${method} ${path}`), pre);
  const refresh = () => {
    try {
      pre.textContent = `${method} ${path}\nContent-Type: application/json\n\n${JSON.stringify(masked(build()), null, 2)}`;
    } catch (error) {
      pre.textContent = `${method} ${path}\n\n(${error.message})`;
    }
  };
  refresh();
  return { box, refresh };
}

// A JSON object typed in a textarea (empty: `{}`); a SyntaxError names the field.
export function jsonObject(textarea, name) {
  const text = textarea.value.trim();
  if (!text) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FieldError(name, `not JSON: ${error.message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new FieldError(name, "must be a JSON object");
  return value;
}

export class FieldError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

// Show a refusal: under each field the problem names (by its `name`, or among its `data-fields`: one input may stand
// for several of the API's fields), and as a line at the end of the form.
export function showProblem(form, error) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  const out = form.querySelector(".form-error");
  const errors = error instanceof ApiError ? error.problem.errors || [] : error instanceof FieldError ? [{ field: error.field, message: error.message }] : [];
  for (const { field, message } of errors) {
    const key = CSS.escape(String(field).split(".")[0]);
    const input = form.querySelector(`[name="${key}"]`) || form.querySelector(`[data-fields~="${key}"]`);
    input?.closest("label")?.append(h("small", { class: "field-error" }, message));
  }
  out.hidden = false;
  setText(out, error instanceof ApiError ? `${error.status}: ${error.problem.detail || error.message}` : error.message);
}

export function clearProblem(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  const out = form.querySelector(".form-error");
  out.hidden = true;
  out.textContent = "";
}

export function formError() {
  return h("p", { class: "form-error error", hidden: true, role: "alert" });
}

export const number = (input) => (input.value.trim() === "" ? null : Number(input.value));

const MAX_SEED = 2n ** 63n - 1n;

// A seed field: text, not type=number (which takes 1e3 and turns what it cannot read into "", a random seed).
export function seedInput() {
  return h("input", { name: "seed", inputmode: "numeric", autocomplete: "off", placeholder: "random", size: 20 });
}

// The typed seed as a JSON number with all its digits (as a JavaScript number, one beyond 2^53 was rounded and a
// different run made); null when empty. The API takes 0 to 2^63-1, and a number only.
export function seedValue(input) {
  const text = input.value.trim();
  if (text === "") return null;
  if (!/^\d+$/.test(text) || BigInt(text) > MAX_SEED) {
    throw new FieldError("seed", `a whole number from 0 to ${MAX_SEED}, not ${JSON.stringify(text)}`);
  }
  return JSON.rawJSON(BigInt(text).toString());
}

export function signingSelect(name = "signing") {
  return h("select", { name }, [["", "the provider's own"], ["standard", "standard (Standard Webhooks)"],
    ["basistheory", "basistheory (RSA, BT-SIGNATURE)"], ["syncfy", "syncfy (HS256 JWT)"], ["none", "none"]]
    .map(([value, label]) => h("option", { value }, label)));
}

export function secretInput(name = "secret") {
  return h("input", { name, type: "password", autocomplete: "new-password", placeholder: "whsec_… or base64; empty: generated" });
}

// A form that makes one API call: the call shown as it is filled in, refusals shown at their fields, and
// `done(answer)` once the API took it.
export function apiForm({ attrs, method, path, build, done, fields, submit }) {
  const call = apiCall(method, path, build);
  const form = h("form", attrs, fields, call.box, formError(),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, submit[0]), submit.slice(1)));
  form.addEventListener("input", () => call.refresh());
  form.addEventListener("change", () => call.refresh());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblem(form);
    try {
      done(await api(method, path, build()));
    } catch (error) {
      showProblem(form, error);
    }
  });
  form.refreshCall = call.refresh;
  return form;
}

// A table of every record of a short list (subscriptions, schedules), read again by `load()`.
export function recordTable(ctx, path, columns, row) {
  const body = h("tbody");
  const table = h("table", { class: "list" }, h("thead", {}, h("tr", {}, columns.map((n) => h("th", {}, n)))), body);
  let last = null;
  async function load() {
    try {
      const items = await all(path);
      const text = JSON.stringify(items);
      if (text === last) return; // unchanged: rows (and a button about to be clicked) stay
      last = text;
      const spot = focusSpot(body);
      body.replaceChildren(...items.map((item) => row(item, load)));
      if (!items.length) body.append(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "None yet.")));
      if (spot && focusLost()) refocusSpot(body, spot);
    } catch (error) {
      ctx.fail(error, `GET ${path}`);
    }
  }
  return { table, box: scrolling(table), load };
}

// Where the focus is in a table of records: the record's row (by id), the place of the control among the row's, and
// the rows around it. The rows are drawn again after each change (a Pause, a Delete): the control in the same place
// of the same row takes the focus back (Resume, where Pause was), or the row that took a deleted one's place.
const CONTROLS = "a[href], button, input, select, textarea";

function focusSpot(body) {
  const el = document.activeElement;
  const tr = el?.closest?.("tr[data-id]");
  if (!tr || !body.contains(tr)) return null;
  const around = [tr.nextElementSibling, tr.previousElementSibling].map((other) => other?.dataset.id).filter(Boolean);
  return { ids: [tr.dataset.id, ...around], index: [...tr.querySelectorAll(CONTROLS)].indexOf(el) };
}

function refocusSpot(body, spot) {
  for (const [i, id] of spot.ids.entries()) {
    const tr = body.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (!tr) continue;
    const controls = [...tr.querySelectorAll(CONTROLS)];
    const same = i === 0 ? controls[spot.index] : null;
    (same && !same.disabled ? same : controls.find((el) => !el.disabled))?.focus({ preventScroll: true });
    return;
  }
}

// A table in a box of its own that scrolls sideways when the window is narrower than the table.
export function scrolling(table) {
  return h("div", { class: "table-scroll" }, table);
}

// One button's API call on a record, then `after()`; a refusal is a notice.
export async function act(ctx, label, method, path, body, after) {
  try {
    await api(method, path, body);
    ctx.notify(label);
    after();
  } catch (error) {
    ctx.fail(error, label);
  }
}
