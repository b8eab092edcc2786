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

/** The store was unreachable or too slow: callers decide whether to fail open. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/** The shared state of one deployment, chosen once from configuration. */
export interface SharedState {
  backend: "upstash" | "memory";
  kv: KeyValueStore;
  rateLimiter: RateLimiter;
  /** The last failure to reach the store, cleared by the next success (for /v1/ready). */
  health(): { ok: boolean; lastError?: string; since?: string };
}
