// The dashboard: hash routes, the token prompt, the live indicator, notices, and what views share (the catalog,
// subscriptions by id, the public key).

import { ApiError, all, auth, follow, get, sendable } from "./api.js";
import { deliveriesView } from "./deliveries.js";
import { deliveryView } from "./delivery.js";
import { h } from "./dom.js";
import { runsView, runView } from "./runs.js";
import { schedulesView } from "./schedules.js";
import { openEmit, openStart } from "./start.js";
import { subscriptionsView } from "./subscriptions.js";

const view = document.getElementById("view");
const live = document.getElementById("live");
let cleanup = () => {};

const ROUTES = [
  [/^\/?$/, deliveriesView, "deliveries"],
  [/^\/deliveries\/([^/]+)$/, deliveryView, "deliveries"],
  [/^\/runs$/, runsView, "runs"],
  [/^\/runs\/([^/]+)$/, runView, "runs"],
  [/^\/subscriptions$/, subscriptionsView, "subscriptions"],
  [/^\/schedules$/, schedulesView, "schedules"],
];

// What views share: cached lookups, the stream, notices, navigation.
const cache = { types: null, subscriptions: new Map(), key: null };
const known = { providers: new Map(), subscriptions: new Map() }; // what the lookups above have answered
const ctx = {
  async types() {
    cache.types ??= all("/events").then((types) => {
      for (const t of types) known.providers.set(t.name, t.provider);
      return types;
    }, (error) => {
      cache.types = null;
      throw error;
    });
    return cache.types;
  },
  // The answers already in hand, without waiting (a long list is built in one go).
  providerNow: (typeName) => known.providers.get(typeName),
  subscriptionNow: (id) => known.subscriptions.get(id),
  async provider(typeName) {
    const types = await ctx.types();
    return types.find((t) => t.name === typeName || t.type === typeName)?.provider ?? "";
  },
  subscription(id) {
    if (!cache.subscriptions.has(id)) {
      const found = get(`/subscriptions/${encodeURIComponent(id)}`).then((sub) => {
        known.subscriptions.set(id, sub);
        return sub;
      }, () => null);
      cache.subscriptions.set(id, found);
    }
    return cache.subscriptions.get(id);
  },
  forgetSubscription(id) {
    cache.subscriptions.delete(id);
    known.subscriptions.delete(id);
  },
  publicKey() {
    cache.key ??= fetch("/keys/webhooks.pem").then((r) => (r.ok ? r.text() : null));
    return cache.key;
  },
  follow(params, on) {
    return follow(params, on, (state) => {
      live.dataset.state = state;
      live.textContent = { live: "live", reconnecting: "reconnecting…", off: "offline" }[state] ?? state;
    });
  },
  lastList: null, // the deliveries list's route last shown (its filters and page): "← Deliveries" goes back to it
  from: null, // the route shown before this one: Escape on a delivery goes back to it
  navigate(route) {
    location.hash = "#" + route;
  },
  notify,
  fail,
};

export function notify(message, kind = "info") {
  const box = document.getElementById("toasts");
  const toast = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(toast);
  setTimeout(() => toast.remove(), kind === "error" ? 10000 : 5000);
  return toast;
}

// An API refusal or a failure shown to the user (never thrown at the console: it is an answer, not a bug). A
// refused token is the prompt's to say: its notices go as soon as a call gets through with the next one, and a
// refusal of a token replaced since is not told at all.
export function fail(error, where = "") {
  if (error instanceof ApiError && error.stale) return;
  const text = error instanceof ApiError ? error.problem.detail || error.message : String(error?.message || error);
  const toast = notify(where ? `${where}: ${text}` : text, "error");
  if (error instanceof ApiError && error.status === 401) toast.classList.add("unauthorized");
}

let shown = null; // the route shown now

function route() {
  cleanup();
  cleanup = () => {};
  const raw = location.hash.replace(/^#/, "") || "/";
  if (raw !== shown) [ctx.from, shown] = [shown, raw];
  const [path, search] = raw.split("?");
  const params = Object.fromEntries(new URLSearchParams(search || ""));
  for (const [pattern, render, nav] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("current", a.dataset.nav === nav));
    if (match[1]) {
      try {
        params.id = decodeURIComponent(match[1]);
      } catch {
        // A broken percent-escape (typed, or cut short by a copy): said, and the page stays usable.
        const what = `The address has a malformed percent-escape: ${match[1]}`;
        view.replaceChildren(h("p", { class: "error" }, `${what}. `), h("a", { href: "#/" }, "Deliveries"));
        notify(what, "error");
        return;
      }
    }
    view.replaceChildren();
    cleanup = render(view, params, ctx) || (() => {});
    return;
  }
  view.replaceChildren(h("p", { class: "error" }, "No such page. "), h("a", { href: "#/" }, "Deliveries"));
}

function askToken(message = "") {
  const dialog = document.getElementById("token-dialog");
  const error = document.getElementById("token-error");
  error.hidden = !message;
  error.textContent = message;
  if (!dialog.open) dialog.showModal();
  document.getElementById("token-input").focus();
}

const REFUSED = "The server refused that token.";
// Tokens are printable ASCII; a character beyond (a typographic quote pasted from a document) is named.
function unsendable(token) {
  const bad = [...token].find((c) => !sendable(c));
  return bad ? `Tokens are printable ASCII: a request cannot carry the “${bad}” in that one.` : "Tokens are printable ASCII.";
}
let refused = false; // the token entered last was refused: said until another is entered

function setup() {
  document.getElementById("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("token-input");
    const token = input.value.trim();
    if (!sendable(token)) {
      askToken(unsendable(token));
      return;
    }
    auth.set(token);
    refused = false;
    input.value = "";
    document.getElementById("token-dialog").close();
    route();
  });
  document.getElementById("token-dialog").addEventListener("cancel", (event) => event.preventDefault());
  // Calls that went out without a token after the refusal cleared it are refused too: the refusal stays the word.
  auth.onUnauthorized((sent) => {
    refused ||= sent;
    askToken(refused ? REFUSED : "This server now asks for a token.");
  });
  auth.onAuthorized(() => {
    refused = false;
    document.querySelectorAll("#toasts .toast.unauthorized").forEach((t) => t.remove());
  });
  document.getElementById("open-start").addEventListener("click", () => openStart(ctx));
  document.getElementById("open-emit").addEventListener("click", () => openEmit(ctx));
  window.addEventListener("hashchange", route);
  // Leaving the page ends its stream at once (a browser may otherwise keep the connection open a while).
  window.addEventListener("pagehide", () => cleanup());
  if (auth.required && !auth.token) {
    askToken(auth.unsendable ? "The token this tab kept cannot be sent (tokens are printable ASCII): enter it again." : "");
    return;
  }
  route();
}

setup();
