import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashBridge } from "../packages/local/src/upstash-bridge/bridge.ts";
import { RespClient } from "../packages/local/src/upstash-bridge/resp.ts";
import { createUpstashState } from "../packages/server/src/platform/kv/upstash.ts";
import { createTestApp } from "./helpers/app.ts";
import { CACHE_TEST_ENV, checkScenario, createSubject, freshApp, SCENARIOS } from "./helpers/cache.ts";
import { claimsOf } from "./helpers/catalog.ts";
import { onPostgres, useTestDatabase } from "./helpers/db.ts";
import {
  hasRedisServer,
  REDIS_URL,
  redisForTests,
  startPrivateRedis,
  startTestBridge,
  uniquePrefix,
} from "./helpers/redis.ts";

// The read cache through the real @upstash/redis client, the local Upstash bridge and a real Redis
// (the shared one, under a key prefix of its own; a private redis-server for the outage).

const withRedis = !onPostgres && (await redisForTests());
const ctx = useTestDatabase();

describe.skipIf(!withRedis)("the read cache on a real Redis through the Upstash bridge", () => {
  let bridge: Awaited<ReturnType<typeof startTestBridge>>;
  let app: ReturnType<typeof createTestApp>;
  beforeAll(async () => {
    bridge = await startTestBridge(REDIS_URL, "cache");
    // A loaded test machine can take longer than the production default to answer the first call.
    app = createTestApp(ctx.db, { ...CACHE_TEST_ENV, ...bridge.env, REDIS_TIMEOUT_MS: "3000" });
  });
  afterAll(() => bridge?.bridge.close());

  // One write path per topic family is enough here: the full matrix runs in cache.freshness.test.ts
  // with the same code over the in-process store.
  const sample = SCENARIOS.filter((scenario) =>
    ["product.updated/sql", "variant.updated/webhook", "brand.updated/api", "category.deleted/sql"].includes(
      `${scenario.topic}/${scenario.path}`,
    ),
  );
  for (const scenario of sample) {
    it(`${scenario.topic} through ${scenario.path}: the next read is fresh`, () =>
      checkScenario(app, ctx.db, scenario, freshApp(ctx.db)));
  }

  it("counts hits and misses exactly in Redis, and an entry Redis dropped as an eviction", async () => {
    // Every read asks Redis here (no copy in process), so Redis's own drop shows.
    const own = createTestApp(ctx.db, {
      ...CACHE_TEST_ENV,
      ...bridge.env,
      REDIS_KEY_PREFIX: `${bridge.env.REDIS_KEY_PREFIX}:stats`,
      CACHE_LOCAL_MAX_BYTES: "0",
    });
    expect(own.services.shared.backend).toBe("upstash");
    const s = await createSubject(own);
    const path = `/v1/products/${s.product.id}`;
    for (let i = 0; i < 3; i++) {
      expect((await own.request("GET", path)).headers.get("x-cache")).toBe(i === 0 ? "miss" : "hit");
      await own.services.cache.settled();
    }
    // Redis drops the entry (memory pressure, or its TTL): the next read misses and says why.
    const redis = new RespClient({ url: REDIS_URL, timeoutMs: 1000 });
    try {
      const [keys] = await redis.send([["KEYS", `${bridge.env.REDIS_KEY_PREFIX}:stats:c:e:*${s.product.id}*`]]);
      expect(keys).toHaveLength(1);
      await redis.send([["DEL", ...(keys as string[])]]);
    } finally {
      redis.close();
    }
    expect((await own.request("GET", path)).headers.get("x-cache")).toBe("miss");
    const stats = await own.request("GET", "/v1/cache/stats", { as: "manager" });
    expect(stats.json.backend).toBe("upstash");
    expect(stats.json.families.product).toMatchObject({ hits: 2, misses: 2, evictions: 1, stale: 0 });
  });

  it("serves a current entry from the process's own copy without Redis, and never after a write", async () => {
    const prefix = `${bridge.env.REDIS_KEY_PREFIX}:local`;
    const own = createTestApp(ctx.db, { ...CACHE_TEST_ENV, ...bridge.env, REDIS_KEY_PREFIX: prefix });
    const s = await createSubject(own);
    const path = `/v1/products/${s.product.id}`;
    expect((await own.request("GET", path)).headers.get("x-cache")).toBe("miss");
    await own.services.cache.settled();
    // Redis loses every entry: this process still answers from its copy, which is current.
    const redis = new RespClient({ url: REDIS_URL, timeoutMs: 1000 });
    const dropEntries = async () => {
      const [keys] = await redis.send([["KEYS", `${prefix}:c:e:*`]]);
      if ((keys as string[]).length) await redis.send([["DEL", ...(keys as string[])]]);
    };
    try {
      await dropEntries();
      for (let i = 0; i < 2; i++) expect((await own.request("GET", path)).headers.get("x-cache")).toBe("hit");

      // A write by SQL as staff (the PostgREST path): the copy is retired on the next read.
      await ctx.db.asUser(claimsOf("staff"), (tx) =>
        tx.query("update public.products set description = 'written directly' where id = $1", [s.product.id]),
      );
      const after = await own.request("GET", path);
      expect(after.headers.get("x-cache")).toBe("miss");
      expect(after.json.description).toBe("written directly");
      await own.services.cache.settled();
      expect((await own.request("GET", path)).json.description).toBe("written directly");
    } finally {
      redis.close();
    }
    const stats = await own.request("GET", "/v1/cache/stats", { as: "manager" });
    expect(stats.json.families.product).toMatchObject({ hits: 3, hits_in_process: 3, misses: 2, stale: 1 });
    // Hits served in process still count as requests for warming.
    expect(stats.json.popular).toContainEqual({ key: expect.stringContaining(s.product.id), requests: 5 });
  });
});

