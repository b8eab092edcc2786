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
