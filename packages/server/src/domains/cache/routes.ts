import { createRouter, jsonResponse } from "../../http/openapi.ts";
import { routesFor } from "../../http/route.ts";
import { CacheStatsSchema } from "./schemas.ts";

const { secured } = routesFor("cache");

const getCacheStatsRoute = secured(
  { role: "manager", scope: "catalog:read" },
  {
    operationId: "getCacheStats",
    method: "get",
    path: "/cache/stats",
    summary: "Read cache analytics per family: hits, misses, hit ratio, bytes, evictions, read times",
    responses: { 200: jsonResponse("Counts across every instance (kept in the cache store)", CacheStatsSchema) },
  },
);

export const cacheRoutes = createRouter().openapi(getCacheStatsRoute, async (c) => {
  const { cache, shared } = c.var.services;
  const [families, popular] = await Promise.all([cache.stats(), cache.popular(20)]);
  c.header("Cache-Control", "no-store");
  return c.json({ backend: shared.backend, bypassing: cache.bypassing(), families, popular }, 200);
});