describe.skipIf(!withRedis)("cache statistics when a request to Redis fails", () => {
  it("a batch of counts whose request failed is sent again and counted once", async () => {
    const token = randomBytes(16).toString("hex");
    const first = await startUpstashBridge({ redisUrl: REDIS_URL, token });
    const state = createUpstashState({
      url: first.url,
      token,
      timeoutMs: 2000,
      prefix: uniquePrefix("cache-retry"),
      cooldownMs: 0,
      counterFlushMs: 60_000,
    });
    await state.cache.count("product", { hits: 2, misses: 1 });
    state.cache.requested("some-key");
    await first.close(); // the bridge goes away: the flush fails
    await state.counters.flush();
    const second = await startUpstashBridge({ redisUrl: REDIS_URL, token, port: Number(new URL(first.url).port) });
    try {
      await state.cache.count("product", { hits: 1 });
      await state.counters.flush();
      await state.counters.flush(); // nothing left to send twice
      expect(await state.cache.counters("product")).toEqual({ hits: 3, misses: 1 });
      expect(await state.cache.popular(10, 100)).toEqual([{ key: "some-key", requests: 1 }]);
    } finally {
      await second.close();
    }
  });
});

describe.skipIf(!withRedis)("counts left unsent by an outage", () => {
  it("drain from the flush one batch at a time, never riding along with a rate-limit check", async () => {
    const token = randomBytes(16).toString("hex");
    const prefix = uniquePrefix("cache-backlog");
    const first = await startUpstashBridge({ redisUrl: REDIS_URL, token });
    const state = createUpstashState({
      url: first.url,
      token,
      timeoutMs: 2000,
      prefix,
      cooldownMs: 0,
      counterFlushMs: 60_000,
    });
    await first.close(); // three flushes fail: three batches wait
    for (let i = 0; i < 3; i++) {
      await state.cache.count("product", { hits: 1 });
      await state.counters.flush();
    }
    const second = await startUpstashBridge({ redisUrl: REDIS_URL, token, port: Number(new URL(first.url).port) });
    const redis = new RespClient({ url: REDIS_URL, timeoutMs: 1000 });
    const hits = async () => {
      const [value] = await redis.send([["HGET", `${prefix}:c:s:product`, "hits"]]);
      return Number(value ?? 0);
    };
    try {
      // A backlog sent with the check would make its request grow with the outage (and fail it).
      // (The first check after the outage finds the store back; the second would carry the backlog.)
      for (let i = 0; i < 2; i++) {
        const decision = await state.rateLimiter.limit("client-1", { name: "read", limit: 10, windowSeconds: 60 });
        expect(decision.success).toBe(true);
      }
      expect(await hits()).toBe(0);
      await state.counters.flush();
      expect(await hits()).toBe(1);
      await state.counters.flush();
      await state.counters.flush();
      await state.counters.flush(); // nothing left: nothing counted twice
      expect(await hits()).toBe(3);
    } finally {
      redis.close();
      await second.close();
    }
  });
});

describe.skipIf(!withRedis || !hasRedisServer)("Redis stopped in the middle", () => {
  it("reads still answer correctly from Postgres, without errors and without waiting on Redis", async () => {
    const redis = await startPrivateRedis();
    const bridge = await startTestBridge(redis.url, "cache-down");
    try {
      // No copy in process: every read here depends on Redis answering.
      const app = createTestApp(ctx.db, {
        ...CACHE_TEST_ENV,
        ...bridge.env,
        REDIS_TIMEOUT_MS: "1000",
        CACHE_LOCAL_MAX_BYTES: "0",
      });
      const s = await createSubject(app);
      const path = `/v1/products/${s.product.id}`;
      await app.request("GET", path);
      await app.services.cache.settled();
      expect((await app.request("GET", path)).headers.get("x-cache")).toBe("hit");
      // Another instance, with its copy in process.
      const near = createTestApp(ctx.db, { ...CACHE_TEST_ENV, ...bridge.env, REDIS_TIMEOUT_MS: "1000" });
      await near.request("GET", path);
      await near.services.cache.settled();

      await redis.stop();
      // Its copy is still current: it answers from it, Redis not asked.
      const kept = await near.request("GET", path);
      expect(kept.headers.get("x-cache")).toBe("hit");
      const timings: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const answer = await app.request("GET", path);
        timings.push(performance.now() - started);
        expect(answer.status).toBe(200);
        expect(answer.headers.get("x-cache")).toBe("bypass");
        expect(answer.json.id).toBe(s.product.id);
      }
      // At most one read waits for the timeout (1 s); the rest skip Redis while it is down.
      expect(timings.filter((ms) => ms > 950).length).toBeLessThanOrEqual(1);

      // Writes while Redis is down are seen at once (nothing stale can come back from Redis).
      const changed = await app.request("PATCH", `/v1/variants/${s.product.variants[0]?.id}`, {
        as: "staff",
        body: { price_amount: 4242 },
      });
      expect(changed.status).toBe(200);
      const after = await app.request("GET", path);
      expect(after.status).toBe(200);
      expect(after.json.variants[0].price_amount).toBe(4242);
      const list = await app.request("GET", `/v1/products?q=${s.word}`);
      expect(list.status).toBe(200);
      expect(list.json.data[0].variants[0].price_amount).toBe(4242);
      // The copy in process is retired by the same generation check.
      const nearAfter = await near.request("GET", path);
      expect(nearAfter.status).toBe(200);
      expect(nearAfter.json.variants[0].price_amount).toBe(4242);
      await app.services.cache.settled();
      await near.services.cache.settled();
    } finally {
      await bridge.bridge.close();
      await redis.stop();
    }
  });
});
