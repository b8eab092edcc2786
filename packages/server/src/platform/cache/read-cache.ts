// The read-through cache. An entry is stored with the generation it was built at; a read first asks
// Postgres for the current generation (one cheap query, in parallel with the Redis lookup) and
// serves the entry only when the two agree. Generations move in the writing transaction (migration
// cache_generations), so a read that starts after a write committed never gets the old entry,
// whichever path wrote: our API, supabase-js/PostgREST, an inbound webhook or plain SQL.
//
// The generation is read before the value is loaded: an entry may then hold data newer than its
// generation (harmless, the next bump retires it) but never older.
import type { Db, DbClaims } from "../db/types.ts";
import type { CacheStore } from "../kv/types.ts";
import type { Metrics } from "../metrics.ts";
import { createLocalCache } from "./local.ts";
import { type CacheRule, topicsOf } from "./rules.ts";
import { bucketOf, type FamilyStats, familyStats } from "./stats.ts";

/** One kind of cached read: its family, how it loads, and for one product's reads which product. */
export interface CachedRead<P> {
  /** Names the read in keys (warming finds the read back from it). */
  name: string;
  family: string;
  load(db: Db, claims: DbClaims, params: P): Promise<unknown>;
  /** The product this read shows (its own generation then guards it, not the whole family's). */
  product?(params: P): { id: string } | { handle: string };
  /** A prefix for the ETag (a versioned resource's version, so If-Match still reads it). */
  etagPrefix?(value: unknown): string | undefined;
}

export interface CachedBody {
  body: string;
  etag: string;
  source: "hit" | "miss" | "bypass";
}

export interface ReadCacheOptions {
  db: Db;
  store: CacheStore;
  rules: readonly CacheRule[];
  metrics: Metrics;
  /** How long an entry lives at most; generations keep it correct, the TTL only bounds memory. */
  ttlSeconds?: number;
  /** After the store fails, reads skip it for this long (no wait at all while it is down). */
  cooldownMs?: number;
  /** This process's copy of entries, at most this big (0: none; every read asks the store). */
  localMaxBytes?: number;
  now?: () => number;
  /** Reports a store failure (once per cooldown). */
  onStoreError?(error: unknown): void;
}

/** Bumped when the entry format changes: a deploy then starts from an empty cache (and warms it). */
export const CACHE_FORMAT = "v1";
const KEEP_POPULAR = 10_000;

export type ReadCache = ReturnType<typeof createReadCache>;

