// Warming: after a deploy (a new CACHE_FORMAT) or a full invalidation every entry misses once. The
// cache.warm job reloads, ahead of requests, the most requested keys (by their request counts) and
// the targets each domain names (the catalog: the first page of every category), bounded in count
// and time; its result says what it did and the job registry records every run.
import { type CachedRead, claimsOfVisibility, parseCacheKey, type ReadCache } from "./read-cache.ts";

/** A read to keep warm, for one visibility (`anon`, `customer` or a staff role). */
export interface WarmTarget {
  read: CachedRead<never>;
  visibility: string;
  params: unknown;
}

export interface WarmOptions {
  /** Cached reads by name (to load a popular key again). */
  reads: readonly CachedRead<never>[];
  /** Targets that are always warmed (after the popular keys). */
  targets: readonly WarmTarget[];
  /** At most this many keys per run. */
  limit: number;
  /** Stops starting keys after this long. */
  budgetMs: number;
}

export interface WarmResult {
  considered: number;
  warmed: number;
  fresh: number;
  skipped: number;
  failed: number;
  /** Keys left for the next run (the count or time limit was reached). */
  left: number;
  ms: number;
}

export async function warmCache(cache: ReadCache, options: WarmOptions): Promise<WarmResult> {
  const started = performance.now();
  const byName = new Map(options.reads.map((read) => [read.name, read]));
  const popular = (await cache.popular(options.limit)).flatMap(({ key }) => {
    const parsed = parseCacheKey(key);
    const read = parsed && byName.get(parsed.read);
    return parsed && read ? [{ read, visibility: parsed.visibility, params: parsed.params }] : [];
  });
  const queue = [...popular, ...options.targets];
  const result: WarmResult = { considered: 0, warmed: 0, fresh: 0, skipped: 0, failed: 0, left: 0, ms: 0 };
  for (const [index, target] of queue.entries()) {
    if (result.considered >= options.limit || performance.now() - started > options.budgetMs) {
      result.left = queue.length - index;
      break;
    }
    result.considered++;
    try {
      result[await cache.refresh(target.read, claimsOfVisibility(target.visibility), target.params as never)]++;
    } catch {
      result.failed++;
    }
  }
  result.ms = Math.round(performance.now() - started);
  return result;
}
