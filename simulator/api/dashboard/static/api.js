// The control API, as the page calls it: the same documented routes any client uses. With a token configured,
// every call carries `Authorization: Bearer <token>`; the token lives in this tab's session storage only.

const KEY = "webhook-sim.token";
const listeners = { unauthorized: [], authorized: [] };

// A header's value is bytes: fetch refuses a token with a character beyond Latin-1 (a pasted ’) on every call, and
// one beyond ASCII would not be the server's UTF-8 bytes anyway.
export const sendable = (token) => /^[\x20-\x7e]+$/.test(token);

export const auth = {
  required: document.querySelector('meta[name="webhook-sim-auth"]')?.content === "bearer",
  // A stored token that cannot be sent is none: cleared, so the prompt asks again (a reload kept it otherwise).
  unsendable: false, // a stored token was dropped so
  get token() {
    const token = sessionStorage.getItem(KEY);
    if (token === null || sendable(token)) return token;
    sessionStorage.removeItem(KEY);
    this.unsendable = true;
    return null;
  },
  set(token) {
    sessionStorage.setItem(KEY, token);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
  onUnauthorized(fn) {
    listeners.unauthorized.push(fn);
  },
  onAuthorized(fn) {
    listeners.authorized.push(fn);
  },
};

export class ApiError extends Error {
  constructor(status, problem, token = null) {
    const detail = problem && typeof problem === "object" ? problem.detail || problem.title : String(problem || "");
    super(`${status}: ${detail}`);
    this.status = status;
    this.problem = problem && typeof problem === "object" ? problem : { detail };
    this.token = token; // the token the refused call sent (null: none)
  }

  // A 401 about another token than the one entered since the call went out: old news, the new one is in use.
  get stale() {
    return this.status === 401 && auth.token !== null && this.token !== auth.token;
  }
}

function headers(extra = {}) {
  const out = { ...extra };
  const token = auth.token;
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

const sentToken = (sent) => (sent.Authorization ? sent.Authorization.slice("Bearer ".length) : null);

// `token`: what the refused request carried (null: none; the server asks for one, e.g. restarted with --token).
// Read from the request, not from storage: of two calls refused together, the first clears what the second sent.
// A refusal of another token than the one now stored (a call that went out before a new one was entered) is old
// news: the new token stays.
function unauthorized(token) {
  if (token !== auth.token) return;
  auth.clear();
  for (const fn of listeners.unauthorized) fn(token !== null);
}

function authorized(token) {
  if (token !== null) for (const fn of listeners.authorized) fn();
}

// Integers beyond 2^53 (a seed, a number in a body) lose digits as JavaScript numbers: kept as their own digits,
// shown as written and sent back as the same JSON number.
export class BigInteger {
  constructor(digits) {
    this.digits = digits;
  }

  toString() {
    return this.digits;
  }

  toJSON() {
    return JSON.rawJSON(this.digits);
  }
}

const INTEGER = /^-?\d+$/;

function exact(_key, value, context) {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context && INTEGER.test(context.source)) {
    return new BigInteger(context.source);
  }
  return value;
}

// JSON.parse keeping big integers exact. A text without 16 digits in a row holds none (2^53 has 16): parsed
// without the reviver, which would cost a list of a thousand deliveries time for nothing.
export function parseJson(text) {
  return /\d{16}/.test(text) ? JSON.parse(text, exact) : JSON.parse(text);
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const token = sentToken(init.headers);
  const response = await fetch(path, init);
  if (response.ok) authorized(token);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const text = await response.text();
  const data = type.includes("json") ? parseJson(text) : text;
  if (!response.ok) {
    if (response.status === 401) unauthorized(token);
    throw new ApiError(response.status, data, token);
  }
  return data;
}

export const get = (path, params) => api("GET", path + query(params));

// Every item of a list (at most `max`), page after page.
export async function all(path, params = {}, max = Infinity) {
  const out = [];
  let cursor = null;
  do {
    const page = await get(path, { ...params, limit: Math.min(500, max - out.length), cursor });
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

// GET /stream read with fetch: EventSource cannot send the Authorization header. Reconnects (after a pause that
// grows while it fails) until `stop()`; `on.ready` is called at each (re)connection: read the lists again then.
export function follow(params, on, onState = () => {}) {
  const control = new AbortController();
  let stopped = false;
  let pause = 500;
  (async () => {
    while (!stopped) {
      try {
        const sent = headers({ Accept: "text/event-stream" });
        const response = await fetch("/stream" + query(params), { headers: sent, signal: control.signal, cache: "no-store" });
        if (response.status === 401) unauthorized(sentToken(sent));
        if (response.status >= 400 && response.status < 500) {
          onState("off"); // refused (a bad filter, a wrong token): asking again would be refused again
          return;
        }
        if (response.ok) {
          authorized(sentToken(sent));
          pause = 500;
          await read(response.body, on, onState);
        }
      } catch (error) {
        if (stopped) return;
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 10000);
    }
  })();
  return () => {
    stopped = true;
    control.abort();
    onState("off");
  };
}

async function read(body, on, onState) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      dispatch(block, on, onState);
    }
  }
}

function dispatch(block, on, onState) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "event") event = value;
    else if (name === "data") data.push(value);
  }
  if (!data.length) return;
  if (event === "ready") onState("live");
  const handler = on[event];
  if (!handler) return;
  try {
    handler(parseJson(data.join("\n")));
  } catch (error) {
    reportError(error); // a bug of the page: shown as one, not taken for a lost connection
  }
}
