// What the cache, the rate limiter and replay protection need from a shared key-value store.
// Production: Upstash Redis over REST (upstash.ts). Locally: the same Upstash client through the
// bridge in packages/local in front of a real Redis, or, with no Redis configured, the in-process
// store (memory.ts), which is local-only: each process would count on its own.

export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: { ttlSeconds?: number }): Promise<void>;
  /** Stores only when the key is absent (SET NX EX); true when this call stored it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  del(...keys: string[]): Promise<number>;
  /** Adds one and returns the new value; a new key starts at 1 (and expires after `ttlSeconds`). */
  incr(key: string, options?: { ttlSeconds?: number }): Promise<number>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
}

/** A sliding-window limit: at most `limit` requests in any `windowSeconds`. */
export interface RateRule {
  /** Names the counter family (a route group), so two rules never share counters. */
  name: string;
  limit: number;
  windowSeconds: number;
}

export interface RateDecision {
  success: boolean;
  limit: number;
  remaining: number;
  /** When the window frees capacity again, epoch milliseconds. */
  resetAt: number;
}

export interface RateLimiter {
  limit(identifier: string, rule: RateRule): Promise<RateDecision>;
}

/**
 * Counters kept in hashes (API key usage: one hash per key and day, one field per route and status).
 * `add` only buffers: the Upstash store sends what is buffered together with its next command
 * (the same auto-pipelined HTTP request as a rate-limit check) or within a second, so counting a
 * request costs no round trip of its own. A batch is applied once: one whose request failed or went
 * unanswered is sent again (for up to 10 minutes) and Redis skips it if an earlier attempt landed.
 * What is buffered when a process dies is lost.
 */
export interface Counters {
  /** Adds `by` to `field` of hash `key`, which expires at `expireAt` (epoch seconds; 0: never). */
  add(key: string, field: string, by: number, expireAt: number): void;
  /** Sends what this process has buffered, now. */
  flush(): Promise<void>;
  /** Every field of each hash (empty for a missing one), after sending this process's buffer. */
  read(keys: string[]): Promise<Record<string, number>[]>;
}

/** Told about store failures (metrics and logs); the store itself never logs. */
export interface StoreObserver {
  /**
   * A store call failed: `timeout` (no answer within REDIS_TIMEOUT_MS), `error` (an answer that
   * was an error, or no connection), `skipped` (not tried: Redis failed moments ago).
   */
  failed(operation: string, reason: "timeout" | "error" | "skipped"): void;
  /** Redis stopped answering (once per outage), with the first error. */
  down(message: string): void;
  /** Redis answers again. */
  up(): void;
}

/** The store was unreachable or too slow: callers decide whether to fail open. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/**
 * What the read cache needs, each call at most one round trip (one pipeline on Upstash). Entries are
 * strings under `key`; beside them the store keeps, per key, its request count (`popular`, what
 * warming reads) and what was written last (`read` returns it, so a missing entry that was written
 * for the current generation shows an eviction); counters are integer fields of named hashes.
 */
export interface CacheStore {
  /** The entry (null when absent) and the marker its last write left; counts one request for `key` unless told not to. */
  read(key: string, options?: { count?: boolean }): Promise<{ value: string | null; written: string | null }>;
  /** Counts one request for `key` without reading it (buffered like `count`; a hit served in process). */
  requested(key: string): void;
  /** Stores the entry for `ttlSeconds` and remembers `marker` as what was written under `key`. */
  write(key: string, value: string, ttlSeconds: number, marker: string): Promise<void>;
  /** Adds each increment to its field of the hash `name` (may be buffered; `counters` sees it). */
  count(name: string, increments: Record<string, number>): Promise<void>;
  /** Every field of the hash `name`. */
  counters(name: string): Promise<Record<string, number>>;
  /** The most requested keys, most first; keeps only the top `keep` counts (bounds the store). */
  popular(limit: number, keep: number): Promise<{ key: string; requests: number }[]>;
}

/** The shared state of one deployment, chosen once from configuration. */
export interface SharedState {
  backend: "upstash" | "memory";
  kv: KeyValueStore;
  rateLimiter: RateLimiter;
  cache: CacheStore;
  counters: Counters;
  /** The last failure to reach the store, cleared by the next success (for /v1/ready). */
  health(): { ok: boolean; lastError?: string; since?: string };
}