export function createReadCache(options: ReadCacheOptions) {
  const { db, store, rules, metrics } = options;
  const ttlSeconds = options.ttlSeconds ?? 3600;
  const cooldownMs = options.cooldownMs ?? 5_000;
  const now = options.now ?? Date.now;
  const local = createLocalCache(options.localMaxBytes ?? 0);
  const hits = metrics.counter("storekeep_cache_hits_total", "Cached reads served from the cache", ["family"]);
  const misses = metrics.counter("storekeep_cache_misses_total", "Cached reads loaded from Postgres", ["family"]);
  const bypasses = metrics.counter(
    "storekeep_cache_bypass_total",
    "Cached reads that skipped the cache (store unavailable, or a caller that is never cached)",
    ["family"],
  );
  const warmed = metrics.counter("storekeep_cache_warmed_total", "Entries loaded ahead of requests by cache.warm", [
    "family",
  ]);
  let storeDownUntil = 0;
  const pending = new Set<Promise<void>>();

  function storeFailed(error: unknown) {
    if (now() >= storeDownUntil) options.onStoreError?.(error);
    storeDownUntil = now() + cooldownMs;
  }
  const storeUp = () => now() >= storeDownUntil;

  /** Runs a store call without holding the response; a failure only opens the breaker. */
  function background(work: () => Promise<void>) {
    const done: Promise<void> = work()
      .catch(storeFailed)
      .finally(() => pending.delete(done));
    pending.add(done);
  }

  async function generation<P>(read: CachedRead<P>, params: P): Promise<string | null> {
    const product = read.product?.(params);
    const topics = topicsOf(rules, read.family, { scoped: product !== undefined });
    const { rows } = await db.query<{ topics_generation: string; product: string | null; product_generation: string }>(
      "select * from private.cache_generation($1::text[], $2::uuid, $3::text)",
      [topics, product && "id" in product ? product.id : null, product && "handle" in product ? product.handle : null],
    );
    const row = rows[0];
    if (!row) return null;
    if (!product) return String(row.topics_generation);
    // No such product (or a deleted one): nothing to cache, the load answers 404.
    return row.product ? `${row.topics_generation}.${row.product}.${row.product_generation}` : null;
  }

  /** The store's entry for `key`, or null when the store is unavailable (reads then bypass it). */
  function lookup(key: string) {
    if (!storeUp()) return Promise.resolve(null);
    return store.read(key).catch((error) => {
      storeFailed(error);
      return null;
    });
  }

  function record(family: string, increments: Record<string, number>) {
    background(() => store.count(family, increments));
  }

  return {
    /** The read's JSON body and strong ETag, from the cache when its entry is current. */
    async get<P>(read: CachedRead<P>, claims: DbClaims, params: P): Promise<CachedBody> {
      const started = performance.now();
      const visibility = visibilityOf(claims);
      const key = visibility === null ? null : cacheKey(read.name, visibility, params);
      const reading = generation(read, params);
      // This process's copy first: when it is current (the usual case) the read costs only the
      // generation query. Without one, Redis is asked in parallel with the generation, as before.
      const near = key ? local.get(key) : undefined;
      let [current, entry] = await Promise.all([reading, key && !near ? lookup(key) : null]);
      if (near && key) {
        if (current !== null && near.generation === current) {
          hits.inc({ family: read.family });
          store.requested(key);
          record(read.family, {
            hits: 1,
            hits_in_process: 1,
            bytes_served: byteLength(near.body),
            [`h${bucketOf(performance.now() - started)}`]: 1,
          });
          return { body: near.body, etag: near.etag, source: "hit" };
        }
        local.delete(key);
        // Retired here; another instance may have stored the current entry in Redis already.
        if (current !== null) entry = await lookup(key);
      }
      const cached = entry?.value ? parseEntry(entry.value) : null;
      if (key && current !== null && cached && cached.generation === current) {
        local.set(key, cached);
        hits.inc({ family: read.family });
        record(read.family, {
          hits: 1,
          bytes_served: byteLength(cached.body),
          [`h${bucketOf(performance.now() - started)}`]: 1,
        });
        return { body: cached.body, etag: cached.etag, source: "hit" };
      }

      const value = await read.load(db, claims, params);
      const body = JSON.stringify(value);
      const prefix = read.etagPrefix?.(value);
      const etag = `"${prefix ? `${prefix}-` : ""}${await digest(body)}"`;
      // Loaded after the generation was read: right for this generation, whether Redis answered or not.
      if (key && current !== null) local.set(key, { generation: current, etag, body });
      if (!entry || current === null || !key) {
        bypasses.inc({ family: read.family });
        if (key) record(read.family, { bypass: 1 });
        return { body, etag, source: "bypass" };
      }
      misses.inc({ family: read.family });
      const evicted = !entry.value && entry.written === current ? 1 : 0;
      background(() => store.write(key, `${current}\n${etag}\n${body}`, ttlSeconds, current));
      record(read.family, {
        misses: 1,
        evictions: evicted,
        stale: cached || near ? 1 : 0,
        bytes_stored: byteLength(body),
        [`m${bucketOf(performance.now() - started)}`]: 1,
      });
      return { body, etag, source: "miss" };
    },

    /**
     * Makes the entry of this read current without counting a request (warming): "fresh" when it
     * already was, "warmed" when it was loaded and stored, "skipped" when it cannot be cached.
     */
    async refresh<P>(read: CachedRead<P>, claims: DbClaims, params: P): Promise<"fresh" | "warmed" | "skipped"> {
      const visibility = visibilityOf(claims);
      if (visibility === null) return "skipped";
      const key = cacheKey(read.name, visibility, params);
      const [current, entry] = await Promise.all([generation(read, params), store.read(key, { count: false })]);
      if (current === null) return "skipped";
      const stored = entry.value ? parseEntry(entry.value) : null;
      if (stored?.generation === current) {
        local.set(key, stored);
        return "fresh";
      }
      const value = await read.load(db, claims, params);
      const body = JSON.stringify(value);
      const prefix = read.etagPrefix?.(value);
      const etag = `"${prefix ? `${prefix}-` : ""}${await digest(body)}"`;
      await store.write(key, `${current}\n${etag}\n${body}`, ttlSeconds, current);
      local.set(key, { generation: current, etag, body });
      warmed.inc({ family: read.family });
      record(read.family, { warmed: 1, bytes_stored: byteLength(body) });
      return "warmed";
    },

    /** Per family: hits, misses, hit ratio, bytes, evictions and read-time percentiles. */
    async stats(): Promise<Record<string, FamilyStats>> {
      await this.settled();
      const families = [...new Set(rules.flatMap((rule) => rule.families))].sort();
      const out: Record<string, FamilyStats> = {};
      for (const family of families) out[family] = familyStats(await store.counters(family));
      return out;
    },

    /** The generation a read of `read` checks its entry against (one Postgres round trip; the bench's floor). */
    generation,

    /** The most requested keys, most first (what warming reloads). */
    popular: (limit: number) => store.popular(limit, KEEP_POPULAR),

    /** Resolves once every background store call has finished (stats, tests, shutdown). */
    async settled() {
      while (pending.size) await Promise.all([...pending]);
    },

    /** Whether reads currently skip the store after a failure. */
    bypassing: () => !storeUp(),
  };
}

