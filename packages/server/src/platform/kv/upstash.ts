// Upstash Redis over REST (production), or a real Redis behind the local Upstash bridge. Every call
// is bounded by `timeoutMs` and never retried, and after a failure calls fail at once for
// `cooldownMs` (then one call tries Redis again), so an unreachable Redis costs a request nothing
// but the odd bounded wait; the caller decides what a failure means (rate limits fail open).
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { inBackground } from "../background.ts";
import {
  type CacheStore,
  type Counters,
  type KeyValueStore,
  type RateDecision,
  type RateLimiter,
  type RateRule,
  type SharedState,
  type StoreObserver,
  StoreUnavailableError,
} from "./types.ts";

export interface UpstashOptions {
  url: string;
  token: string;
  /** The longest a request waits for Redis. */
  timeoutMs: number;
  /** Prefixes every key, so deployments (and test runs) sharing a Redis never collide. */
  prefix?: string;
  /** After a failure, calls fail at once for this long; then one call at a time tries again. */
  cooldownMs?: number;
  /** How long counter increments wait for another command to ride along with (default 1 s). */
  counterFlushMs?: number;
  observer?: StoreObserver;
}

/** Distinct counter fields one process buffers at most (keys x routes x statuses of one second). */
const MAX_BUFFERED_FIELDS = 10_000;
/** Failed counter batches kept to send again, at most, and for how long. */
const MAX_UNSENT_BATCHES = 60;
const BATCH_RETRY_MS = 10 * 60_000;
/** How long Redis remembers a batch was applied (longer than any batch is retried). */
const BATCH_MARKER_SECONDS = 3600;

/** Counter increments taken from the buffer: the script's keys (its marker first) and arguments. */
interface CounterBatch {
  keys: string[];
  args: string[];
  takenAt: number;
}

/**
 * Applies one batch of counter increments exactly once: a batch carries a marker key, and a batch
 * whose marker is already set was applied by an earlier attempt whose answer never came back.
 * ARGV[1] is the marker's lifetime; then per change a kind and an index into KEYS: `h` field by
 * (HINCRBY), `x` at (EXPIREAT), `z` member by (ZINCRBY).
 */
const COUNT_ONCE = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local i = 2
while i <= #ARGV do
  local kind, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  if kind == 'h' then
    redis.call('HINCRBY', key, ARGV[i + 2], ARGV[i + 3])
    i = i + 4
  elseif kind == 'z' then
    redis.call('ZINCRBY', key, ARGV[i + 3], ARGV[i + 2])
    i = i + 4
  else
    redis.call('EXPIREAT', key, ARGV[i + 2])
    i = i + 3
  end
