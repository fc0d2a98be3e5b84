// One delivery: GET /deliveries/{id}, its attempts newest first, each with the request exactly as sent and the
// answer; Resend (POST /deliveries/{id}/redeliver) and copy as curl. It follows GET /stream and reads the
// delivery again when it changes.

import { api, get } from "./api.js";
import { add, badge, bidiSafe, clear, dateTime, focusLost, focusedName, h, link, ms, pairs, refocus, relative,
  timeCell } from "./dom.js";
import { prettyJson } from "./jsonfmt.js";
import { bodyBytes, curl, verification } from "./verify.js";

const SIGNATURE_HEADERS = new Set(["webhook-id", "webhook-timestamp", "webhook-signature", "bt-signature",
  "bt-signature-version", "request-signature"]);

export function deliveryView(root, params, ctx) {
  const id = params.id;
  let stop = () => {};
  let pending = null;
  let shown = false;

  let last = null;
  // What is to have the focus after the next redraw, by its `data-focus` name: what had it before, or a Resend that
  // was disabled meanwhile (the heading holds the focus until Resend can take it back).
  let want = null;
  const hold = (name) => {
    want = name;
  };
  const back = () => ctx.lastList ?? "/";
  const opener = ctx.from ?? back(); // the list, a run's page: where Escape goes back to

  async function load() {
    try {
      const d = await get(`/deliveries/${encodeURIComponent(id)}`);
      const text = JSON.stringify(d);
      if (text === last) return; // unchanged: the page (and what is open or selected in it) stays as it is
      last = text;
      const sub = await ctx.subscription(d.subscription_id);
      const kept = userState(root);
      const before = focusedName(root);
      if (before === "title") want ??= "title";
      else if (before || !focusLost()) want = before; // the focus is elsewhere on the page: it stays there
      add(clear(root), page(d, sub, ctx, load, kept, shown, hold, back()));
      if (kept.selected) selectText(root.querySelector(`pre.curl[data-key="${CSS.escape(kept.selected)}"]`));
      // Opened from the list (whose row is gone) or by its address: the heading, so Tab goes on into the delivery.
      if (!shown && focusLost()) refocus(root, ["title"]);
      else if (want && refocus(root, [want])) want = null;
      else if (want && focusLost()) refocus(root, ["title"]);
      if (!shown) {
        shown = true;
        stop = ctx.follow({ subscription: d.subscription_id }, { ready: soon, deliveries: (m) => {
          if (m.data.some((x) => x.id === id) || m.left.includes(id)) soon();
        } });
      }
    } catch (error) {
      root.replaceChildren(h("h1", {}, "Delivery"), h("p", { class: "error" }, `Cannot read delivery ${id}.`),
        link(back(), "← Deliveries"));
      ctx.fail(error, `GET /deliveries/${id}`);
    }
  }

  function soon() {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      load();
    }, 150);
  }

  // Escape closes the delivery: back to the page it was opened from (on the list, its row takes the focus back). A
  // dialog open over the page takes its own Escape.
  const escape = (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (document.querySelector("dialog[open]")) return;
    event.preventDefault();
    ctx.navigate(opener);
  };
  document.addEventListener("keydown", escape);

  load();
  return () => {
    document.removeEventListener("keydown", escape);
    clearTimeout(pending);
    stop();
  };
}

// What the user opened or toggled on the page, by key, for the redraw to keep: the verification steps opened, the
// bodies shown raw, the curl commands shown, and the one selected to be copied by hand (the selection goes with the
// nodes it was in).
function userState(root) {
  const keys = (selector) => new Set([...root.querySelectorAll(selector)].map((el) => el.dataset.key));
  const selection = getSelection();
  const node = selection.rangeCount ? selection.getRangeAt(0).commonAncestorContainer : null;
  const element = node?.nodeType === Node.ELEMENT_NODE ? node : node?.parentElement;
  return {
    open: keys("details[open][data-key]"),
    raw: keys('pre.body[data-view="raw"][data-key]'),
    curl: keys("pre.curl:not([hidden])[data-key]"),
    selected: element && root.contains(element) ? element.closest("pre.curl")?.dataset.key ?? null : null,
  };
}

