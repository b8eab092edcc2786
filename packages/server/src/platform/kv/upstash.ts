// Upstash Redis over REST (production), or a real Redis behind the local Upstash bridge. Every call
// is bounded by `timeoutMs` and never retried, so an unreachable Redis costs a request at most that
// long; the caller decides what a failure means (rate limits fail open, for instance).
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import {
  type CacheStore,
  type KeyValueStore,
  type RateDecision,
  type RateLimiter,
  type RateRule,
  type SharedState,
  StoreUnavailableError,
} from "./types.ts";

export interface UpstashOptions {
  url: string;
  token: string;
  /** The longest a request waits for Redis. */
  timeoutMs: number;
  /** Prefixes every key, so deployments (and test runs) sharing a Redis never collide. */
  prefix?: string;
}

export function createUpstashState(options: UpstashOptions): SharedState {
  const redis = new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false,
    retry: { retries: 0 },
    signal: () => AbortSignal.timeout(options.timeoutMs),
  });
  const prefix = options.prefix ?? "storekeep";
  const k = (key: string) => `${prefix}:${key}`;

  let lastError: { message: string; since: string } | undefined;
  async function call<T>(operation: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StoreUnavailableError(`Redis did not answer within ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
      });
      const result = await Promise.race([operation(), timeout]);
      lastError = undefined;
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      lastError ??= { message, since: new Date().toISOString() };
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(message);
    } finally {
      clearTimeout(timer);
    }
  }

  const kv: KeyValueStore = {
    get: (key) => call(() => redis.get<string>(k(key))),
    async set(key, value, opts) {
      await call(() =>
        opts?.ttlSeconds ? redis.set(k(key), value, { ex: opts.ttlSeconds }) : redis.set(k(key), value),
      );
    },
    async setIfAbsent(key, value, ttlSeconds) {
      return (await call(() => redis.set(k(key), value, { nx: true, ex: ttlSeconds }))) === "OK";
    },
    del: (...keys) => call(() => redis.del(...keys.map(k))),
    async incr(key, opts) {
      if (!opts?.ttlSeconds) return call(() => redis.incr(k(key)));
      const [value] = await call(() =>
        redis
          .multi()
          .incr(k(key))
          .expire(k(key), opts.ttlSeconds ?? 0, "NX")
          .exec<[number, number]>(),
      );
      return value;
    },
    async ping() {
      await call(() => redis.ping());
    },
  };

  // One Ratelimit per rule: the library binds the window to the instance. Its own timeout (which
  // silently lets the request through) is off: `call` bounds the wait and reports the failure.
  const limiters = new Map<string, Ratelimit>();
  const rateLimiter: RateLimiter = {
    async limit(identifier: string, rule: RateRule): Promise<RateDecision> {
      const id = `${rule.name}:${rule.limit}:${rule.windowSeconds}`;
      let limiter = limiters.get(id);
      if (!limiter) {
        limiter = new Ratelimit({
          redis,
          limiter: Ratelimit.slidingWindow(rule.limit, `${rule.windowSeconds} s`),
          prefix: k(`rl:${rule.name}`),
          timeout: 0,
          analytics: false,
        });
        limiters.set(id, limiter);
      }
      const active = limiter;
      const result = await call(() => active.limit(identifier));
      return { success: result.success, limit: result.limit, remaining: result.remaining, resetAt: result.reset };
    },
  };

  // Entries at c:e:<key>, the marker of their last write at c:w:<key> (kept longer, so a vanished
  // entry can be told from one never written), request counts in the sorted set c:popular.
  const entryKey = (key: string) => k(`c:e:${key}`);
  const markerKey = (key: string) => k(`c:w:${key}`);
  const popularKey = k("c:popular");
  const cache: CacheStore = {
    async read(key, options) {
      if (options?.count === false) {
        const [value, written] = await call(() =>
          redis.mget<[string | null, string | null]>(entryKey(key), markerKey(key)),
        );
        return { value, written };
      }
      const [[value, written]] = await call(() =>
        redis
          .pipeline()
          .mget<[string | null, string | null]>(entryKey(key), markerKey(key))
          .zincrby(popularKey, 1, key)
          .exec<[[string | null, string | null], number]>(),
      );
      return { value, written };
    },
    async write(key, value, ttlSeconds, marker) {
      await call(() =>
        redis
          .pipeline()
          .set(entryKey(key), value, { ex: ttlSeconds })
          .set(markerKey(key), marker, { ex: ttlSeconds * 4 })
          .exec(),
      );
    },
    async count(name, increments) {
      const fields = Object.entries(increments);
      if (fields.length === 0) return;
      const pipeline = redis.pipeline();
      for (const [field, by] of fields) pipeline.hincrby(k(`c:s:${name}`), field, by);
      await call(() => pipeline.exec());
    },
    async counters(name) {
      const hash = await call(() => redis.hgetall<Record<string, string>>(k(`c:s:${name}`)));
      return Object.fromEntries(Object.entries(hash ?? {}).map(([field, value]) => [field, Number(value)]));
    },
    async popular(limit, keep) {
      const [, ranked] = await call(() =>
        redis
          .pipeline()
          .zremrangebyrank(popularKey, 0, -(keep + 1))
          .zrange(popularKey, 0, limit - 1, { rev: true, withScores: true })
          .exec<[number, (string | number)[]]>(),
      );
      const out: { key: string; requests: number }[] = [];
      for (let i = 0; i + 1 < ranked.length; i += 2)
        out.push({ key: String(ranked[i]), requests: Number(ranked[i + 1]) });
      return out;
    },
  };

  return {
    backend: "upstash",
    kv,
    rateLimiter,
    cache,
    health: () => (lastError ? { ok: false, lastError: lastError.message, since: lastError.since } : { ok: true }),
  };
}
