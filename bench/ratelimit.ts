import { randomBytes } from "node:crypto";
import { migrate } from "../packages/local/src/migrate.ts";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { startUpstashBridge, type UpstashBridge } from "../packages/local/src/upstash-bridge/bridge.ts";
import { RespClient } from "../packages/local/src/upstash-bridge/resp.ts";
import { createApp } from "../packages/server/src/app.ts";
import { createServices } from "../packages/server/src/main.ts";
import { LOCAL_JWT_SECRET, loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { compareRows, interleave, printTable, type Row, scratchDatabase } from "./lib.ts";

export const description = "the rate-limit check per request (in process, and real Redis through the bridge)";
export const timeLimitSeconds = 120;

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const BUDGET = { ms: 1_500, warmupMs: 300, rounds: 2 };
// Limits nobody reaches: every check is made and every request passes.
const NEVER_REACHED = { RATE_LIMIT_READ: "1000000/1h", RATE_LIMIT_WRITE: "1000000/1h" };

export default async function ratelimit(): Promise<void> {
  const scratch = await scratchDatabase("ratelimit");
  const db = createPostgresDb(scratch.url, { max: 10, applicationName: "storekeep-bench" });
  let bridge: UpstashBridge | undefined;
  try {
    await migrate(db);
    const appWith = (env: Record<string, string>) =>
      createApp(createServices(loadConfig({ ...LOCAL_DEFAULTS, LOG_LEVEL: "silent", ...env }), { db: db as Db }));
    const unlimited = appWith({ RATE_LIMITS_ENABLED: "false" });
    const inProcess = appWith({ ...NEVER_REACHED, RATE_LIMITS_ENABLED: "true" });

    if (await answers(REDIS_URL)) {
      bridge = await startUpstashBridge({ redisUrl: REDIS_URL, token: randomBytes(16).toString("hex") });
    } else {
      console.log(`no Redis at ${REDIS_URL}: only the in-process limiter is measured`);
    }
    const throughRedis = bridge
      ? appWith({
          ...NEVER_REACHED,
          RATE_LIMITS_ENABLED: "true",
          UPSTASH_REDIS_REST_URL: bridge.url,
          UPSTASH_REDIS_REST_TOKEN: bridge.token,
          REDIS_KEY_PREFIX: `bench:ratelimit:${process.pid}`,
        })
      : undefined;

    const token = await mintStaffToken(LOCAL_JWT_SECRET, "viewer");
    type App = ReturnType<typeof appWith>;
    // (a) a read that touches no database (who am I: answered from the token): the check is a
    // large part of the work.
    const me = (app: App) => async () => {
      const response = await app.request("/api/v1/me", { headers: { authorization: `Bearer ${token}` } });
      if (response.status !== 200) throw new Error(`me: HTTP ${response.status}`);
      await response.text();
    };
    // (b) a user's read of a page of products: one database round trip besides the check.
    const products = (app: App) => async () => {
      const response = await app.request("/api/v1/products?limit=20", {
        headers: { authorization: `Bearer ${token}` },
      });
      if (response.status !== 200) throw new Error(`products: HTTP ${response.status}`);
      await response.text();
    };

    const rows: Row[] = [];
    const subjects: [string, App][] = [["in process", inProcess]];
    if (throughRedis) subjects.push(["Redis via bridge", throughRedis]);
    for (const [label, app] of subjects) {
      rows.push(...compareRows(`${label}: GET /me c=1`, "no limit", await interleave(me(app), me(unlimited), BUDGET)));
      rows.push(
        ...compareRows(
          `${label}: GET products c=16`,
          "no limit c=16",
          await interleave(products(app), products(unlimited), { ...BUDGET, concurrency: 16 }),
        ),
      );
    }

    printTable(
      "Rate-limit check (sliding window per caller and route group) vs. the same app with it off, same run\n" +
        "(a) GET /v1/me as a viewer, one at a time: no database, so the check weighs the most\n" +
        "(b) GET /v1/products?limit=20 as one viewer, 16 in flight, PostgreSQL behind it\n" +
        "'Redis via bridge': @upstash/ratelimit over REST to the local bridge (in this process) and the Redis\n" +
        `at ${REDIS_URL}; production's Upstash adds its network round trip instead of sharing this CPU.\n` +
        `ops/s per ${BUDGET.ms / 1000} s round (rounds alternate A/B); latency quantiles over all rounds`,
      rows,
    );
  } finally {
    await bridge?.close();
    await db.close();
    await scratch.drop();
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new RespClient({ url, timeoutMs: 1000 });
  try {
    await client.send([["PING"]]);
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}
