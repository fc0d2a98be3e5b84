// How a receiver checks what it got, step by step, with this attempt's own bytes: the canonical JSON and the
// public key for Basis Theory (verified here with WebCrypto), the signed content for Standard Webhooks, the
// JWT's claims for Syncfy. Secrets are never shown: the subscription's arrives masked.

import { bidiSafe, h, json } from "./dom.js";

export function bodyBytes(request) {
  if (request.body === null) return null;
  if (request.body_encoding === "base64") return Uint8Array.from(atob(request.body), (c) => c.charCodeAt(0));
  return new TextEncoder().encode(request.body);
}

function header(request, name) {
  const found = Object.entries(request.headers).find(([k]) => k.toLowerCase() === name);
  return found ? found[1] : null;
}

// json-stable-stringify as Basis Theory's verifier runs it: keys sorted by UTF-16 code units, no whitespace,
// numbers and strings as JSON.stringify writes them.
export function stableStringify(value) {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// Single quotes, with each quote and backslash written outside them (`'\''`, `'\\'`): read the same by POSIX
// shells, which take a backslash inside single quotes as it is, and by fish, which reads `\'` and `\\` there as
// escapes (a JSON body's escapes came out changed, and a header's `\'` closed the quote and ran what followed).
const quote = (text) => `'${text.replaceAll(/['\\]/g, (c) => `'\\${c}'`)}'`;

// The request again with curl: the same method, URL, headers (curl adds Host and Content-Length) and bytes.
export function curl(request) {
  const lines = [`curl -X ${request.method} ${quote(request.url)}`];
  for (const [name, value] of Object.entries(request.headers)) {
    if (!["host", "content-length"].includes(name.toLowerCase())) lines.push(`  -H ${quote(`${name}: ${value}`)}`);
  }
  if (request.body !== null && request.body_encoding === "base64") {
    return `printf %s ${quote(request.body)} | base64 -d | \\\n${lines.join(" \\\n")} \\\n  --data-binary @-`;
  }
  if (request.body !== null) lines.push(`  --data-binary ${quote(request.body)}`);
  return lines.join(" \\\n");
}

export function verification(attempt, delivery, sub, ctx) {
  const request = attempt.request;
  const box = h("details", { class: "verify" });
  const steps = h("ol", { class: "steps" });
  let title = "No signature (scheme none)";
  if (header(request, "bt-signature")) {
    title = "Verify the Basis Theory signature";
    basisTheory(request, steps, ctx);
  } else if (header(request, "webhook-signature")) {
    title = "Verify the Standard Webhooks signature";
    standard(request, steps, sub);
  } else if (header(request, "request-signature")) {
    title = "Verify the Syncfy signature";
    syncfy(request, steps, sub);
  } else {
    steps.append(h("li", {}, "Nothing is signed: this subscription's scheme is none."));
  }
  box.append(h("summary", {}, title), steps);
  return box;
}

function step(...children) {
  return h("li", {}, ...children);
}

function verdict(ok, text) {
  return h("p", { class: `verdict ${ok === null ? "" : ok ? "good" : "bad"}`, dataset: { ok: String(ok) } }, text);
}

function basisTheory(request, steps, ctx) {
  const signature = header(request, "bt-signature");
  let canonical = null;
  try {
    canonical = stableStringify(JSON.parse(request.body));
  } catch {
    steps.append(step("The body is not JSON, so there is nothing to canonicalise: a verifier rejects it here."));
    return;
  }
  const result = verdict(null, "Checking…");
  const key = h("pre", { class: "key" }, "…");
  steps.append(
    step("Parse the body as JSON, and serialise it again with json-stable-stringify (keys sorted, no whitespace). ",
      "The body is sent in the provider's own field order, so the raw bytes are not what is signed:",
      h("pre", { class: "canonical" }, bidiSafe(canonical))),
    step("Base64-decode ", h("code", {}, "BT-SIGNATURE"), ": ", h("code", { class: "signature" }, signature)),
    step("Verify it as RSA-PSS with SHA-256 (MGF1-SHA-256, 32-byte salt) over the UTF-8 bytes of the canonical JSON, ",
      "with the public key (GET /keys/webhooks.pem):", key, result),
  );
  ctx.publicKey().then(async (pem) => {
    key.textContent = pem || "(unavailable)";
    if (!pem) return result.replaceWith(verdict(null, "The public key could not be read."));
    if (!crypto.subtle) return result.replaceWith(verdict(null, "This browser checks signatures only on https or localhost."));
    const der = Uint8Array.from(atob(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    const publicKey = await crypto.subtle.importKey("spki", der, { name: "RSA-PSS", hash: "SHA-256" }, false, ["verify"]);
    const sig = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
    const ok = await crypto.subtle.verify({ name: "RSA-PSS", saltLength: 32 }, publicKey, sig, new TextEncoder().encode(canonical));
    result.replaceWith(verdict(ok, ok ? "✓ The signature verifies with this key." : "✗ The signature does not verify (was a fault injected?)."));
  }).catch((error) => result.replaceWith(verdict(false, `✗ Cannot verify: ${error.message || error}`)));
}

function standard(request, steps, sub) {
  const id = header(request, "webhook-id");
  const timestamp = header(request, "webhook-timestamp");
  const signed = `${id}.${timestamp}.${request.body ?? ""}`;
  steps.append(
    step("Build the signed content: ", h("code", {}, "webhook-id"), ".", h("code", {}, "webhook-timestamp"), ".body — ",
      "the body as the raw bytes received:", h("pre", { class: "signed-content" }, bidiSafe(signed))),
    step("HMAC-SHA256 it with the secret's key: the base64 after ", h("code", {}, "whsec_"),
      ` in the subscription's secret (${sub?.secret ?? "masked"}; the page never shows it).`),
    step("Base64 the digest and compare it, in constant time, with each ", h("code", {}, "v1,"), " entry of ",
      h("code", {}, "webhook-signature"), ": ", h("code", { class: "signature" }, header(request, "webhook-signature"))),
    step("Refuse a ", h("code", {}, "webhook-timestamp"), " more than five minutes from now (a replay), and dedupe on ",
      h("code", {}, "webhook-id"), ": it is the same on every retry."),
  );
}

function syncfy(request, steps, sub) {
  const token = header(request, "request-signature");
  const [head, claims] = token.split(".").slice(0, 2).map((part) => {
    try {
      return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
    } catch {
      return null;
    }
  });
  const result = verdict(null, "Checking…");
  steps.append(
    step("Split ", h("code", {}, "request-signature"), " (a JWT) at the dots and decode its header and claims:",
      h("pre", {}, json(head)), h("pre", { class: "claims" }, json(claims))),
    step("Check the HS256 signature with the base64-decoded secret ",
      `(${sub?.secret ?? "masked"}; the page never shows it), then exp and iat.`),
    step("Compare the claim ", h("code", {}, "body_sha256"), " with the SHA-256 of the body's exact bytes:", result),
  );
  const bytes = bodyBytes(request);
  if (!crypto.subtle || !bytes || !claims) return;
  crypto.subtle.digest("SHA-256", bytes).then((digest) => {
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const ok = hex === claims.body_sha256;
    result.replaceWith(verdict(ok, ok ? `✓ They match: ${hex}` : `✗ The body's is ${hex}`));
  });
}
