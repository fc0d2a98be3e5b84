// Building the page. Elements are made from text only, never from markup: bodies, headers and errors come from
// receivers and users, and whatever they contain stays text.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  add(el, children);
  return el;
}

// Every text goes in bidi-safe (see BIDI): marked where it was shown, a header's U+202E still turned the rest of
// its cell around, and an event's on a run's timeline.
export function add(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    if (child instanceof Node) el.append(child);
    else el.append(...[bidiSafe(String(child))].flat());
  }
  return el;
}

// An element's text replaced, bidi-safe (what `el.textContent = text` would do, with each control marked).
export function setText(el, text) {
  el.replaceChildren(...[bidiSafe(String(text ?? ""))].flat());
}

// Characters that reorder the text around them on screen (bidi embeddings, overrides, isolates and marks): a
// receiver's U+202E showed {"note": "evil.exe", "amount": 100} as {"note": "}001 :"tnuoma" ,"exe.live. Each stays
// in the text (what is copied, or read by a test, is the body) but in an isolate of its own, which its effect
// cannot leave, marked by its code point.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const BIDI_SPLIT = new RegExp(`(${BIDI.source})`);

// `text` as children for h(): itself, or pieces with each bidi control marked (see BIDI).
export function bidiSafe(text) {
  if (!BIDI.test(text)) return text;
  return text.split(BIDI_SPLIT).map((piece, i) => {
    if (i % 2 === 0) return piece;
    const code = `U+${piece.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
    // Made here, not with h(): its text is the control itself, which h() would mark again, without end.
    const span = document.createElement("span");
    span.className = "bidi";
    span.title = `${code}: a character that reorders text, shown as its code`;
    span.dataset.code = code;
    span.textContent = piece;
    return span;
  });
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// A link inside the page (hash routes only: never a URL that came from data).
export function link(route, ...children) {
  return h("a", { href: "#" + route }, ...children);
}

const STATUSES = new Set([
  "pending", "succeeded", "failed", "dead", "dropped", "running", "completed", "cancelled", "enabled", "disabled",
  "paused",
]);

export function badge(status) {
  const known = STATUSES.has(status) ? status : "other";
  return h("span", { class: `badge s-${known}`, dataset: { status: String(status) } }, String(status));
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

export function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// Times are shown in the browser's zone, which is named: beside a receiver's `date` header in GMT, a bare
// 21:02 read as the same clock.
function zone(d) {
  const part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(d).find((p) => p.type === "timeZoneName");
  return part ? part.value : "";
}

export function dateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time(iso)} ${zone(d)}`.trimEnd();
}

// A list's time: the clock alone today, the date before it on other days (a day-old row looked like today's).
export function timeCell(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return h("time", { datetime: iso || "", title: iso || "" }, time(iso));
  const today = d.toDateString() === new Date().toDateString();
  const text = today ? time(iso) : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time(iso)}`;
  return h("time", { datetime: iso, title: `${dateTime(iso)} (${iso})` }, text);
}

export function ms(value) {
  if (value === null || value === undefined) return "";
  return value < 1000 ? `${value.toFixed(value < 10 ? 1 : 0)} ms` : `${(value / 1000).toFixed(2)} s`;
}

export function relative(iso) {
  if (!iso) return "";
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const span = Math.abs(seconds);
  const text = span < 90 ? `${span.toFixed(0)} s` : span < 5400 ? `${(span / 60).toFixed(0)} min` : `${(span / 3600).toFixed(1)} h`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

// Key and value rows (headers, a record's fields).
export function pairs(entries, cls = "pairs") {
  return h("table", { class: cls },
    h("tbody", {}, entries.map(([k, v]) => h("tr", { dataset: { name: String(k).toLowerCase() } },
      h("th", {}, String(k)), h("td", {}, v instanceof Node ? v : String(v ?? ""))))));
}

// `help`: a text, or an element of its own (one the form changes as it is filled in).
export function field(label, input, help) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), input,
    help instanceof Node ? help : help ? h("small", { class: "help" }, help) : null);
}

// `fn` at most once per `wait` ms however often it is asked for (the last ask is never lost); `.cancel()`.
export function throttled(fn, wait = 1000) {
  let timer = null;
  let last = 0;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const call = () => {
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + wait - Date.now()));
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}

// The async `fn` run when asked, never twice at once: asks while it runs become one more run after it ends, and
// a run starts `gap` ms after the previous one started at the earliest. A read that takes longer than the changes
// it follows come in then falls behind by one read, never by a pile of them. `.cancel()` drops what is asked.
export function coalesced(fn, gap = 0) {
  let timer = null;
  let running = false;
  let again = false;
  let started = -Infinity;
  let cancelled = false;
  const schedule = () => {
    timer = setTimeout(run, Math.max(0, started + gap - Date.now()));
  };
  const run = async () => {
    timer = null;
    running = true;
    again = false;
    started = Date.now();
    try {
      await fn();
    } finally {
      running = false;
      if (again && !cancelled) schedule();
    }
  };
  const call = () => {
    if (cancelled) return;
    if (running) again = true;
    else if (!timer) schedule();
  };
  call.cancel = () => {
    cancelled = true;
    clearTimeout(timer);
  };
  return call;
}

export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

// The focus through a redraw: an element that can have it carries a `data-focus` name, and the element of that name
// in what replaced it takes the focus back (a live update, or a filter that rebuilt the view, had sent it to the
// body, and the next Tab to the top of the page).
export function focusedName(root) {
  const el = document.activeElement;
  return el && root.contains(el) ? el.closest("[data-focus]")?.dataset.focus ?? null : null;
}

// Nothing has the focus: what had it was redrawn away (a user who moved it elsewhere is left there).
export function focusLost() {
  return !document.activeElement || document.activeElement === document.body;
}

// The first of `names` that `root` shows and can focus takes the focus (without scrolling to it); it is returned.
export function refocus(root, names) {
  for (const name of names) {
    if (!name) continue;
    const el = root.querySelector(`[data-focus="${CSS.escape(name)}"]`);
    if (!el || el.disabled || el.closest("[hidden]")) continue;
    el.focus({ preventScroll: true });
    // A text field taken back is typed on at the end of what it holds.
    if (el.tagName === "INPUT" && ["text", "search"].includes(el.type)) {
      el.setSelectionRange(el.value.length, el.value.length);
    }
    return el;
  }
  return null;
}