end
return 1
`;

/**
 * How long an HTTP request to Redis may run, as a multiple of how long a caller waits for it. A
 * caller stops waiting after `timeoutMs`, but its request is left to finish: aborting it would
 * destroy its keep-alive connection, and under load every late reply then cost a new TCP
 * connection, whose set-up made the next replies later still (bench/cache measured one new
 * connection per timed-out call and accept-queue overflows stalling connects for seconds).
 */
const ABORT_AFTER_WAITS = 10;

export function createUpstashState(options: UpstashOptions): SharedState {
  const redis = new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false,
    retry: { retries: 0 },
    signal: () => AbortSignal.timeout(options.timeoutMs * ABORT_AFTER_WAITS),
  });
  const prefix = options.prefix ?? "storekeep";
  const k = (key: string) => `${prefix}:${key}`;
  const cooldownMs = options.cooldownMs ?? 5_000;
  const observer = options.observer;

  let lastError: { message: string; since: string } | undefined;
  let retryAt = 0;
  let probing = false;

  /** Whether a call would be tried now (not inside the cooldown after a failure). */
  const available = () => !lastError || (Date.now() >= retryAt && !probing);

  async function call<T>(operation: string, run: () => Promise<T>, options_: { always?: boolean } = {}): Promise<T> {
    const probe = lastError !== undefined && !options_.always;
    if (probe) {
      if (!available()) {
        observer?.failed(operation, "skipped");
        throw new StoreUnavailableError(`Redis is unavailable since ${lastError?.since}: ${lastError?.message}`);
      }
      probing = true;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new StoreUnavailableError(`Redis did not answer within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      });
      // `run` starts synchronously, so commands issued in the same tick share one HTTP request.
      const result = await Promise.race([run(), timeout]);
      if (lastError) {
        lastError = undefined;
        observer?.up();
      }
      return result;
    } catch (error) {
      // fetch's own message ("fetch failed") says nothing; its cause says what the network did.
      const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
      const message = `${error instanceof Error ? error.message : String(error)}${cause}`;
      observer?.failed(operation, timedOut ? "timeout" : "error");
      if (!lastError) {
        lastError = { message, since: new Date().toISOString() };
        observer?.down(message);
      }
      retryAt = Date.now() + cooldownMs;
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(message);
    } finally {
      clearTimeout(timer);
      if (probe) probing = false;
    }
  }

  const kv: KeyValueStore = {
    get: (key) => call("get", () => redis.get<string>(k(key))),
    async set(key, value, opts) {
      await call("set", () =>
        opts?.ttlSeconds ? redis.set(k(key), value, { ex: opts.ttlSeconds }) : redis.set(k(key), value),
      );
    },
    async setIfAbsent(key, value, ttlSeconds) {
      return (await call("set", () => redis.set(k(key), value, { nx: true, ex: ttlSeconds }))) === "OK";
    },
    del: (...keys) => call("del", () => redis.del(...keys.map(k))),
    async incr(key, opts) {
      if (!opts?.ttlSeconds) return call("incr", () => redis.incr(k(key)));
      const [value] = await call("incr", () =>
        redis
          .multi()
          .incr(k(key))
          .expire(k(key), opts.ttlSeconds ?? 0, "NX")
          .exec<[number, number]>(),
      );
      return value;
    },
    // Readiness asks Redis itself even inside the cooldown: /v1/ready reports what is true now.
    async ping() {
      await call("ping", () => redis.ping(), { always: true });
    },
  };

  // Entries at c:e:<key>, the marker of their last write at c:w:<key> (kept longer, so a vanished
  // entry can be told from one never written), request counts in the sorted set c:popular.
  const entryKey = (key: string) => k(`c:e:${key}`);
  const markerKey = (key: string) => k(`c:w:${key}`);
  const popularKey = k("c:popular");

  // Counter increments wait here until the next command goes out (they ride in its pipeline)
  // or until `counterFlushMs` passes.
  const buffer = new Map<string, { expireAt: number; fields: Map<string, number> }>();
  // Requests for cache keys served in process (ZINCRBY on the popularity set), sent the same way.
  const requestedBuffer = new Map<string, number>();
  let bufferedFields = 0;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;

  // Batches taken from the buffer and not yet known to be applied (the request failed or went
  // unanswered): sent again with the same id, which the script applies at most once.
  const unsent: CounterBatch[] = [];

  function takeBuffer(): CounterBatch {
    const keys = [k(`counted:${crypto.randomUUID()}`)];
    const args = [String(BATCH_MARKER_SECONDS)];
    const indexOf = (key: string) => String(keys.push(key));
    for (const [key, hash] of buffer) {
      const index = indexOf(k(key));
      for (const [field, by] of hash.fields) args.push("h", index, field, String(by));
      if (hash.expireAt) args.push("x", index, String(hash.expireAt));
    }
    if (requestedBuffer.size) {
      const index = indexOf(popularKey);
      for (const [key, by] of requestedBuffer) args.push("z", index, key, String(by));
    }
    buffer.clear();
    requestedBuffer.clear();
    bufferedFields = 0;
    return { keys, args, takenAt: Date.now() };
  }

  /**
   * Sends what is buffered as a new batch, with at most `retries` of the oldest unsent ones. A
   * request that rides along with a rate-limit check or a cache read takes none: after an outage the
   * backlog drains from the flush timer one batch at a time, so no such request grows with it (a
   * too-large request would fail the check it carries and open the breaker again).
   */
  function sendBuffered(retries = 1): Promise<void> {
    if (!available()) return Promise.resolve();
    const retried = unsent.splice(0, retries);
    const batches = buffer.size > 0 || requestedBuffer.size > 0 ? [...retried, takeBuffer()] : retried;
    if (batches.length === 0) return Promise.resolve();
    return call("counters", () =>
      Promise.all(batches.map((batch) => redis.eval(COUNT_ONCE, batch.keys, batch.args))),
    ).then(
      () => undefined,
      // Reported by `call`. Maybe applied, maybe not: sent again later, counted once either way;
      // given up after BATCH_RETRY_MS (or beyond MAX_UNSENT_BATCHES), and reported then.
      () => {
        // Oldest first, so age retires them in order: the retried ones back at the front, a new one last.
        const young = (batch: CounterBatch) => Date.now() - batch.takenAt < BATCH_RETRY_MS;
        const keep = retried.filter(young);
        unsent.unshift(...keep);
        const fresh = batches.slice(retried.length);
        unsent.push(...fresh);
        const dropped = retried.length - keep.length + Math.max(0, unsent.length - MAX_UNSENT_BATCHES);
        unsent.splice(MAX_UNSENT_BATCHES);
        for (let i = 0; i < dropped; i++) observer?.failed("counters", "skipped");
      },
    );
  }

  function scheduleFlush() {
    if (flushTimer) return;
    const flushed = new Promise<void>((resolve) => {
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        void sendBuffered().then(() => {
          // Redis was cooling down, or a batch failed: try again later.
          if (buffer.size > 0 || requestedBuffer.size > 0 || unsent.length > 0) scheduleFlush();
          resolve();
        });
      }, options.counterFlushMs ?? 1_000);
    });
    (flushTimer as { unref?: () => void } | undefined)?.unref?.();
    // On Supabase's edge runtime, keep the worker alive until the counts are sent.
    inBackground(flushed);
  }

  const counters: Counters = {
    add(key, field, by, expireAt) {
      let hash = buffer.get(key);
      if (!hash) {
        hash = { expireAt, fields: new Map() };
        buffer.set(key, hash);
      }
      const current = hash.fields.get(field);
      if (current === undefined) {
        if (bufferedFields >= MAX_BUFFERED_FIELDS) {
          observer?.failed("counters", "skipped");
          return;
        }
        bufferedFields++;
      }
      hash.fields.set(field, (current ?? 0) + by);
      scheduleFlush();
    },
    flush: () => sendBuffered(),
    async read(keys) {
      await sendBuffered();
      if (keys.length === 0) return [];
      const rows = await call("counters", () => {
        const pipeline = redis.pipeline();
        for (const key of keys) pipeline.hgetall(k(key));
        return pipeline.exec<unknown[]>();
      });
      return rows.map(countsOf);
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
      // Buffered counts go out in the same tick as the check: one auto-pipelined request for both.
      if (!lastError) void sendBuffered(0);
      const result = await call("ratelimit", () => active.limit(identifier));
      return { success: result.success, limit: result.limit, remaining: result.remaining, resetAt: result.reset };
    },
  };

  const cache: CacheStore = {
    // One HTTP request: the entry, its marker, the request count, and the buffered statistics
    // (issued in the same tick, so auto-pipelining sends them together).
    async read(key, options) {
      if (!lastError) void sendBuffered(0);
      const [[value, written]] = await call("cache.read", () =>
        Promise.all([
          redis.mget<[string | null, string | null]>(entryKey(key), markerKey(key)),
          options?.count === false ? undefined : redis.zincrby(popularKey, 1, key),
        ]),
      );
      return { value, written };
    },
    requested(key) {
      const current = requestedBuffer.get(key);
      if (current === undefined) {
        if (bufferedFields >= MAX_BUFFERED_FIELDS) {
          observer?.failed("counters", "skipped");
          return;
        }
        bufferedFields++;
      }
      requestedBuffer.set(key, (current ?? 0) + 1);
      scheduleFlush();
    },
    async write(key, value, ttlSeconds, marker) {
      await call("cache.write", () =>
        redis
          .pipeline()
          .set(entryKey(key), value, { ex: ttlSeconds })
          .set(markerKey(key), marker, { ex: ttlSeconds * 4 })
          .exec(),
      );
    },
    // Buffered with the counters: sent with the next read, or within counterFlushMs.
    async count(name, increments) {
      for (const [field, by] of Object.entries(increments)) if (by) counters.add(`c:s:${name}`, field, by, 0);
    },
    async counters(name) {
      await sendBuffered();
      // Without automatic deserialization HGETALL answers the flat [field, value, ...] list.
      const hash = await call("cache.counters", () => redis.hgetall(k(`c:s:${name}`)));
      const flat: unknown[] = Array.isArray(hash) ? hash : Object.entries(hash ?? {}).flat();
      const out: Record<string, number> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = Number(flat[i + 1]);
      return out;
    },
    async popular(limit, keep) {
      await sendBuffered(); // requests counted in process are buffered with the counters
      const [, ranked] = await call("cache.popular", () =>
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
    counters,
    health: () => (lastError ? { ok: false, lastError: lastError.message, since: lastError.since } : { ok: true }),
  };
}

/** HGETALL's reply as field -> count: an object, or a flat [field, value, ...] array without deserialization. */
function countsOf(reply: unknown): Record<string, number> {
  const counts: Record<string, number> = {};
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) counts[String(reply[i])] = Number(reply[i + 1]);
  } else if (reply && typeof reply === "object") {
    for (const [field, value] of Object.entries(reply)) counts[field] = Number(value);
  }
  return counts;
}
