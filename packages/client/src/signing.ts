// Request signing for Storekeep API keys: web crypto only, no dependencies, so it runs in Node 20+,
// Deno, Bun, Workers and browsers alike. See the README, "Signed requests", for the scheme:
//
//   X-Request-Signature = hex(HMAC-SHA256(signing_secret,
//     METHOD \n PATH[?SORTED_QUERY] \n TIMESTAMP \n NONCE \n hex(SHA-256(body bytes))))
//
//   const headers = await signRequest({ method: "POST", url, body, signingSecret });
//   await fetch(url, { method: "POST", body, headers: { ...headers, "x-api-key": key, "content-type": "application/json" } });
//
// Sign the exact bytes you send: serialise the body once and pass that same string or buffer to
// both signRequest and fetch.

export type BodyBytes = string | Uint8Array | ArrayBuffer;

export interface SignOptions {
  method: string;
  /** The full URL the request goes to (its path and query are signed; host and scheme are not). */
  url: string | URL;
  body?: BodyBytes | null;
  /** The key's `sks_…` signing secret, shown once when the key was created or rotated. */
  signingSecret: string;
  /** Unix seconds; now by default. */
  timestamp?: number;
  /** At least 16 random bytes, base64url; a fresh one by default. Never reuse one. */
  nonce?: string;
}

export interface SignatureHeaders {
  "x-request-timestamp": string;
  "x-request-nonce": string;
  "x-request-signature": string;
}

/** The three headers that sign one request. */
export async function signRequest(options: SignOptions): Promise<SignatureHeaders> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? newNonce();
  const canonical = await canonicalRequest({
    method: options.method,
    url: options.url,
    body: options.body,
    timestamp,
    nonce,
  });
  const key = await crypto.subtle.importKey(
    "raw",
    utf8(options.signingSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = hex(await crypto.subtle.sign("HMAC", key, utf8(canonical)));
  return { "x-request-timestamp": timestamp, "x-request-nonce": nonce, "x-request-signature": signature };
}

/** The string that is signed: method, path with sorted query, timestamp, nonce and body hash, one per line. */
export async function canonicalRequest(parts: {
  method: string;
  url: string | URL;
  body?: BodyBytes | null;
  timestamp: string;
  nonce: string;
}): Promise<string> {
  const url = new URL(parts.url, "http://placeholder.invalid");
  return [
    parts.method.toUpperCase(),
    url.pathname + canonicalQuery(url.search),
    parts.timestamp,
    parts.nonce,
    hex(await crypto.subtle.digest("SHA-256", bytesOf(parts.body))),
  ].join("\n");
}

/** `?b=2&a=1` → `?a=1&b=2`: each name and value decoded (`+` is a space), encoded per RFC 3986, sorted. */
export function canonicalQuery(search: string): string {
  const pairs = search
    .replace(/^\?/, "")
    .split("&")
    .filter(Boolean)
    .map((part) => {
      const at = part.indexOf("=");
      const name = at < 0 ? part : part.slice(0, at);
      const value = at < 0 ? "" : part.slice(at + 1);
      return [
        rfc3986(decodeURIComponent(name.replace(/\+/g, " "))),
        rfc3986(decodeURIComponent(value.replace(/\+/g, " "))),
      ];
    })
    .sort(([a = "", x = ""], [b = "", y = ""]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return pairs.length ? `?${pairs.map(([name, value]) => `${name}=${value}`).join("&")}` : "";
}

/** 16 random bytes, base64url. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

function bytesOf(body: BodyBytes | null | undefined): Uint8Array<ArrayBuffer> {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === "string") return utf8(body);
  return new Uint8Array(body instanceof ArrayBuffer ? body : body.slice().buffer);
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
