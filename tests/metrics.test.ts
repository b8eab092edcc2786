import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { findJob, runJob } from "../packages/server/src/jobs/registry.ts";
import { instrumentDb } from "../packages/server/src/platform/db/instrumented.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { createMetrics } from "../packages/server/src/platform/metrics.ts";
import { issueKey } from "./helpers/api-keys.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";
import { createLocation, createVariants, receive, uniqueSku } from "./helpers/inventory.ts";
import { parseSamples, type Sample, sampleValue } from "./helpers/prometheus.ts";

const METRICS_TOKEN = "metrics-test-token-0123456789";
const HTTP_COUNT = "storekeep_http_request_duration_seconds_count";

describe(`GET /v1/metrics on ${engine}`, () => {
  const ctx = useTestDatabase();
  const withToken = () => createTestApp(ctx.db, { METRICS_TOKEN });
  const scrape = async (request: ReturnType<typeof withToken>["request"]): Promise<Sample[]> => {
    const response = await request("GET", "/v1/metrics", { token: METRICS_TOKEN });
    expect(response.status).toBe(200);
    return parseSamples(response.text);
  };

  it("does not exist without METRICS_TOKEN, whatever the caller presents", async () => {
    const { request } = createTestApp(ctx.db);
    for (const token of [undefined, METRICS_TOKEN]) {
      const response = await request("GET", "/v1/metrics", { token });
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      expect(response.text).not.toContain("storekeep_");
    }
  });

  it("refuses a missing, wrong or differently-schemed token with 401 and tells nothing", async () => {
    const { request } = withToken();
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong-token-0123456789abcdef" },
      { authorization: `Bearer ${METRICS_TOKEN}x` },
      { authorization: `Bearer ${METRICS_TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${METRICS_TOKEN}` },
      { authorization: METRICS_TOKEN },
    ];
    for (const headers of attempts) {
      const response = await request("GET", "/v1/metrics", { headers });
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
      expect(response.text).not.toContain("storekeep_");
    }
    // A staff JWT is not the metrics token either.
    expect((await request("GET", "/v1/metrics", { as: "owner" })).status).toBe(401);
    const ok = await request("GET", "/v1/metrics", { token: METRICS_TOKEN });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(ok.headers.get("cache-control")).toBe("no-store");
  });

  it("counts a known burst of requests exactly, by route template, method and status", async () => {
    const { request } = withToken();
    const before = await scrape(request);

    const burst: [string, () => Promise<unknown>, number][] = [
      ["/api/v1/health GET 200", () => request("GET", "/v1/health"), 7],
      ["/api/v1/products/:id GET 404", () => request("GET", `/v1/products/${randomUUID()}`, { as: "viewer" }), 3],
      ["/api/v1/users/roles GET 401", () => request("GET", "/v1/users/roles"), 4],
      ["/api/v1/users/roles GET 401", () => request("GET", "/v1/users/roles", { token: "not.a.jwt" }), 2],
      ["/api/v1/users/roles GET 200", () => request("GET", "/v1/users/roles", { as: "admin" }), 1],
      ["unmatched GET 404", () => request("GET", "/v1/no-such-route/123"), 2],
      ["unmatched DELETE 405", () => request("DELETE", "/v1/health"), 2],
    ];
    const expected = new Map<string, number>([["/api/v1/metrics GET 200", 1]]); // the first scrape itself
    for (const [series, send, times] of burst) {
      expected.set(series, (expected.get(series) ?? 0) + times);
      await Promise.all(Array.from({ length: times }, send));
    }
    const after = await scrape(request);

    const key = (sample: Sample) => `${sample.labels.route} ${sample.labels.method} ${sample.labels.status}`;
    const counted = (samples: Sample[]) =>
      new Map(samples.filter((sample) => sample.name === HTTP_COUNT).map((sample) => [key(sample), sample.value]));
    const [was, now] = [counted(before), counted(after)];
    const moved = new Map<string, number>();
    for (const [series, value] of now) {
      const delta = value - (was.get(series) ?? 0);
      if (delta !== 0) moved.set(series, delta);
    }
    expect(Object.fromEntries(moved)).toEqual(Object.fromEntries(expected));
    // Every request is in exactly one bucket series set: +Inf equals the count, the sum grew.
    for (const series of expected.keys()) {
      const [route, method, status] = series.split(" ") as [string, string, string];
      const labels = { route, method, status };
      expect(sampleValue(after, "storekeep_http_request_duration_seconds_bucket", { ...labels, le: "+Inf" })).toBe(
        sampleValue(after, HTTP_COUNT, labels),
      );
      expect(sampleValue(after, "storekeep_http_request_duration_seconds_sum", labels)).toBeGreaterThan(
        sampleValue(before, "storekeep_http_request_duration_seconds_sum", labels),
      );
    }
    // The scrape itself is the one request in flight.
    expect(sampleValue(after, "storekeep_http_requests_in_flight")).toBe(1);
  });

  it("counts API keys in each rotation alert condition from SQL at scrape time", async () => {
    const { request } = withToken();
    const alerting = (samples: Sample[], condition: string) =>
      sampleValue(samples, "storekeep_api_keys_alerting", { condition });
    const before = await scrape(request);
    const [old, idle, rotating, fresh] = await Promise.all(
      ["old", "idle", "rotating", "fresh"].map((name) => issueKey(ctx.db, { scopes: ["catalog:read"], name })),
    );
    await ctx.db.query(
      "update private.api_keys set created_at = now() - interval '100 days', last_used_at = now() where id = $1",
      [old?.id],
    );
    await ctx.db.query(
      "update private.api_keys set created_at = now() - interval '50 days', last_used_at = now() - interval '40 days' where id = $1",
      [idle?.id],
    );
    await ctx.db.query(
      "update private.api_keys set last_used_at = now(), overlap_ends_at = now() + interval '2 hours' where id = $1",
      [rotating?.id],
    );
    await ctx.db.query("update private.api_keys set last_used_at = now() where id = $1", [fresh?.id]);
    const after = await scrape(request);
    for (const condition of ["rotation_due", "unused", "overlap_ending"]) {
      expect(alerting(after, condition) - alerting(before, condition), condition).toBe(1);
    }
  });

  it("reports the database-side state from SQL: reservations, webhook backlog, ledger, jobs", async () => {
    const { request, services } = withToken();
    const sku = uniqueSku("MET");
    await createVariants(ctx.db, [sku]);
    await createLocation(ctx.db, "metrics-wh");
    await receive(ctx.db, sku, "metrics-wh", 10);
    const base = await scrape(request);

    // Two active reservations, one of them overdue by ~2 minutes (the expiry job is late), and one expired.
    const reserve = async (ttl: number) => {
      const { rows } = await ctx.db.query<{ r: { id: string } }>("select private.reserve_stock($1::jsonb, $2) as r", [
        JSON.stringify([{ sku, quantity: 1 }]),
        ttl,
      ]);
      return rows[0]?.r.id as string;
    };
    await reserve(900);
    const expired = await reserve(900);
    await ctx.db.query("update public.reservations set expires_at = now() - interval '1 second' where id = $1", [
      expired,
    ]);
    await ctx.db.query("select private.expire_reservations()");
    const overdue = await reserve(900);
    await ctx.db.query("update public.reservations set expires_at = now() - interval '120 seconds' where id = $1", [
      overdue,
    ]);

    // A webhook endpoint and an event it is subscribed to, recorded 10 minutes ago: one pending delivery.
    await ctx.db.query(
      "insert into public.webhook_endpoints (url, topics) values ('https://hooks.example.com/metrics', '{metrics.test_ping}')",
    );
    await ctx.db.query("select private.emit_event('metrics.test_ping', '{}'::jsonb)");
    await ctx.db.query(
      "update private.events set created_at = now() - interval '10 minutes' where topic = 'metrics.test_ping'",
    );

    // Jobs: the ledger check succeeds; a job that throws is counted as a failure.
    const realLedgerJob = findJob("inventory.check_ledger");
    if (!realLedgerJob) throw new Error("inventory.check_ledger is not registered");
    await runJob(realLedgerJob, services);
    const broken = { name: "metrics.broken_job", intervalMs: 60_000, run: () => Promise.reject(new Error("boom")) };
    await expect(runJob(broken, services)).rejects.toThrow("boom");
    await expect(runJob(broken, services)).rejects.toThrow("boom");

    const after = await scrape(request);
    expect(sampleValue(after, "storekeep_reservations", { status: "active" })).toBe(
      sampleValue(base, "storekeep_reservations", { status: "active" }) + 2,
    );
    expect(sampleValue(after, "storekeep_reservations", { status: "expired" })).toBe(
      sampleValue(base, "storekeep_reservations", { status: "expired" }) + 1,
    );
    expect(sampleValue(after, "storekeep_reservations_overdue")).toBe(
      sampleValue(base, "storekeep_reservations_overdue") + 1,
    );
    expect(sampleValue(after, "storekeep_reservation_expiry_lag_seconds")).toBeGreaterThanOrEqual(120);
    expect(sampleValue(after, "storekeep_reservation_expiry_lag_seconds")).toBeLessThan(180);

    expect(sampleValue(after, "storekeep_webhook_deliveries", { status: "pending" })).toBe(
      sampleValue(base, "storekeep_webhook_deliveries", { status: "pending" }) + 1,
    );
    expect(sampleValue(after, "storekeep_webhook_oldest_pending_seconds")).toBeGreaterThanOrEqual(600);
    expect(sampleValue(after, "storekeep_webhook_oldest_pending_seconds")).toBeLessThan(660);

    // One receipt before the base scrape; three reservations emitted events since.
    expect(sampleValue(after, "storekeep_stock_movements_total")).toBe(
      sampleValue(base, "storekeep_stock_movements_total"),
    );
    expect(sampleValue(after, "storekeep_events_total")).toBeGreaterThan(sampleValue(base, "storekeep_events_total"));
    const maxima = await ctx.db.query<{ m: string; e: string }>(
      "select (select max(id) from public.stock_movements) as m, (select max(id) from private.events) as e",
    );
    expect(sampleValue(after, "storekeep_stock_movements_total")).toBe(Number(maxima.rows[0]?.m));
    expect(sampleValue(after, "storekeep_events_total")).toBe(Number(maxima.rows[0]?.e));

    const levels = await ctx.db.query<{ n: string }>("select count(*) as n from public.stock_levels");
    expect(sampleValue(after, "storekeep_ledger_mismatches")).toBe(0);
    expect(sampleValue(after, "storekeep_ledger_levels_checked")).toBe(Number(levels.rows[0]?.n));
    expect(sampleValue(after, "storekeep_ledger_last_check_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000 - 60);

    expect(sampleValue(after, "storekeep_job_runs_total", { job: "inventory.check_ledger" })).toBe(1);
    expect(sampleValue(after, "storekeep_job_failures_total", { job: "inventory.check_ledger" })).toBe(0);
    expect(sampleValue(after, "storekeep_job_runs_total", { job: "metrics.broken_job" })).toBe(2);
    expect(sampleValue(after, "storekeep_job_failures_total", { job: "metrics.broken_job" })).toBe(2);
    expect(sampleValue(after, "storekeep_job_last_success_timestamp_seconds", { job: "metrics.broken_job" })).toBe(0);
    expect(sampleValue(after, "storekeep_job_lag_seconds", { job: "inventory.check_ledger" })).toBe(0);

    // A level whose on_hand disagrees with its movements (written behind the ledger's back) is a mismatch.
    await ctx.db.transaction(async (tx) => {
      await tx.query("alter table public.stock_levels disable trigger user");
      await tx.query(
        `update public.stock_levels set on_hand = on_hand + 1
         where variant_id = (select id from public.product_variants where sku = $1)
           and location_id = (select id from public.locations where code = 'metrics-wh')`,
        [sku],
      );
      await tx.query("alter table public.stock_levels enable trigger user");
    });
    await runJob(realLedgerJob, services);
    const broke = await scrape(request);
    expect(sampleValue(broke, "storekeep_ledger_mismatches")).toBe(1);
    expect(sampleValue(broke, "storekeep_job_runs_total", { job: "inventory.check_ledger" })).toBe(2);
  });

  it("reports the pool's connections in use and callers waiting", async () => {
    const metrics = createMetrics();
    // PostgreSQL: a pool of 2; PGlite: its one connection, behind which calls queue.
    const db = instrumentDb(onPostgres ? createPostgresDb(ctx.url ?? "", { max: 2 }) : ctx.db, metrics);
    const expected = onPostgres ? { inUse: 2, waiting: 1 } : { inUse: 1, waiting: 2 };
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      const holders = [1, 2, 3].map(() => db.transaction(() => held));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const samples = parseSamples((await metrics.scrape()).body);
      expect(sampleValue(samples, "storekeep_db_pool_connections", { state: "in_use" })).toBe(expected.inUse);
      expect(sampleValue(samples, "storekeep_db_pool_waiting")).toBe(expected.waiting);
      release();
      await Promise.all(holders);
      const after = parseSamples((await metrics.scrape()).body);
      expect(sampleValue(after, "storekeep_db_pool_connections", { state: "in_use" })).toBe(0);
      expect(sampleValue(after, "storekeep_db_pool_waiting")).toBe(0);
    } finally {
      release();
      if (onPostgres) await db.close();
    }
  });
});

describe("the metrics registry", () => {
  it("hands back the same metric for the same name and refuses a name reused as another type", async () => {
    const metrics = createMetrics();
    const hits = metrics.counter("storekeep_cache_hits_total", "Cache hits", ["cache"]);
    expect(metrics.counter("storekeep_cache_hits_total", "Cache hits", ["cache"])).toBe(hits);
    hits.inc({ cache: "products" }, 3);
    expect(() => metrics.gauge("storekeep_cache_hits_total", "again")).toThrow(/another type/);
    expect(
      sampleValue(parseSamples((await metrics.scrape()).body), "storekeep_cache_hits_total", { cache: "products" }),
    ).toBe(3);
  });

  it("counts a failing scrape-time collector and still answers", async () => {
    const metrics = createMetrics();
    metrics.onScrape("flaky", () => {
      throw new Error("down");
    });
    const samples = parseSamples((await metrics.scrape()).body);
    expect(sampleValue(samples, "storekeep_metrics_collector_failures_total", { collector: "flaky" })).toBe(1);
  });
});
