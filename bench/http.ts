import { Hono } from "hono";
import pg from "pg";
import { migrate } from "../packages/local/src/migrate.ts";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { createApp } from "../packages/server/src/app.ts";
import { createServices } from "../packages/server/src/main.ts";
import { loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import {
  compareRows,
  describeOverhead,
  interleave,
  overhead,
  overheadRows,
  printTable,
  type Row,
  scratchDatabase,
} from "./lib.ts";

// Three comparisons of two rounds each and four overhead measurements of 15 paired rounds, plus
// migrating the scratch database on a shared machine.
export const timeLimitSeconds = 180;

export const description =
  "the full app (app.request) next to a bare Hono app and a bare pg query; the metrics and request-log middleware's overhead (`http overhead`: only that)";

const POOL_MAX = 10;
const BUDGET = { ms: 2_500, warmupMs: 500, rounds: 2 };
// Many short paired rounds: the median of their ratios holds on a noisy shared 2-core machine.
const OVERHEAD_BUDGET = { ms: 300, warmupMs: 500, rounds: 15 };

export default async function http(args: string[] = []): Promise<void> {
  const onlyOverhead = args.includes("overhead");
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
    // Logging at info into a sink that drops the line: the middleware, JSON and redaction, no I/O.
    const logging = createServices(loadConfig({ ...LOCAL_DEFAULTS, LOG_LEVEL: "info" }), { db, writeLog: () => {} });
    const logged = createApp(logging);
    const withoutLog = createApp(logging, { requestLog: false });
    const bare = new Hono();
    bare.get("/api/v1/health", (c) => c.json({ status: "ok" }));

    // Both sides read the body, as a client would; no Authorization header (an anonymous caller).
    const get = (target: { request: (path: string) => Response | Promise<Response> }, path: string) => async () => {
      const response = await target.request(path);
      if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
      await response.text();
    };

    const rows: Row[] = [];
    if (!onlyOverhead) {
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
    }

    // (c) the request metrics middleware's cost: the same app with and without it. /health has no I/O,
    // so it is the worst case (the whole request is middleware); /ready adds one database round trip.
    // (d) the same for the request log line.
    const overheads: string[] = [];
    const measureOverhead = async (
      label: string,
      baselineLabel: string,
      subject: () => Promise<void>,
      baseline: () => Promise<void>,
      concurrency = 1,
    ) => {
      const result = await overhead(subject, baseline, { ...OVERHEAD_BUDGET, concurrency });
      rows.push(...overheadRows(label, baselineLabel, result));
      overheads.push(describeOverhead(label, result));
    };
    await measureOverhead(
      "metrics GET /health",
      "no metrics",
      get(app, "/api/v1/health"),
      get(withoutMetrics, "/api/v1/health"),
    );
    await measureOverhead(
      "metrics GET /ready c=16",
      "no metrics c=16",
      get(app, "/api/v1/ready"),
      get(withoutMetrics, "/api/v1/ready"),
      16,
    );
    await measureOverhead(
      "request log GET /health",
      "no request log",
      get(logged, "/api/v1/health"),
      get(withoutLog, "/api/v1/health"),
    );
    await measureOverhead(
      "request log GET /ready c=16",
      "no request log c=16",
      get(logged, "/api/v1/ready"),
      get(withoutLog, "/api/v1/ready"),
      16,
    );

    printTable(
      "HTTP through the full app (createApp + app.request) vs. baselines in the same run\n" +
        (onlyOverhead
          ? ""
          : "(a) GET /api/v1/health vs. a bare new Hono() route returning the same JSON, one request at a time\n" +
            `(b) GET /api/v1/ready (it runs 'select 1' through the Db) vs. bare pg pool.query('select 1');\n` +
            `    both on PostgreSQL with a pg Pool of ${POOL_MAX}; c = requests in flight;\n` +
            `    ops/s per ${BUDGET.ms / 1000} s round (rounds alternate A/B); latency quantiles over all rounds\n`) +
        "(c) the same app with and without the request metrics middleware (histogram by route template,\n" +
        "    method and status, in-flight gauge): GET /health, and GET /ready with 16 in flight\n" +
        "(d) the same app with and without the request log line (LOG_LEVEL=info into a sink that drops it:\n" +
        "    the middleware, JSON and redaction without the I/O)\n" +
        `(c, d) ${OVERHEAD_BUDGET.rounds} paired rounds of ${OVERHEAD_BUDGET.ms} ms each, alternating which side goes first`,
      rows,
    );
    console.log(
      `\nOverhead (time per request with / without; aim <= 1.10x):\n${overheads.map((line) => `  ${line}`).join("\n")}`,
    );
  } finally {
    await Promise.allSettled([pool.end(), db.close()]);
    await scratch.drop();
  }
}
