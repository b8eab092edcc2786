import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";

// HTTP caching for every JSON GET: a strong ETag (SHA-256 of the body unless the route set one),
// If-None-Match answered 304, and Vary on the headers that change who is asking. A route that sets
// no Cache-Control gets `private, no-cache`: no shared cache keeps it and no cache serves it
// unrevalidated (stock and orders are answered this way: never from a stale copy). A route that says
// `no-store` (the probes) is kept by no cache, so nothing could ever revalidate it: no ETag is made.

const VARY = ["Authorization", "X-Api-Key"];
const KEPT_ON_304 = ["cache-control", "content-location", "date", "etag", "expires", "vary", "x-request-id"];

export const httpCaching = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  if ((c.req.method !== "GET" && c.req.method !== "HEAD") || c.res.status !== 200) return;
  if (!(c.res.headers.get("content-type") ?? "").startsWith("application/json")) return;
  if (/\bno-store\b/i.test(c.res.headers.get("cache-control") ?? "")) return;
  let tag = c.res.headers.get("etag");
  if (!tag) {
    tag = `"${await digest(await c.res.clone().arrayBuffer())}"`;
    c.res.headers.set("ETag", tag);
  }
  if (!c.res.headers.has("cache-control")) c.res.headers.set("Cache-Control", "private, no-cache");
  const vary = new Set(
    (c.res.headers.get("vary") ?? "")
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean),
  );
  for (const name of VARY) vary.add(name);
  c.res.headers.set("Vary", [...vary].join(", "));
  if (matches(c.req.header("if-none-match"), tag)) {
    await c.res.body?.cancel();
    // Hono copies the old response's headers onto a new one: keep only what a 304 carries.
    c.res = new Response(null, { status: 304 });
    for (const name of [...c.res.headers.keys()]) if (!KEPT_ON_304.includes(name)) c.res.headers.delete(name);
  }
});

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter. */
function matches(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const bare = tag.replace(/^W\//, "");
  return (header.match(/(?:W\/)?"[^"]*"/g) ?? []).some((candidate) => candidate.replace(/^W\//, "") === bare);
}

async function digest(body: ArrayBuffer): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  let binary = "";
  for (const byte of hash) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").slice(0, 22);
}
