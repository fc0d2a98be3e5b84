// Deliveries, newest first, live: GET /deliveries?order=newest for a page, GET /stream with the same filters for
// what changes after. On the first page new deliveries are inserted at the top as they are made; rows already
// shown change in place; a delivery that stops matching the filters (a `pending` one that succeeded) leaves.
// The stream tells every change, also of deliveries older than the page (a retry, a resend): one the page does
// not show goes where its age puts it, so only deliveries newer than the top row are counted as newer.

import { get } from "./api.js";
import { badge, debounce, field, focusLost, focusedName, h, ms, refocus, setText, timeCell } from "./dom.js";

const FILTERS = ["run", "subscription", "status", "type", "q"];
const STATUSES = ["", "pending", "succeeded", "failed", "dead", "dropped"];
const SIZES = [50, 100, 500, 1000];
const API_PAGE = 500; // GET /deliveries answers at most 500 at a time
// What had the focus when the view was last left (a filter changed, a page turned, a row opened: the view is built
// anew then), by its `data-focus` name: the new view gives it back, a row once the list is read.
let kept = null;

export function deliveriesView(root, params, ctx) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params[k] || ""]));
  const size = SIZES.includes(Number(params.limit)) ? Number(params.limit) : 100;
  // `rows`: the rows shown, by delivery id; `room`: how many the first page may show (a page's worth read, and as
  // many again arriving live); `waiting`: the deliveries that arrived beyond it and still match, oldest first, by id
  // (each is told by the stream at every change: counted by id, a delivery is counted once). `floor`: the creation
  // time of the last row read when there are older ones (null when the page reaches the first delivery): a delivery
  // no newer belongs to the older pages. `buffer`: what the stream told while a read was under way, told again
  // after it (a delivery made in between was neither in the read nor shown).
  const state = { cursor: params.cursor || null, next: null, rows: new Map(), room: 0, waiting: new Map(), loads: 0,
    floor: null, buffer: null };
  const body = h("div", { class: "rows", role: "rowgroup" });
  const summary = h("p", { class: "summary muted" }, "Loading…");
  const banner = h("button", { type: "button", class: "banner", hidden: true, dataset: { focus: "banner" },
    onclick: () => load() });
  const older = h("button", { type: "button", disabled: true, dataset: { focus: "older" },
    onclick: () => go({ cursor: state.next }) }, "Older →");
  const newest = h("button", { type: "button", disabled: !state.cursor, dataset: { focus: "newest" },
    onclick: () => go({ cursor: "" }) }, "← Newest");
  // A delivery's "← Deliveries" comes back here, filters and page as they were.
  ctx.lastList = location.hash.replace(/^#/, "") || "/";

  function go(changes) {
    const next = { ...filters, limit: size === 100 ? "" : size, cursor: state.cursor || "", ...changes };
    const search = new URLSearchParams(Object.entries(next).filter(([, v]) => v !== "" && v !== null)).toString();
    ctx.navigate("/" + (search ? "?" + search : ""));
  }

  root.append(
    h("h1", {}, "Deliveries"),
    filterBar(filters, size, go, ctx),
    summary,
    banner,
    // Rows of a grid, not a table: each row is laid out only when scrolled into view (content-visibility), which
    // made a page of 1,000 paint in tens of milliseconds instead of about a second.
    h("div", { class: "grid deliveries", id: "deliveries", role: "table" },
      h("div", { class: "row head", role: "row" }, ["Time", "Event", "Target", "Status", "Attempts", "HTTP", "Latency",
        "Faults"].map((name) => h("span", { role: "columnheader" }, name))),
      body),
    h("div", { class: "pager" }, newest, older),
  );
  // What had the focus in the view left takes it back: a filter now; a row or a page button once the page is read
  // (which enables "Older →": on the last page, "← Newest" takes it). A user who moved the focus meanwhile is left
  // there.
  const pageButton = kept === "older" || kept === "newest";
  let wanted = pageButton ? [kept, "older", "newest"] : kept ? [kept] : null;
  kept = null;
  const afterRead = pageButton || wanted?.[0].startsWith("row:");
  if (wanted && !afterRead && (!focusLost() || refocus(root, wanted))) wanted = null;
  body.addEventListener("keydown", rowKeys);

  async function load() {
    const started = performance.now();
    const load = ++state.loads;
    state.buffer = []; // what the stream tells from now on may have changed after the read
    try {
      const found = [];
      let cursor = state.cursor;
      do {
        const limit = Math.min(API_PAGE, size - found.length);
        const page = await get("/deliveries", { ...filters, order: "newest", limit, cursor });
        found.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor && found.length < size);
      // Names and URLs first, so a thousand rows are built in one go and laid out once.
      await Promise.all([ctx.types().catch(() => null), ...new Set(found.map((d) => d.subscription_id))].map((id) =>
        typeof id === "string" ? ctx.subscription(id) : id));
      if (load !== state.loads) return; // a newer load is under way
      const fetched = performance.now();
      const had = focusedName(root);
      state.next = cursor;
      state.floor = cursor && found.length ? created(found[found.length - 1]) : null;
      state.rows.clear();
      state.waiting.clear();
      state.room = found.length + size;
      showBanner();
      const fragment = document.createDocumentFragment();
      for (const d of found) fragment.append(track(d));
      body.replaceChildren(fragment);
      older.disabled = !state.next;
      // The rows read again keep the focus on the one that had it (or the top one); the bar that asked for them
      // gives it to the top row.
      const top = body.firstElementChild ? rowName(body.firstElementChild.dataset.id) : null;
      if (had?.startsWith("row:")) refocus(root, [had, top]);
      else if (had === "banner") refocus(root, [top]);
      // Back to the list from a delivery, or a page turned: what had the focus when the view was left.
      else if (wanted && focusLost()) refocus(root, wanted)?.scrollIntoView({ block: "nearest" });
      wanted = null;
      showSummary();
      // Timings for whoever asks (the browser tests print them): after the next frame is painted.
      requestAnimationFrame(() => setTimeout(() => {
        const now = performance.now();
        window.dashboard = { listed: { rows: found.length, fetchMs: fetched - started, renderMs: now - fetched, at: now } };
      }));
    } catch (error) {
      summary.textContent = "Could not read the deliveries.";
      ctx.fail(error, "GET /deliveries");
    } finally {
      if (load === state.loads) {
        const told = state.buffer;
        state.buffer = null;
        for (const message of told) apply(message);
      }
    }
  }

  function track(d) {
    const tr = row(d, ctx);
    state.rows.set(d.id, tr);
    return tr;
  }

  function showSummary() {
    const shown = state.rows.size;
    const where = state.cursor ? "an older page" : "newest first, live";
    summary.textContent = `${shown} ${shown === 1 ? "delivery" : "deliveries"} (${where})`;
  }

  function showBanner() {
    const n = state.waiting.size;
    banner.hidden = !n;
    banner.textContent = `${n} newer ${n === 1 ? "delivery" : "deliveries"} — show`;
  }

  function changed(message) {
    if (state.buffer) state.buffer.push(message);
    else apply(message);
  }

  function apply(message) {
    // A row that changes keeps the focus; one that leaves gives it to the row that takes its place.
    const focused = document.activeElement?.closest?.(".delivery");
    let heir = null;
    for (const id of message.left) {
      const gone = state.rows.get(id);
      if (gone && gone === focused) heir = gone.nextElementSibling ?? gone.previousElementSibling;
      gone?.remove();
      state.rows.delete(id);
      state.waiting.delete(id);
    }
    // Oldest first, so the newest ends up first: by creation, then (many made in one write share a time) by the
    // time an id begins with, then in the message's own order.
    const told = [...message.data].reverse().sort((a, b) => created(a) - created(b) || idTime(a) - idTime(b));
    for (const d of told) {
      const shown = state.rows.get(d.id);
      if (shown) {
        const tr = track(d);
        shown.replaceWith(tr);
        if (shown === focused) refocus(tr, [rowName(d.id)]);
      } else if (state.waiting.has(d.id)) state.waiting.set(d.id, d);
      else if (!state.cursor) arrive(d);
    }
    // Rows that left make room: those waiting take it, oldest first.
    for (const [id, d] of state.waiting) {
      if (state.rows.size >= state.room) break;
      state.waiting.delete(id);
      body.prepend(track(d));
    }
    if (heir?.isConnected && focusLost()) refocus(heir, [rowName(heir.dataset.id)]);
    showBanner();
    showSummary();
  }

  // A delivery not shown: newer than the top row, it goes on top, or is counted once the page has had its page's
  // worth of arrivals (behind others already waiting it waits too, so the page stays in order); among the rows
  // (one that starts to match the filters), it goes in its place; older than the page reaches, it is the older
  // pages' (a resend of an old delivery is not a new one).
  function arrive(d) {
    const at = created(d);
    const top = body.firstElementChild;
    const topAt = top ? Number(top.dataset.created) : null;
    const newer = topAt === null || at > topAt;
    // A read cut within one millisecond leaves others of that millisecond below it: a tie with the floor is theirs.
    if (!newer && state.floor !== null && at <= state.floor) return;
    // The top row's millisecond, above the floor: made after the top row (an older one would be shown).
    if (newer || at === topAt) {
      if (state.waiting.size || state.rows.size >= state.room) state.waiting.set(d.id, d);
      else body.prepend(track(d));
      return;
    }
    const tr = track(d);
    const next = [...body.children].find((other) => Number(other.dataset.created) < at);
    if (next) next.before(tr);
    else body.append(tr);
  }

  // The list is read when the stream is open (so no change falls between the two), or after a while without it.
  const fallback = setTimeout(load, 1500);
  const ready = () => {
    clearTimeout(fallback);
    load();
  };
  const stop = ctx.follow(filters, { ready, deliveries: changed, reload: load });
  return () => {
    kept = focusedName(root);
    clearTimeout(fallback);
    stop();
  };
}

