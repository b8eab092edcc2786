import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UpstashBridge } from "../packages/local/src/upstash-bridge/bridge.ts";
import { issueKey } from "./helpers/api-keys.ts";
import { createTestApp, type TestResponse, tally } from "./helpers/app.ts";
import { createTestDatabase, onPostgres, type TestDatabase } from "./helpers/db.ts";
import { hasRedisServer, redisForTests, startPrivateRedis, startTestBridge } from "./helpers/redis.ts";

// Rate limits through the real app, on both shared stores: in process, and the real
// @upstash/ratelimit client through the Upstash bridge in front of a real Redis. Nothing here
// depends on the database engine, so it runs once (in the PGlite project).
const withRedis = !onPostgres && (await redisForTests());

const HOUR = 3600;

/**
 * Sliding windows are aligned to multiples of their length: a burst that straddles a boundary may
 * see part of the previous window's count again. Hour-long windows and this wait keep a test's
 * burst inside one window.
 */
async function awayFromWindowEdge(windowSeconds: number, marginMs = 10_000) {
  const intoWindow = Date.now() % (windowSeconds * 1000);
  const left = windowSeconds * 1000 - intoWindow;
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

// These tests count decisions, so Redis gets longer than production's 300 ms to answer: the bridge
// shares this process (and two busy cores) with the app, and a check that timed out would let its
// request through (fail open) and skew the count. The Redis-down tests set their own timeout.
const limits = (read: number, write = 100, checkout = 100) => ({
  REDIS_TIMEOUT_MS: "5000",
  RATE_LIMITS_ENABLED: "true",
  RATE_LIMIT_READ: `${read}/1h`,
  RATE_LIMIT_WRITE: `${write}/1h`,
  RATE_LIMIT_CHECKOUT: `${checkout}/1h`,
});

const backends = [
  { name: "in process", enabled: !onPostgres, env: async () => ({ env: {}, close: async () => {} }) },
  {
    name: "Upstash through the bridge (real Redis)",
    enabled: withRedis,
    env: async () => {
      const { bridge, env } = await startTestBridge(undefined, "ratelimit");
      return { env, close: () => (bridge as UpstashBridge).close() };
    },
  },
];

for (const backend of backends) {
  describe.skipIf(!backend.enabled)(`rate limits: ${backend.name}`, () => {
    let database: TestDatabase;
    const closers: (() => Promise<void>)[] = [];
    beforeAll(async () => {
      database = await createTestDatabase();
    });
    afterAll(async () => {
      await Promise.all(closers.map((close) => close()));
      await database.drop();
    });

    /** A fresh app (fresh counters) with these limits on this backend. */
    async function appWith(env: Record<string, string>) {
      const store = await backend.env();
      closers.push(store.close);
      return createTestApp(database.db, { ...store.env, ...env });
    }

    it("lets exactly N requests through a limit of N; the next gets 429 with Retry-After", async () => {
      await awayFromWindowEdge(HOUR);
      const { request } = await appWith(limits(5));
      const passed: TestResponse[] = [];
      for (let i = 0; i < 5; i++) passed.push(await request("GET", "/v1/me", { as: "viewer" }));
      expect(passed.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      passed.forEach((response, i) => {
        expect(response.headers.get("ratelimit-policy")).toBe(`"read";q=5;w=${HOUR}`);
        const [, remaining, reset] = /^"read";r=(\d+);t=(\d+)$/.exec(response.headers.get("ratelimit") ?? "") ?? [];
        expect(Number(remaining)).toBe(4 - i);
        expect(Number(reset)).toBeGreaterThan(0);
        expect(Number(reset)).toBeLessThanOrEqual(HOUR);
      });

      const refused = await request("GET", "/v1/me", { as: "viewer" });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("content-type")).toBe("application/problem+json");
      expect(refused.json).toMatchObject({
        type: "https://storekeep.dev/problems/rate-limited",
        status: 429,
        "violated-policies": ["read"],
      });
      expect(refused.headers.get("ratelimit-policy")).toBe(`"read";q=5;w=${HOUR}`);
      const [, remaining, reset] = /^"read";r=(\d+);t=(\d+)$/.exec(refused.headers.get("ratelimit") ?? "") ?? [];
      expect(remaining).toBe("0");
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      // Retry-After never points earlier than the draft's reset parameter.
      expect(retryAfter).toBeGreaterThanOrEqual(Number(reset));
      expect(retryAfter).toBeLessThanOrEqual(HOUR);
    });

    it("lets exactly 50 of 100 parallel requests through a limit of 50", async () => {
      await awayFromWindowEdge(HOUR);
      const { request } = await appWith(limits(50));
      const responses = await Promise.all(Array.from({ length: 100 }, () => request("GET", "/v1/me", { as: "staff" })));
      expect(tally(responses)).toEqual({ 200: 50, 429: 50 });
      const remaining = responses
        .filter((r) => r.status === 200)
        .map((r) => Number(/r=(\d+)/.exec(r.headers.get("ratelimit") ?? "")?.[1]))
        .sort((a, b) => a - b);
      // Each admitted request saw its own place in the window: 49, 48, ..., 0.
      expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });

    it("keeps separate counters per API key, per user, per client address, and per route group", async () => {
      await awayFromWindowEdge(HOUR);
      const { request } = await appWith(limits(2, 2, 2));
      const twice = async (send: () => Promise<TestResponse>) => [await send(), await send(), await send()];

      // A user who spent their reads leaves another user's reads untouched.
      expect((await twice(() => request("GET", "/v1/me", { as: "viewer" }))).map((r) => r.status)).toEqual([
        200, 200, 429,
      ]);
      expect((await request("GET", "/v1/me", { as: "staff" })).status).toBe(200);

      // An API key counts on its own: not with its creator (the owner), not with another key.
      const [first, second] = [
        await issueKey(database.db, { scopes: ["catalog:read"] }),
        await issueKey(database.db, { scopes: ["catalog:read"] }),
      ];
      const withKey = (secret: string) => () => request("GET", "/v1/me", { headers: { "x-api-key": secret } });
      const keyed = await twice(withKey(first.secret));
      expect(keyed.map((r) => r.status === 429)).toEqual([false, false, true]);
      expect(keyed[2]?.headers.get("ratelimit")).toMatch(/^"read";r=0;t=\d+$/);
      expect((await withKey(second.secret)()).status).not.toBe(429);
      expect((await request("GET", "/v1/me", { as: "owner" })).status).toBe(200);

      // Anonymous callers count per client address (the gateway's last X-Forwarded-For hop).
      const anon = (address: string) =>
        request("GET", "/v1/webhooks/event-types", { headers: { "x-forwarded-for": address } });
      expect((await twice(() => anon("203.0.113.7"))).map((r) => r.status)).toEqual([200, 200, 429]);
      expect((await anon("203.0.113.8")).status).toBe(200);
      // A hop the client wrote itself ahead of the gateway's does not buy a fresh counter.
      expect((await anon("198.51.100.1, 203.0.113.7")).status).toBe(429);

      // Writes, checkout and reads are counted apart (invalid bodies: counted, nothing written).
      const write = () => request("POST", "/v1/products", { as: "staff", body: {} });
      const checkout = () => request("POST", "/v1/inventory/reservations", { as: "staff", body: {} });
      const writes = await twice(write);
      expect(writes.map((r) => r.status)).toEqual([422, 422, 429]);
      expect(writes[0]?.headers.get("ratelimit-policy")).toBe(`"write";q=2;w=${HOUR}`);
      const checkouts = await twice(checkout);
      expect(checkouts.map((r) => r.status)).toEqual([422, 422, 429]);
      expect(checkouts[2]?.json["violated-policies"]).toEqual(["checkout"]);
      expect((await request("GET", "/v1/me", { as: "staff" })).status).toBe(200);
    });

    it("trusts as many X-Forwarded-For hops from the right as TRUSTED_PROXY_HOPS says", async () => {
      const { request } = await appWith({ ...limits(1), TRUSTED_PROXY_HOPS: "2" });
      const anon = (forwardedFor: string) =>
        request("GET", "/v1/webhooks/event-types", { headers: { "x-forwarded-for": forwardedFor } });
      expect((await anon("198.51.100.1, 203.0.113.9, 10.0.0.2")).status).toBe(200);
      // The same client behind the same two proxies, whatever it writes ahead of them.
      expect((await anon("192.0.2.1, 203.0.113.9, 10.0.0.3")).status).toBe(429);
      expect((await anon("203.0.113.10, 10.0.0.2")).status).toBe(200);
    });

    it("leaves health and readiness probes and the service role unlimited", async () => {
      const { request } = await appWith(limits(1, 1, 1));
      for (let i = 0; i < 3; i++) {
        const health = await request("GET", "/v1/health");
        expect(health.status).toBe(200);
        expect(health.headers.get("ratelimit")).toBeNull();
      }
      expect((await request("GET", "/v1/ready")).status).toBe(200);
      expect((await request("GET", "/v1/ready")).status).toBe(200);
    });

    it("counts decisions by group and outcome in the metrics", async () => {
      const { request, services } = await appWith(limits(1));
      await request("GET", "/v1/me", { as: "viewer" });
      await request("GET", "/v1/me", { as: "viewer" });
      const { body } = await services.metrics.scrape();
      expect(body).toMatch(/storekeep_rate_limit_decisions_total\{group="read",outcome="allowed"\} 1/);
      expect(body).toMatch(/storekeep_rate_limit_decisions_total\{group="read",outcome="limited"\} 1/);
    });
  });
}

describe.skipIf(!withRedis || !hasRedisServer)("rate limits when Redis stops (a private redis-server)", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it("serves reads fast, says degraded in /v1/ready, logs it once, and applies the write policy", async () => {
    const redis = await startPrivateRedis();
    const { bridge, env } = await startTestBridge(redis.url, "down");
    const lines: string[] = [];
    try {
      const allow = createTestApp(
        database.db,
        { ...env, ...limits(100), LOG_LEVEL: "warn" },
        { writeLog: (line) => lines.push(line) },
      );
      const refuse = createTestApp(database.db, {
        ...env,
        ...limits(100),
        REDIS_KEY_PREFIX: `${env.REDIS_KEY_PREFIX}:refuse`,
        RATE_LIMIT_WRITES_WHEN_REDIS_DOWN: "refuse",
      });
      const before = await allow.request("GET", "/v1/products", { as: "viewer" });
      expect(before.status).toBe(200);
      expect(before.headers.get("ratelimit")).toMatch(/^"read";r=99;/);
      expect((await allow.request("GET", "/v1/ready")).json.status).toBe("ready");

      await redis.stop();

      const timings: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const read = await allow.request("GET", "/v1/products", { as: "viewer" });
        timings.push(performance.now() - started);
        expect(read.status).toBe(200);
        // The policy still shows; how much is left is unknown while Redis is away.
        expect(read.headers.get("ratelimit-policy")).toBe(`"read";q=100;w=${HOUR}`);
        expect(read.headers.get("ratelimit")).toBeNull();
      }
      // Far below the client's patience: no request waits for Redis beyond REDIS_TIMEOUT_MS (300 ms).
      expect(Math.max(...timings)).toBeLessThan(1_000);
      timings.sort((a, b) => a - b);
      expect(timings[Math.floor(timings.length / 2)]).toBeLessThan(250);

      const ready = await allow.request("GET", "/v1/ready");
      expect(ready.status).toBe(200);
      expect(ready.json).toMatchObject({
        status: "degraded",
        checks: { database: { status: "up" }, redis: { status: "down", error: expect.any(String) } },
      });

      // Writes follow RATE_LIMIT_WRITES_WHEN_REDIS_DOWN: allowed by default, 503 when set to refuse.
      expect((await allow.request("POST", "/v1/products", { as: "staff", body: {} })).status).toBe(422);
      const refused = await refuse.request("POST", "/v1/products", { as: "staff", body: {} });
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect((await refuse.request("GET", "/v1/products", { as: "viewer" })).status).toBe(200);

      const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => /Redis is unavailable/.test(entry.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: "warn", error: expect.any(String) });

      const { body } = await allow.services.metrics.scrape();
      expect(body).toMatch(/storekeep_rate_limit_decisions_total\{group="read",outcome="store_down_allowed"\} [1-9]/);
      expect(body).toMatch(/storekeep_redis_failures_total\{operation="ratelimit",reason="error"\} [1-9]/);
      expect(body).toMatch(/storekeep_redis_available 0/);
    } finally {
      await bridge.close();
      await redis.stop();
    }
  });

  it("bounds each wait by REDIS_TIMEOUT_MS when Redis does not answer at all", async () => {
    // A REST endpoint that accepts connections and never answers: Upstash unreachable mid-flight.
    const { createServer } = await import("node:http");
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      const { request } = createTestApp(database.db, {
        ...limits(100),
        UPSTASH_REDIS_REST_URL: url,
        UPSTASH_REDIS_REST_TOKEN: "t",
        REDIS_TIMEOUT_MS: "200",
        REDIS_COOLDOWN_MS: "60000",
      });
      const timings: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        expect((await request("GET", "/v1/me", { as: "viewer" })).status).toBe(200);
        timings.push(performance.now() - started);
      }
      // The first waits its 200 ms; the rest skip Redis during the cooldown.
      expect(timings[0]).toBeGreaterThanOrEqual(190);
      expect(timings[0]).toBeLessThan(900);
      for (const ms of timings.slice(1)) expect(ms).toBeLessThan(150);
      const ready = await request("GET", "/v1/ready");
      expect(ready.json).toMatchObject({ status: "degraded", checks: { redis: { status: "down" } } });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
