// Read times are counted in buckets 20 % apart (from 10 µs), so percentiles need no samples kept:
// a percentile is the upper bound of the bucket it falls in (at most 20 % high).

const BASE_MS = 0.01;
const STEP = 1.2;

export function bucketOf(ms: number): number {
  return Math.max(0, Math.ceil(Math.log(Math.max(ms, BASE_MS) / BASE_MS) / Math.log(STEP)));
}

const upperBoundMs = (bucket: number) => BASE_MS * STEP ** bucket;

export interface FamilyStats {
  hits: number;
  /** Of the hits, those served from the answering process's own copy (no Redis round trip). */
  hits_in_process: number;
  misses: number;
  /** hits / (hits + misses); null before any read. */
  hit_ratio: number | null;
  /** Misses that found an entry of an older generation (retired by a write). */
  stale: number;
  /** Misses whose entry was written for the current generation and was gone (evicted or expired). */
  evictions: number;
  /** Reads that skipped the cache (store down, or a caller never cached). */
  bypass: number;
  /** Entries the cache.warm job loaded ahead of requests. */
  warmed: number;
  bytes_served: number;
  bytes_stored: number;
  read_ms: { hit: Percentiles; miss: Percentiles };
}

export interface Percentiles {
  p50: number | null;
  p99: number | null;
}

export function familyStats(counters: Record<string, number>): FamilyStats {
  const value = (field: string) => counters[field] ?? 0;
  const hits = value("hits");
  const misses = value("misses");
  return {
    hits,
    hits_in_process: value("hits_in_process"),
    misses,
    hit_ratio: hits + misses === 0 ? null : hits / (hits + misses),
    stale: value("stale"),
    evictions: value("evictions"),
    bypass: value("bypass"),
    warmed: value("warmed"),
    bytes_served: value("bytes_served"),
    bytes_stored: value("bytes_stored"),
    read_ms: { hit: percentiles(counters, "h"), miss: percentiles(counters, "m") },
  };
}

function percentiles(counters: Record<string, number>, prefix: string): Percentiles {
  const buckets = Object.entries(counters)
    .filter(([field]) => field.startsWith(prefix) && /^\d+$/.test(field.slice(1)))
    .map(([field, count]) => [Number(field.slice(1)), count] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, count]) => sum + count, 0);
  const at = (q: number) => {
    if (total === 0) return null;
    let seen = 0;
    for (const [bucket, count] of buckets) {
      seen += count;
      if (seen >= q * total) return Math.round(upperBoundMs(bucket) * 1000) / 1000;
    }
    return null;
  };
  return { p50: at(0.5), p99: at(0.99) };
}
