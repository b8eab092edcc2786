import { Hono } from "hono";
import pg from "pg";
import { migrate } from "../packages/local/src/migrate.ts";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { createApp } from "../packages/server/src/app.ts";
import { createServices } from "../packages/server/src/main.ts";
import { loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { compareRows, interleave, printTable, type Row, scratchDatabase } from "./lib.ts";

// Seven comparisons of two rounds each, plus migrating the scratch database on a shared machine.
export const timeLimitSeconds = 180;

export const description = "the full app (app.request) next to a bare Hono app and a bare pg query";

const POOL_MAX = 10;
const BUDGET = { ms: 2_500, warmupMs: 500, rounds: 2 };

export default async function http(): Promise<void> {
  const scratch = await scratchDatabase("http");
  const db = createPostgresDb(scratch.url, { max: POOL_MAX, applicationName: "storekeep-bench" });
  const pool = new pg.Pool({ connectionString: scratch.url, max: POOL_MAX, application_name: "storekeep-bench" });
  pool.on("error", () => {}); // as the app's adapter does: a client dropped while closing must not crash the run
  try {
    const migration = await migrate(db);
    console.log(`scratch database migrated (${migration.applied.length} migrations), pg pools of ${POOL_MAX} each`);

    const services = createServices(loadConfig({ ...LOCAL_DEFAULTS, LOG_LEVEL: "silent" }), { db });
    const app = createApp(services);
    // The same app without the request metrics middleware, on the same services.
    const withoutMetrics = createApp(services, { httpMetrics: false });
    const bare = new Hono();
    bare.get("/api/v1/health", (c) => c.json({ status: "ok" }));

    // Both sides read the body, as a client would; no Authorization header (an anonymous caller).
    const get = (target: { request: (path: string) => Response | Promise<Response> }, path: string) => async () => {
      const response = await target.request(path);
      if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
      await response.text();
    };

    const rows: Row[] = [];
    // (a) no I/O: what the middleware stack and OpenAPI routing cost over Hono itself.
    const health = await interleave(get(app, "/api/v1/health"), get(bare, "/api/v1/health"), BUDGET);
    rows.push(...compareRows("app GET /health", "bare Hono", health));

    // (b) one round trip: GET /ready runs `select 1` through the Db; the baseline is pool.query('select 1').
    const selectOne = async () => {
      await pool.query("select 1");
    };
    for (const concurrency of [1, 16]) {
      const ready = await interleave(get(app, "/api/v1/ready"), selectOne, { ...BUDGET, concurrency });
      rows.push(...compareRows(`app GET /ready c=${concurrency}`, `pool.query c=${concurrency}`, ready));
    }

    // (c) the request metrics middleware's cost: the same app with and without it. /health has no I/O,
    // so it is the worst case (the whole request is middleware); /ready adds one database round trip.
    const metered = await interleave(get(app, "/api/v1/health"), get(withoutMetrics, "/api/v1/health"), BUDGET);
    rows.push(...compareRows("metrics GET /health", "no metrics", metered));
    const meteredReady = await interleave(get(app, "/api/v1/ready"), get(withoutMetrics, "/api/v1/ready"), {
      ...BUDGET,
      concurrency: 16,
    });
    rows.push(...compareRows("metrics GET /ready c=16", "no metrics c=16", meteredReady));

    printTable(
      "HTTP through the full app (createApp + app.request) vs. baselines in the same run\n" +
        "(a) GET /api/v1/health vs. a bare new Hono() route returning the same JSON, one request at a time\n" +
        `(b) GET /api/v1/ready (the app has only system routes; it runs 'select 1' through the Db) vs. bare\n` +
        `    pg pool.query('select 1'); both on PostgreSQL with a pg Pool of ${POOL_MAX}; c = requests in flight\n` +
        "(c) the same app with and without the request metrics middleware (histogram by route template,\n" +
        "    method and status, in-flight gauge): GET /health, and GET /ready with 16 in flight\n" +
        `ops/s per ${BUDGET.ms / 1000} s round (rounds alternate A/B); latency quantiles over all rounds`,
      rows,
    );
  } finally {
    await Promise.allSettled([pool.end(), db.close()]);
    await scratch.drop();
  }
}
