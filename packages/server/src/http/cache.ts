import type { Context } from "hono";
import type { CachedRead } from "../platform/cache/read-cache.ts";
import type { AppEnv } from "./env.ts";

/**
 * Answers a GET from the read cache: the JSON body with its strong ETag. Anonymous answers are the
 * same for every anonymous caller, so shared caches may keep them; every cache, shared or private,
 * must revalidate (no-cache) because a write may land at any moment. X-Cache says where it came from.
 */
/**
 * Typed as `never` so an OpenAPI route accepts it as its 200 JSON: the body is the loader's JSON,
 * which is the route's response schema.
 */
export async function cachedJson<P>(c: Context<AppEnv>, read: CachedRead<P>, params: P): Promise<never> {
  const result = await c.var.services.cache.get(read, c.var.caller.claims, params);
  c.header("ETag", result.etag);
  c.header("Cache-Control", c.var.caller.kind === "anonymous" ? "public, no-cache" : "private, no-cache");
  c.header("X-Cache", result.source);
  return c.body(result.body, 200, { "content-type": "application/json" }) as never;
}