/** Who the answer depends on: RLS sees the database role and the app_role claim, nothing else. */
export function visibilityOf(claims: DbClaims): string | null {
  if (claims.role === "anon") return "anon";
  if (claims.role !== "authenticated") return null; // trusted callers are never cached
  return typeof claims.app_role === "string" && claims.app_role ? claims.app_role : "customer";
}

/** The claims a reader of this visibility has (for warming): RLS needs nothing more. */
export function claimsOfVisibility(visibility: string): DbClaims {
  if (visibility === "anon") return { role: "anon" };
  if (visibility === "customer") return { role: "authenticated" };
  return { role: "authenticated", app_role: visibility };
}

/** `v1|read|visibility|{"sorted":"params"}`: readable back by warming. */
export function cacheKey(read: string, visibility: string, params: unknown): string {
  return `${CACHE_FORMAT}|${read}|${visibility}|${canonicalJson(params)}`;
}

export function parseCacheKey(key: string): { read: string; visibility: string; params: unknown } | null {
  const [format, read, visibility, ...rest] = key.split("|");
  if (format !== CACHE_FORMAT || !read || !visibility || rest.length === 0) return null;
  try {
    return { read, visibility, params: JSON.parse(rest.join("|")) };
  } catch {
    return null;
  }
}

/** JSON with object keys sorted and undefined fields dropped: equal queries, equal keys. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, field]) => field !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, field]) => `${JSON.stringify(name)}:${canonicalJson(field)}`);
  return `{${fields.join(",")}}`;
}

function parseEntry(value: string): { generation: string; etag: string; body: string } | null {
  const first = value.indexOf("\n");
  const second = value.indexOf("\n", first + 1);
  if (first < 0 || second < 0) return null;
  return { generation: value.slice(0, first), etag: value.slice(first + 1, second), body: value.slice(second + 1) };
}

const encoder = new TextEncoder();
const byteLength = (text: string) => encoder.encode(text).byteLength;

/** SHA-256 of the body, base64url, 22 characters (132 bits): the strong validator. */
async function digest(body: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(body)));
  let binary = "";
  for (const byte of hash) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").slice(0, 22);
}