function page(d, sub, ctx, reload, kept, rerender, hold, list) {
  // A delivery waiting for its next retry is sent now (its retry budget as it stands); a first attempt under way
  // has no outcome to resend from yet.
  const active = d.status === "pending";
  const waiting = d.status === "failed";
  const resend = h("button", { type: "button", class: "primary", id: "resend", disabled: active,
    dataset: { focus: "resend" }, title: active ? "Still being delivered" : waiting ? "Send its next attempt now: POST /deliveries/{id}/redeliver"
      : "POST /deliveries/{id}/redeliver" }, "Resend");
  resend.addEventListener("click", async () => {
    // Disabled while it is sent, it loses the focus: it takes it back when it can.
    if (document.activeElement === resend) hold("resend");
    resend.disabled = true;
    try {
      await api("POST", `/deliveries/${encodeURIComponent(d.id)}/redeliver`);
      ctx.notify(`Delivery ${d.id} sent again`);
      reload();
    } catch (error) {
      resend.disabled = false;
      if (focusLost()) resend.focus();
      ctx.fail(error, "Resend");
    }
  });
  const eventType = h("span", { class: "event-type" }, d.type);
  const facts = [
    ["Event", eventType],
    ["Event ids", d.event_ids.join(", ")],
    ["Subscription", h("span", {}, d.subscription_id, sub ? h("span", { class: "url" }, " ", sub.url) : null)],
    ["Run", d.run_id ? h("a", { href: `#/runs/${encodeURIComponent(d.run_id)}`, dataset: { focus: "run" } }, d.run_id)
      : "— (emitted one by one)"],
    ["Created", dateTime(d.created_at)],
    ["Finished", d.finished_at ? dateTime(d.finished_at) : "—"],
    ["Attempts", String(d.attempts)],
  ];
  if (d.next_attempt_at) facts.push(["Next attempt", `${dateTime(d.next_attempt_at)} (${relative(d.next_attempt_at)})`]);
  if (d.last_error) facts.push(["Last error", h("span", { class: "error-text" }, d.last_error)]);
  if (d.faults) facts.push(["Faults injected", h("code", {}, JSON.stringify(d.faults))]);
  ctx.provider(d.type).then((p) => {
    if (p) eventType.textContent = `${p} · ${d.type}`;
  }).catch(() => {});
  const attempts = [...d.attempt_log].reverse();
  return [
    h("p", {}, h("a", { href: "#" + list, dataset: { focus: "back" } }, "← Deliveries")),
    h("div", { class: "title" },
      h("h1", { tabindex: -1, dataset: { focus: "title" } }, "Delivery ", h("code", {}, d.id)), badge(d.status), resend),
    pairs(facts, "pairs facts"),
    h("h2", {}, `Attempts (${d.attempt_log.length})`),
    attempts.length ? null : noAttempt(d),
    attempts.map((a, i) => attempt(a, d, sub, ctx, i === 0, kept, rerender)),
  ];
}

// A delivery the `drop` fault dropped is never sent: "No attempt yet" promised one.
function noAttempt(d) {
  if (d.status !== "dropped") return h("p", { class: "muted no-attempt" }, "No attempt yet.");
  const why = d.faults?.drop ? ["The ", h("code", {}, "drop"), " fault dropped this delivery"] : ["This delivery was dropped"];
  return h("p", { class: "muted no-attempt dropped" }, ...why, ": it is never sent.");
}

function attempt(a, d, sub, ctx, latest, kept, rerender) {
  const next = d.attempt_log.find((x) => x.number === a.number + 1);
  const outcome = a.status_code !== null ? `HTTP ${a.status_code}` : a.error_kind || "no answer";
  const when = [];
  if (next) when.push(`retried at ${dateTime(next.started_at)}`);
  else if (latest && d.next_attempt_at) when.push(`next retry at ${dateTime(d.next_attempt_at)} (${relative(d.next_attempt_at)})`);
  // The kind's badge already says HTTP: the answer's status follows it.
  const problem = a.error || (a.error_kind === "http" ? `status ${a.status_code}` : null);
  const error = a.error_kind ? h("div", { class: "attempt-error" },
    h("span", { class: `kind k-${a.error_kind}` }, a.error_kind), " ", h("span", { class: "error-text" }, problem)) : null;
  const keep = (key, el) => {
    el.dataset.key = key;
    el.querySelector("summary").dataset.focus = key;
    if (kept.open.has(key) || (!rerender && key.startsWith("verify-") && latest)) el.open = true;
    return el;
  };
  return h("section", { class: `attempt ${a.status_code !== null && a.status_code < 300 ? "ok" : "bad"}`, dataset: { number: a.number } },
    h("h3", {}, `Attempt ${a.number}`, " · ", timeCell(a.started_at), " · ", h("span", { class: "outcome" }, outcome),
      " · ", ms(a.latency_ms), a.faults ? h("span", { class: "faults" }, " · faults: ", Object.keys(a.faults).join(", ")) : null),
    error,
    when.length ? h("p", { class: "muted next" }, when.join("; ")) : null,
    h("div", { class: "exchange" }, request(a, ctx, kept), response(a, kept)),
    a.request ? keep(`verify-${a.number}`, verification(a, d, sub, ctx)) : null,
  );
}

