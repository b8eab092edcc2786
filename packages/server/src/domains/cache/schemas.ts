import { z } from "@hono/zod-openapi";

const Percentiles = z.object({
  p50: z
    .number()
    .nullable()
    .openapi({ description: "Milliseconds (upper bound of a 20 % bucket); null before any read" }),
  p99: z.number().nullable(),
});

export const FamilyStatsSchema = z
  .object({
    hits: z.number().int(),
    hits_in_process: z
      .number()
      .int()
      .openapi({ description: "Of the hits, those served from the answering instance's own copy (no Redis call)" }),
    misses: z.number().int(),
    hit_ratio: z.number().nullable().openapi({ description: "hits / (hits + misses); null before any read" }),
    stale: z.number().int().openapi({ description: "Misses that found an entry retired by a write" }),
    evictions: z
      .number()
      .int()
      .openapi({ description: "Misses whose current entry had been dropped by Redis (memory or TTL)" }),
    bypass: z.number().int().openapi({ description: "Reads that skipped the cache (store down, or uncached caller)" }),
    warmed: z.number().int().openapi({ description: "Entries the cache.warm job loaded ahead of requests" }),
    bytes_served: z.number().int(),
    bytes_stored: z.number().int(),
    read_ms: z.object({ hit: Percentiles, miss: Percentiles }),
  })
  .openapi("CacheFamilyStats");

export const CacheStatsSchema = z
  .object({
    backend: z.enum(["upstash", "memory"]),
    bypassing: z.boolean().openapi({ description: "True while reads skip the store after it failed" }),
    families: z.record(z.string(), FamilyStatsSchema),
    popular: z
      .array(z.object({ key: z.string(), requests: z.number().int() }))
      .openapi({ description: "The most requested keys (what the cache.warm job reloads first)" }),
  })
  .openapi("CacheStats");
