// The in-process store: what `npm start` uses when no Redis is configured. Local-only: every
// process (and every edge isolate) would keep its own counters and nonces.
import { createMemoryCacheStore } from "./memory-cache.ts";
import type { Counters, KeyValueStore, RateDecision, RateLimiter, RateRule, SharedState } from "./types.ts";

interface Entry {
  value: string;
  expiresAt: number;
}

export function createMemoryState(now: () => number = Date.now): SharedState {
  const entries = new Map<string, Entry>();
  const hashes = new Map<string, { fields: Map<string, number>; expiresAt: number }>();

  function live(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }
  function expiry(ttlSeconds?: number): number {
    return ttlSeconds ? now() + ttlSeconds * 1000 : Number.POSITIVE_INFINITY;
  }
  // Expired entries are dropped when touched; a sweep keeps keys nobody touches again from piling up.
  const sweep = setInterval(() => {
    const at = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key);
    for (const [key, hash] of hashes) if (hash.expiresAt <= at) hashes.delete(key);
  }, 60_000);
  (sweep as { unref?: () => void }).unref?.();

  const kv: KeyValueStore = {
    async get(key) {
      return live(key)?.value ?? null;
    },
    async set(key, value, options) {
      entries.set(key, { value, expiresAt: expiry(options?.ttlSeconds) });
    },
    async setIfAbsent(key, value, ttlSeconds) {
      if (live(key)) return false;
      entries.set(key, { value, expiresAt: expiry(ttlSeconds) });
      return true;
    },
    async del(...keys) {
      let removed = 0;
      for (const key of keys) if (live(key) && entries.delete(key)) removed++;
      return removed;
    },
    async incr(key, options) {
      const entry = live(key);
      const value = Number(entry?.value ?? 0) + 1;
      entries.set(key, { value: String(value), expiresAt: entry?.expiresAt ?? expiry(options?.ttlSeconds) });
      return value;
    },
    async ping() {},
  };

  // The same sliding window as @upstash/ratelimit: the current fixed window's count plus the
  // previous window's, weighted by how much of it still overlaps the sliding window.
  const rateLimiter: RateLimiter = {
    async limit(identifier: string, rule: RateRule): Promise<RateDecision> {
      const windowMs = rule.windowSeconds * 1000;
      const at = now();
      const current = Math.floor(at / windowMs);
      const key = (window: number) => `rl:${rule.name}:${identifier}:${window}`;
      const previousCount = Number(live(key(current - 1))?.value ?? 0);
      const currentCount = Number(live(key(current))?.value ?? 0);
      const weight = 1 - (at % windowMs) / windowMs;
      const used = Math.floor(previousCount * weight) + currentCount;
      const resetAt = (current + 1) * windowMs;
      if (used >= rule.limit) return { success: false, limit: rule.limit, remaining: 0, resetAt };
      entries.set(key(current), { value: String(currentCount + 1), expiresAt: at + windowMs * 2 });
      return { success: true, limit: rule.limit, remaining: rule.limit - used - 1, resetAt };
    },
  };

  const counters: Counters = {
    add(key, field, by, expireAt) {
      let hash = hashes.get(key);
      if (!hash || hash.expiresAt <= now()) {
        hash = { fields: new Map(), expiresAt: expireAt ? expireAt * 1000 : Number.POSITIVE_INFINITY };
        hashes.set(key, hash);
      }
      hash.fields.set(field, (hash.fields.get(field) ?? 0) + by);
    },
    async flush() {},
    async read(keys) {
      return keys.map((key) => {
        const hash = hashes.get(key);
        return hash && hash.expiresAt > now() ? Object.fromEntries(hash.fields) : {};
      });
    },
  };

  return {
    backend: "memory",
    kv,
    rateLimiter,
    counters,
    cache: createMemoryCacheStore(now),
    health: () => ({ ok: true }),
  };
}
