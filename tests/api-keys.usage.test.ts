import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UpstashBridge } from "../packages/local/src/upstash-bridge/bridge.ts";
import { issueKey } from "./helpers/api-keys.ts";
import { createTestApp, type TestResponse } from "./helpers/app.ts";
import { createTestDatabase, onPostgres, type TestDatabase } from "./helpers/db.ts";
import { redisForTests, startTestBridge } from "./helpers/redis.ts";

// Usage per API key, day, route and status, counted in the shared store (in process, and real
// Redis through the Upstash bridge), read back through GET /v1/api-keys/{id}/usage. Nothing here
// depends on the database engine, so it runs once (in the PGlite project).
const withRedis = !onPostgres && (await redisForTests());

const backends = [
  { name: "in process", enabled: !onPostgres, env: async () => ({ env: {}, close: async () => {} }) },
  {
    name: "Upstash through the bridge (real Redis)",
    enabled: withRedis,
    env: async () => {
      const { bridge, env } = await startTestBridge(undefined, "usage");
      return { env, close: () => (bridge as UpstashBridge).close() };
    },
  },
];

const today = () => new Date().toISOString().slice(0, 10);

/** The environment that points another app at the same Upstash endpoint and key prefix. */
function upstashEnv(config: ReturnType<typeof createTestApp>["config"]): Record<string, string> {
  const upstash = config.upstash;
  if (!upstash) return {};
  return {
    UPSTASH_REDIS_REST_URL: upstash.url,
    UPSTASH_REDIS_REST_TOKEN: upstash.token,
    REDIS_KEY_PREFIX: upstash.prefix,
    RATE_LIMITS_ENABLED: "false",
  };
}

for (const backend of backends) {
  describe.skipIf(!backend.enabled)(`API key usage: ${backend.name}`, () => {
    let database: TestDatabase;
    let close: () => Promise<void>;
    let app: ReturnType<typeof createTestApp>;
    beforeAll(async () => {
      database = await createTestDatabase();
      const store = await backend.env();
      close = store.close;
      // A read limit low enough that some of the traffic below is refused: 429s count too. Redis
      // gets long enough to answer on a busy machine (a timed-out check would let a request through).
      app = createTestApp(database.db, {
        ...store.env,
        RATE_LIMITS_ENABLED: "true",
        RATE_LIMIT_READ: "12/1h",
        REDIS_TIMEOUT_MS: "5000",
      });
    });
    afterAll(async () => {
      await close();
      await database.drop();
    });

    it("counts exactly the requests each key sent, by route template and status", async () => {
      const [key, other] = [
        await issueKey(database.db, { scopes: ["catalog:read"] }),
        await issueKey(database.db, { scopes: ["catalog:read"] }),
      ];
      const sent: { key: string; method: string; route: string; response: TestResponse }[] = [];
      const send = async (secret: string, path: string, route: string) => {
        const response = await app.request("GET", path, { headers: { "x-api-key": secret } });
        sent.push({ key: secret, method: "GET", route, response });
      };
      for (let i = 0; i < 6; i++) await send(key.secret, "/v1/products", "/v1/products");
      for (let i = 0; i < 3; i++) await send(key.secret, `/v1/products/${randomUUID()}`, "/v1/products/{id}");
      for (let i = 0; i < 2; i++) await send(key.secret, "/v1/no-such-route", "unmatched");
      await Promise.all(Array.from({ length: 5 }, () => send(key.secret, "/v1/me", "/v1/me")));
      await send(other.secret, "/v1/products", "/v1/products");
      // Neither a user's requests nor the usage reads themselves (a user's) count for a key.
      await app.request("GET", "/v1/products", { as: "owner" });

      const expected = new Map<string, number>();
      for (const { key: secret, method, route, response } of sent) {
        if (secret !== key.secret) continue;
        const field = `${method} ${route} ${response.status}`;
        expected.set(field, (expected.get(field) ?? 0) + 1);
      }
      // The traffic spans several statuses, the limit's 429 among them.
      expect(new Set(sent.map((s) => s.response.status)).has(429)).toBe(true);

      const usage = await app.request("GET", `/v1/api-keys/${key.id}/usage`, { as: "admin" });
      expect(usage.status).toBe(200);
      expect(usage.json).toMatchObject({ api_key_id: key.id, to: today(), total: 16 });
      expect(usage.json.days).toHaveLength(7);
      const day = usage.json.days.at(-1);
      expect(day).toMatchObject({ date: today(), total: 16 });
      const counted = new Map<string, number>(
        day.requests.map((line: { method: string; route: string; status: number; count: number }) => [
          `${line.method} ${line.route} ${line.status}`,
          line.count,
        ]),
      );
      expect(counted).toEqual(expected);
      expect(usage.json.days.slice(0, -1).every((d: { total: number }) => d.total === 0)).toBe(true);

      const theOther = await app.request("GET", `/v1/api-keys/${other.id}/usage?from=${today()}&to=${today()}`, {
        as: "owner",
      });
      expect(theOther.json).toMatchObject({ from: today(), to: today(), total: 1 });
      expect(theOther.json.days[0].requests).toEqual([
        { method: "GET", route: "/v1/products", status: sent.at(-1)?.response.status, count: 1 },
      ]);
    });

    it.skipIf(backend.name === "in process")(
      "sees another instance's counts once its buffer goes out (within a second, no request needed)",
      async () => {
        const key = await issueKey(database.db, { scopes: ["catalog:read"] });
        // A second instance (another edge isolate) on the same Redis and key prefix.
        const other = createTestApp(database.db, upstashEnv(app.config));
        for (let i = 0; i < 3; i++)
          await other.request("GET", "/v1/products", { headers: { "x-api-key": key.secret } });
        const read = () => app.request("GET", `/v1/api-keys/${key.id}/usage?from=${today()}`, { as: "admin" });
        // That instance checks no limits, so nothing carries its buffer along: its timer must send it.
        await new Promise((resolve) => setTimeout(resolve, 1_300));
        expect((await read()).json.total).toBe(3);
      },
    );

    it("answers only admins and up, 404 for an unknown key, 422 naming a bad range", async () => {
      const key = await issueKey(database.db, { scopes: ["catalog:read"] });
      expect((await app.request("GET", `/v1/api-keys/${key.id}/usage`, { as: "manager" })).status).toBe(403);
      expect((await app.request("GET", `/v1/api-keys/${key.id}/usage`)).status).toBe(401);
      expect((await app.request("GET", `/v1/api-keys/${randomUUID()}/usage`, { as: "admin" })).status).toBe(404);
      const reversed = await app.request("GET", `/v1/api-keys/${key.id}/usage?from=2026-12-02&to=2026-12-01`, {
        as: "admin",
      });
      expect(reversed.status).toBe(422);
      expect(reversed.json.errors).toEqual([{ field: "query.from", message: "must not be after to" }]);
      const tooLong = await app.request("GET", `/v1/api-keys/${key.id}/usage?from=2025-01-01&to=2026-12-01`, {
        as: "admin",
      });
      expect(tooLong.status).toBe(422);
      const notADate = await app.request("GET", `/v1/api-keys/${key.id}/usage?from=yesterday`, { as: "admin" });
      expect(notADate.status).toBe(422);
      expect(notADate.json.errors[0].field).toBe("query.from");
    });
  });
}