function request(a, ctx, kept) {
  const r = a.request;
  if (!r) return h("div", { class: "request" }, h("h4", {}, "Request"), h("p", { class: "muted" }, "Nothing was sent."));
  const headers = Object.entries(r.headers).map(([k, v]) => [k, h("code", { class: SIGNATURE_HEADERS.has(k.toLowerCase()) ? "signature" : "" }, v)]);
  const command = h("pre", { class: "curl", hidden: true, dataset: { key: `curl-${a.number}` } });
  const show = () => {
    command.replaceChildren(...[bidiSafe(curl(r))].flat());
    command.hidden = false;
  };
  const copy = h("button", { type: "button", class: "copy-curl", dataset: { focus: `copy-${a.number}` } },
    "Copy as curl");
  copy.addEventListener("click", async () => {
    show();
    try {
      await navigator.clipboard.writeText(command.textContent);
      ctx.notify("curl command copied");
    } catch {
      // No clipboard (an insecure origin, a headless browser): the command is shown, selected, to copy by hand.
      selectText(command);
      ctx.notify("Copy the selected command (the clipboard is not available here)");
    }
  });
  if (kept.curl.has(command.dataset.key)) show();
  return h("div", { class: "request" },
    h("h4", {}, "Request"),
    h("p", { class: "line" }, h("code", {}, `${r.method} ${r.url}`)),
    pairs(headers, "pairs headers"),
    body(r.body === null ? null : r.body_encoding === "base64" ? `(base64) ${r.body}` : r.body, "request-body",
      a.number, kept),
    h("div", { class: "buttons" }, copy),
    command,
  );
}

function response(a, kept) {
  const status = a.status_code !== null ? `HTTP ${a.status_code}` : "No answer";
  const headers = a.response_headers ? Object.entries(a.response_headers) : [];
  // An answer that is not UTF-8 is kept as base64, and said to be (as a request's body is).
  const answer = a.response !== null && a.response_encoding === "base64" ? `(base64) ${a.response}` : a.response;
  return h("div", { class: "response" },
    h("h4", {}, "Response"),
    h("p", { class: "line" }, h("code", {}, status), " in ", ms(a.latency_ms)),
    headers.length ? pairs(headers, "pairs headers") : null,
    a.status_code !== null ? cut(a) : null,
    a.status_code !== null ? body(answer, "response-body", a.number, kept) : null,
  );
}

// The log keeps an answer's first 64 KiB: a longer one is said to be cut, not shown as if it were whole.
const KEPT = 64 * 1024;

function cut(a) {
  if (a.error?.startsWith("the answer's body was cut short: ")) return h("p", { class: "muted cut" }, `The answer's body was cut short: ${a.error.slice(33).split("; ")[0]}.`);
  const kept = bodyBytes({ body: a.response, body_encoding: a.response_encoding })?.length ?? 0;
  const declared = Number((a.response_headers || {})["content-length"]);
  // Only a body that reaches the bound was cut by the log: a 204 or 304 that declares a length has no body at all
  // (HTTP says so), and was said to be "the first 0 bytes of 5,000".
  if (Number.isFinite(declared) && declared > kept && kept > KEPT - 4) {
    return h("p", { class: "muted cut" }, `The first ${kept.toLocaleString("en")} bytes of ${declared.toLocaleString("en")}: the log keeps 64 KiB of an answer.`);
  }
  // Without a length the body's size cannot tell a whole answer of 64 KiB from a longer one cut there (it said
  // "may have gone on" of both): the attempt's record says which, as the sender read it.
  const keptNote = (a.error || "").split("; ").find((part) => part.startsWith("the answer's body is kept to its first "));
  if (!Number.isFinite(declared) && keptNote) {
    return h("p", { class: "muted cut" }, `${keptNote[0].toUpperCase()}${keptNote.slice(1)}.`);
  }
  return null;
}

// A body with a Pretty / Raw toggle (pretty when it is JSON: re-indented, every token as sent). One shown raw before
// a redraw is shown raw again: it is known by its kind and its attempt's number (`request-body-2`).
function body(text, cls, number, kept) {
  if (text === null || text === undefined) return h("p", { class: "muted" }, "Body unknown.");
  if (text === "") return h("p", { class: "muted" }, "Empty body.");
  const pretty = prettyJson(text);
  if (pretty === null) {
    return h("div", { class: "body-box" }, h("pre", { class: `body ${cls}`, dataset: { view: "raw" } }, bidiSafe(text)));
  }
  const key = `${cls}-${number}`;
  const pre = h("pre", { class: `body ${cls}`, dataset: { key } });
  const toggle = h("button", { type: "button", class: "toggle", dataset: { focus: key } });
  const show = (view) => {
    pre.dataset.view = view;
    pre.replaceChildren(...[bidiSafe(view === "raw" ? text : pretty)].flat());
    toggle.textContent = view === "raw" ? "Pretty" : "Raw";
  };
  toggle.addEventListener("click", () => show(pre.dataset.view === "pretty" ? "raw" : "pretty"));
  show(kept.raw.has(key) ? "raw" : "pretty");
  return h("div", { class: "body-box" }, h("div", { class: "buttons" }, toggle), pre);
}

// The text of `el` selected, to be copied by hand.
function selectText(el) {
  if (!el) return;
  const range = document.createRange();
  range.selectNodeContents(el);
  getSelection().removeAllRanges();
  getSelection().addRange(range);
}