const rowName = (id) => `row:${id}`;

// A row's link opens the delivery with Enter (a link's own key) or Space (a row's, as in a list of items); the arrow
// keys go to the row below or above.
function rowKeys(event) {
  const open = event.target.closest?.(".delivery a[data-focus]");
  if (!open || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const row = open.closest(".delivery");
  if (event.key === " ") {
    event.preventDefault();
    open.click();
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const next = event.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
    if (!next) return;
    event.preventDefault();
    next.querySelector("a[data-focus]").focus();
  }
}

// The order of `GET /deliveries?order=newest` is the order deliveries were made in: a delivery carries the time,
// to the millisecond, which is what the page can compare.
const created = (d) => Date.parse(d.created_at);
// A delivery's id begins with the milliseconds it was made at, in hex (`msg_1a2359fec5c…`).
const idTime = (d) => parseInt(/^[a-z]+_([0-9a-f]{11})/.exec(d.id)?.[1] ?? "0", 16);

// A narrow column cuts a long URL short: its title holds it whole (the event's too, though its cell wraps).
function row(d, ctx) {
  const target = h("span", { class: "target", role: "cell" });
  const showTarget = (text) => {
    setText(target, text);
    target.title = text;
  };
  const sub = ctx.subscriptionNow(d.subscription_id);
  if (sub) showTarget(sub.url);
  else {
    showTarget(d.subscription_id);
    ctx.subscription(d.subscription_id).then((found) => {
      if (found) showTarget(found.url);
    });
  }
  const provider = ctx.providerNow(d.type);
  const event = h("span", { class: "event", role: "cell", title: provider ? `${provider} · ${d.type}` : d.type },
    provider ? [h("span", { class: "provider" }, provider), " · "] : null, d.type);
  const faults = d.faults ? Object.keys(d.faults).join(", ") : "";
  const cell = (cls, ...content) => h("span", { class: cls, role: "cell" }, ...content);
  return h("div", { class: "row delivery", role: "row", dataset: { id: d.id, status: d.status, created: created(d) } },
    cell("time", h("a", { href: `#/deliveries/${encodeURIComponent(d.id)}`, dataset: { focus: rowName(d.id) } },
      timeCell(d.created_at))),
    event,
    target,
    cell("status", badge(d.status)),
    cell("num attempts", String(d.attempts)),
    cell("num http", d.last_status ?? (d.last_error ? "—" : "")),
    cell("num latency", ms(d.last_latency_ms)),
    cell("faults", faults),
  );
}

function filterBar(filters, size, go, ctx) {
  const input = (name, placeholder) => h("input", { name, value: filters[name], placeholder, size: 18,
    dataset: { focus: `filter:${name}` } });
  const run = input("run", "run id");
  const sub = input("subscription", "subscription id");
  const status = h("select", { name: "status", dataset: { focus: "filter:status" } },
    STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "any")));
  // The address's own type is an option from the start (the catalog is read after), so a filter changed
  // meanwhile keeps it; a type the catalog does not know stays too, as written.
  const own = filters.type ? h("option", { value: filters.type, selected: true }, filters.type) : null;
  const type = h("select", { name: "type", dataset: { focus: "filter:type" } }, h("option", { value: "" }, "any"), own);
  const q = h("input", { name: "q", type: "search", value: filters.q, placeholder: "text in the body", size: 22,
    dataset: { focus: "filter:q" } });
  const limit = h("select", { name: "limit", dataset: { focus: "filter:limit" } },
    SIZES.map((n) => h("option", { value: n, selected: n === size }, `${n} a page`)));
  ctx.types().then((types) => {
    // The address may name a type in any form the API takes (`provider:type`, bare, an alias): its option takes
    // that form as its value, so the address keeps what it said.
    const named = types.find((t) => [t.type, t.name, ...(t.aliases || [])].includes(filters.type));
    if (named) own.remove();
    for (const t of types) {
      type.append(h("option", { value: t === named ? filters.type : t.name, selected: t === named }, t.type));
    }
  }).catch((error) => ctx.fail(error, "GET /events"));
  const apply = () => go({ run: run.value.trim(), subscription: sub.value.trim(), status: status.value, type: type.value,
    q: q.value.trim(), limit: Number(limit.value) === 100 ? "" : limit.value, cursor: "" });
  for (const el of [status, type, limit]) el.addEventListener("change", apply);
  for (const el of [run, sub]) el.addEventListener("change", apply);
  q.addEventListener("input", debounce(apply, 400));
  const reset = h("button", { type: "button", dataset: { focus: "filter:clear" },
    onclick: () => go({ run: "", subscription: "", status: "", type: "", q: "", cursor: "" }) }, "Clear");
  return h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); apply(); } },
    field("Status", status), field("Type", type), field("Search", q), field("Run", run), field("Subscription", sub),
    field("Page", limit), reset);
}
