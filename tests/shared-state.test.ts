import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UpstashBridge } from "../packages/local/src/upstash-bridge/bridge.ts";
import { createMemoryState } from "../packages/server/src/platform/kv/memory.ts";
import type { SharedState } from "../packages/server/src/platform/kv/types.ts";
import { createUpstashState } from "../packages/server/src/platform/kv/upstash.ts";
import { onPostgres } from "./helpers/db.ts";
import { redisForTests, startTestBridge, uniquePrefix } from "./helpers/redis.ts";

// One contract, two implementations: Upstash (through the bridge, real Redis) and in-process.
const withRedis = !onPostgres && (await redisForTests());

const backends: { name: string; enabled: boolean; open(): Promise<{ state: SharedState; close(): Promise<void> }> }[] =
  [
    {
      name: "in-process",
      enabled: !onPostgres,
      open: async () => ({ state: createMemoryState(), close: async () => {} }),
    },
    {
      name: "Upstash through the bridge",
      enabled: withRedis,
      open: async () => {
        const { bridge, env } = await startTestBridge();
        const state = createUpstashState({
          url: bridge.url,
          token: bridge.token,
          timeoutMs: 1000,
          prefix: env.REDIS_KEY_PREFIX,
        });
        return { state, close: () => (bridge as UpstashBridge).close() };
      },
    },
  ];

describe.skipIf(!withRedis)("shared state: counters ride along with the rate-limit check", () => {
  it("sends buffered increments in the same HTTP request as the next limit check", async () => {
    const { bridge, env } = await startTestBridge();
    // A proxy in front of the bridge that keeps every request body it forwards.
    const bodies: string[] = [];
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString();
      bodies.push(`${req.url} ${body}`);
      const answer = await fetch(`${bridge.url}${req.url}`, {
        method: req.method,
        headers: { authorization: String(req.headers.authorization), "upstash-encoding": "base64" },
        body,
      });
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(await answer.text());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const state = createUpstashState({
        url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        token: bridge.token,
        timeoutMs: 2000,
        prefix: env.REDIS_KEY_PREFIX,
      });
      const rule = { name: "ride", limit: 10, windowSeconds: 60 };
      await state.rateLimiter.limit("caller", rule); // loads the script
      bodies.length = 0;
      state.counters.add("usage:k", "GET /v1/me 200", 1, Math.floor(Date.now() / 1000) + 60);
      expect((await state.rateLimiter.limit("caller", rule)).success).toBe(true);
      expect(bodies).toHaveLength(1);
      // The limit check (EVALSHA) and the increments (one EVAL applying the batch once) together.
      expect(bodies[0]).toMatch(/^\/pipeline /);
      expect(bodies[0]).toMatch(/"evalsha"/i);
      expect(bodies[0]).toMatch(/"eval".*"GET \/v1\/me 200"/i);
      expect(await state.counters.read(["usage:k"])).toEqual([{ "GET /v1/me 200": 1 }]);
    } finally {
      proxy.close();
      await bridge.close();
    }
  });
});

for (const backend of backends) {
  describe.skipIf(!backend.enabled)(`shared state: ${backend.name}`, () => {
    let state: SharedState;
    let close: () => Promise<void>;
    const p = uniquePrefix("state");
    beforeAll(async () => {
      ({ state, close } = await backend.open());
    });
    afterAll(() => close());

    it("gets, sets, deletes and counts", async () => {
      expect(await state.kv.get(`${p}:a`)).toBeNull();
      await state.kv.set(`${p}:a`, "1");
      expect(await state.kv.get(`${p}:a`)).toBe("1");
      expect(await state.kv.incr(`${p}:a`)).toBe(2);
      expect(await state.kv.incr(`${p}:fresh`, { ttlSeconds: 60 })).toBe(1);
      expect(await state.kv.del(`${p}:a`, `${p}:fresh`, `${p}:none`)).toBe(2);
      await state.kv.ping();
    });

    it("stores a value only once with setIfAbsent, until it expires", async () => {
      expect(await state.kv.setIfAbsent(`${p}:nonce`, "1", 1)).toBe(true);
      expect(await state.kv.setIfAbsent(`${p}:nonce`, "1", 1)).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await state.kv.setIfAbsent(`${p}:nonce`, "1", 1)).toBe(true);
    });

    it("adds buffered counters into hashes and reads them back exactly", async () => {
      const expireAt = Math.floor(Date.now() / 1000) + 60;
      for (let i = 0; i < 7; i++) state.counters.add(`${p}:usage:a`, "GET /v1/me 200", 1, expireAt);
      state.counters.add(`${p}:usage:a`, "POST /v1/products 422", 2, expireAt);
      state.counters.add(`${p}:usage:b`, "GET /v1/me 200", 1, expireAt);
      await state.counters.flush();
      state.counters.add(`${p}:usage:a`, "GET /v1/me 200", 1, expireAt);
      // read sends what is still buffered first
      expect(await state.counters.read([`${p}:usage:a`, `${p}:usage:b`, `${p}:usage:none`])).toEqual([
        { "GET /v1/me 200": 8, "POST /v1/products 422": 2 },
        { "GET /v1/me 200": 1 },
        {},
      ]);
      expect(await state.counters.read([])).toEqual([]);
    });

    it("lets exactly the limit through a sliding window, also in parallel", async () => {
      const rule = { name: `${p}-rule`, limit: 20, windowSeconds: 30 };
      const decisions = await Promise.all(Array.from({ length: 45 }, () => state.rateLimiter.limit("caller", rule)));
      expect(decisions.filter((d) => d.success)).toHaveLength(20);
      const refused = decisions.find((d) => !d.success);
      expect(refused).toMatchObject({ limit: 20, remaining: 0 });
      expect(refused?.resetAt).toBeGreaterThan(Date.now());
      expect((await state.rateLimiter.limit("someone-else", rule)).success).toBe(true);
      expect(state.health().ok).toBe(true);
    });
  });
}
