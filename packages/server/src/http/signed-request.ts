import type { Context } from "hono";
import { type KeyValueStore, StoreUnavailableError } from "../platform/kv/index.ts";
import { Problem } from "./problems.ts";
import { publicPath } from "./public-path.ts";

// Signed requests (README "Signed requests"; the client side is packages/client/src/signing.ts).
// The signature is lowercase hex HMAC-SHA256, with the key's signing secret, of
//
//   METHOD \n PATH[?SORTED_QUERY] \n TIMESTAMP \n NONCE \n SHA256_HEX(BODY)
//
// PATH is the path the client called (gateway prefix included), as it appears in the URL.
// SORTED_QUERY is every name=value pair, each decoded (`+` is a space) and encoded again the
// RFC 3986 way, sorted by name then value. BODY is the exact bytes sent (empty: the hash of none).

/** How far a request's timestamp may be from the server's clock, either way. */
export const SIGNATURE_WINDOW_SECONDS = 300;
/** A nonce is remembered for longer than any timestamp it could be replayed with stays acceptable. */
const NONCE_TTL_SECONDS = 2 * SIGNATURE_WINDOW_SECONDS + 60;
const NONCE = /^[A-Za-z0-9_-]{22,128}$/; // 22 base64url characters carry 16 bytes
const TIMESTAMP = /^[0-9]{1,12}$/;
const SIGNATURE = /^[0-9a-f]{64}$/;

/** Methods that change something: a key must sign these. Others may be signed (then checked). */
export const SIGNED_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export const SIGNATURE_HEADERS = {
  timestamp: "x-request-timestamp",
  nonce: "x-request-nonce",
  signature: "x-request-signature",
} as const;

/** Whether the request carries any of the three signature headers. */
export function isSigned(c: Context): boolean {
  return Object.values(SIGNATURE_HEADERS).some((name) => c.req.header(name) !== undefined);
}

/**
 * Checks a signed request made with `keyId`'s `signingSecret`: all three headers, the timestamp
 * window, the HMAC over the exact body bytes (read here and handed on unconsumed), and last, when
 * everything else holds, the nonce's first use (atomic SET NX in the shared store). Throws a 401
 * problem naming what failed; a store that cannot answer is a 503 (replay protection fails closed).
 */
export async function verifySignedRequest(
  c: Context,
  keyId: string,
  signingSecret: string,
  nonces: KeyValueStore,
  now: number = Date.now(),
): Promise<void> {
  const timestamp = c.req.header(SIGNATURE_HEADERS.timestamp);
  const nonce = c.req.header(SIGNATURE_HEADERS.nonce);
  const signature = c.req.header(SIGNATURE_HEADERS.signature);
  if (timestamp === undefined) throw new Problem("timestamp-missing", "a signed request needs X-Request-Timestamp");
  if (nonce === undefined) throw new Problem("nonce-missing", "a signed request needs X-Request-Nonce");
  if (signature === undefined) throw new Problem("signature-missing", "a signed request needs X-Request-Signature");

  if (!TIMESTAMP.test(timestamp)) throw new Problem("timestamp-invalid", "X-Request-Timestamp must be unix seconds");
  const skew = Number(timestamp) - Math.floor(now / 1000);
  if (Math.abs(skew) > SIGNATURE_WINDOW_SECONDS) {
    throw new Problem(
      "timestamp-out-of-window",
      `the timestamp is ${Math.abs(skew)} s ${skew < 0 ? "old" : "ahead"}; at most ${SIGNATURE_WINDOW_SECONDS} s either way`,
      { window_seconds: SIGNATURE_WINDOW_SECONDS },
    );
  }
  if (!NONCE.test(nonce))
    throw new Problem("nonce-invalid", "X-Request-Nonce must be at least 16 random bytes, base64url");
  if (!SIGNATURE.test(signature))
    throw new Problem("signature-invalid", "X-Request-Signature must be 64 lowercase hex digits");

  const body = await readBody(c);
  const url = new URL(c.req.url);
  const canonical = [
    c.req.method.toUpperCase(),
    publicPath(c, url.pathname) + canonicalQuery(url.search),
    timestamp,
    nonce,
    hex(await crypto.subtle.digest("SHA-256", body)),
  ].join("\n");
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(signingSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  // subtle.verify compares in constant time.
  if (!(await crypto.subtle.verify("HMAC", key, fromHex(signature), new TextEncoder().encode(canonical)))) {
    throw new Problem("signature-invalid", "the signature does not match this request (see README: Signed requests)");
  }
  if (!(await firstUse(nonces, `nonce:${keyId}:${nonce}`, timestamp))) {
    throw new Problem("nonce-replayed", "this nonce was already used; sign every request with a fresh one");
  }
}

async function firstUse(nonces: KeyValueStore, key: string, timestamp: string): Promise<boolean> {
  try {
    return await nonces.setIfAbsent(key, timestamp, NONCE_TTL_SECONDS);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    // Without the store no replay can be ruled out: refuse, and say it passes.
    throw new Problem("unavailable", "replay protection is unavailable; retry the request with a fresh nonce");
  }
}

/** `?a=1&b=2` sorted and normalised, or "" when there is no query. */
export function canonicalQuery(search: string): string {
  const pairs = search
    .replace(/^\?/, "")
    .split("&")
    .filter(Boolean)
    .map((part) => {
      const at = part.indexOf("=");
      const [name, value] = at < 0 ? [part, ""] : [part.slice(0, at), part.slice(at + 1)];
      return [encode(decode(name)), encode(decode(value))] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return pairs.length ? `?${pairs.map(([name, value]) => `${name}=${value}`).join("&")}` : "";
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    throw new Problem("signature-invalid", "the query string holds an invalid percent-encoding");
  }
}

function encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The body's exact bytes; the request is rebuilt around them so the handler still reads it. */
async function readBody(c: Context): Promise<Uint8Array<ArrayBuffer>> {
  if (!c.req.raw.body) return new Uint8Array(0);
  const { method, url, headers, signal } = c.req.raw;
  const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
  const bodyless = method === "GET" || method === "HEAD";
  c.req.raw = new Request(url, { method, headers, signal, ...(bodyless ? {} : { body: bytes }) });
  return bytes;
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
