// The read cache's store in process (no Redis configured): the same contract as Upstash's.
import type { CacheStore } from "./types.ts";

export function createMemoryCacheStore(now: () => number = Date.now): CacheStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const written = new Map<string, string>();
  const requests = new Map<string, number>();
  const hashes = new Map<string, Map<string, number>>();

  return {
    async read(key, options) {
      if (options?.count !== false) requests.set(key, (requests.get(key) ?? 0) + 1);
      const entry = entries.get(key);
      if (entry && entry.expiresAt <= now()) entries.delete(key);
      return { value: entries.get(key)?.value ?? null, written: written.get(key) ?? null };
    },
    requested(key) {
      requests.set(key, (requests.get(key) ?? 0) + 1);
    },
    async write(key, value, ttlSeconds, marker) {
      entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
      written.set(key, marker);
    },
    async count(name, increments) {
      const hash = hashes.get(name) ?? new Map<string, number>();
      hashes.set(name, hash);
      for (const [field, by] of Object.entries(increments)) hash.set(field, (hash.get(field) ?? 0) + by);
    },
    async counters(name) {
      return Object.fromEntries(hashes.get(name) ?? []);
    },
    async popular(limit, keep) {
      const ranked = [...requests].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      for (const [key] of ranked.slice(keep)) requests.delete(key);
      return ranked.slice(0, limit).map(([key, count]) => ({ key, requests: count }));
    },
  };
}
