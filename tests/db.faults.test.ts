// @ts-types="@types/pg"
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { createTestApp, type TestResponse, tally } from "./helpers/app.ts";
import { onPostgres, useTestDatabase } from "./helpers/db.ts";
import { createVariants, ledgerMismatches, receive, uniqueSku } from "./helpers/inventory.ts";

// Lost connections, a locked table and an exhausted pool: real PostgreSQL only.
const ctx = useTestDatabase();

const UNAVAILABLE = "https://storekeep.dev/problems/unavailable";

/** A pool of its own, named so that only its backends are terminated. */
function namedDb(name: string, options: { max?: number; acquireTimeoutMs?: number } = {}): Db {
  return createPostgresDb(ctx.url as string, { applicationName: name, ...options });
}

function expectUnavailable(response: TestResponse) {
  expect(response.status).toBe(503);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  expect(response.json.type).toBe(UNAVAILABLE);
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
}

describe.skipIf(!onPostgres)("database faults on postgres", () => {
  const opened: Db[] = [];
  const open = (name: string, options?: { max?: number; acquireTimeoutMs?: number }) => {
    const db = namedDb(name, options);
    opened.push(db);
    return db;
  };
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close().catch(() => {})));
  });

  let sku: string;
  beforeAll(async () => {
    sku = uniqueSku("FLT");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 10);
  });

  it("terminated backends under load: the failed requests answer 503, the process keeps serving", async () => {
    const name = `storekeep-kill-${Math.random().toString(36).slice(2, 8)}`;
    const app = createTestApp(open(name, { max: 8 }));
    const responses: TestResponse[] = [];
    let running = true;
    const worker = async (i: number) => {
      while (running) {
        responses.push(
          i % 2 === 0
            ? await app.request("POST", "/v1/inventory/adjust", {
                as: "staff",
                body: { sku, location_code: "main", delta: 1, kind: "receipt" },
              })
            : await app.request("GET", `/v1/inventory/status?sku=${sku}`, { as: "viewer" }),
        );
      }
    };
    const workers = Array.from({ length: 12 }, (_, i) => worker(i));

    // Terminate every backend of the app's pool, checked out or idle, ten times over two seconds.
    let terminated = 0;
    for (let round = 0; round < 10; round++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const { rows } = await ctx.db.query<{ n: number }>(
        // offset 0 keeps the filter inside: the terminating call never sees this session's row.
        `select (count(*) filter (where pg_terminate_backend(pid)))::int as n from (
           select pid from pg_stat_activity where application_name = $1 and datname = current_database() offset 0
         ) app`,
        [name],
      );
      terminated += rows[0]?.n ?? 0;
    }
    running = false;
    await Promise.all(workers);

    expect(terminated).toBeGreaterThan(10);
    const byStatus = tally(responses);
    expect(Object.keys(byStatus).sort()).toEqual(["200", "201", "503"]);
    for (const response of responses.filter((r) => r.status === 503)) expectUnavailable(response);

    // Still serving, with the pool refilled.
    const after = await Promise.all(
      Array.from({ length: 8 }, () => app.request("GET", `/v1/inventory/status?sku=${sku}`, { as: "viewer" })),
    );
    expect(after.map((response) => response.status)).toEqual(Array(8).fill(200));
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("a backend terminated right after its client is handed to the next waiter never goes unheard", async () => {
    // The Db alone, many short transactions and statements on few connections, terminated every
    // 50 ms: a 57P01 arriving in the same packet as a ReadyForQuery used to reach a client already
    // handed to the next waiter but not yet listened to (an uncaught 'error' fails this file).
    const name = `storekeep-race-${Math.random().toString(36).slice(2, 8)}`;
    const db = open(name, { max: 8 });
    let running = true;
    const outcomes = { ok: 0, unavailable: 0, other: 0 };
    const worker = async (i: number) => {
      while (running) {
        try {
          if (i % 3 === 0) await db.query("select pg_sleep(0.01)");
          else
            await db.asUser({ role: "authenticated" }, async (tx) => {
              await tx.query("select 1");
              await tx.query("select pg_sleep(0.005)");
            });
          outcomes.ok++;
        } catch (error) {
          if ((error as Error).name === "DbUnavailable") outcomes.unavailable++;
          else outcomes.other++;
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, i) => worker(i));
    for (let round = 0; round < 40; round++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await ctx.db.query(
        `select count(*) filter (where pg_terminate_backend(pid)) from (
           select pid from pg_stat_activity where application_name = $1 and datname = current_database() offset 0
         ) app`,
        [name],
      );
    }
    running = false;
    await Promise.all(workers);
    expect(outcomes.other).toBe(0);
    expect(outcomes.unavailable).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it("a table locked by another connection: its requests answer 503 within the lock timeout, the rest keep working", async () => {
    const app = createTestApp(open(`storekeep-lock-${Math.random().toString(36).slice(2, 8)}`, { max: 6 }));
    const locker = new pg.Client({ connectionString: ctx.url });
    await locker.connect();
    try {
      await locker.query("begin");
      await locker.query("lock table public.stock_levels in access exclusive mode");

      const started = performance.now();
      const locked = await Promise.all(
        Array.from({ length: 6 }, () =>
          app.request("POST", "/v1/inventory/adjust", {
            as: "staff",
            body: { sku, location_code: "main", delta: 1, kind: "receipt" },
          }),
        ),
      );
      const waitedMs = performance.now() - started;
      for (const response of locked) expectUnavailable(response);
      // The 5 s lock timeout, not the lock's length (it is still held).
      expect(waitedMs).toBeLessThan(8_000);

      // The lock is still held; what does not need the table is served at once.
      const other = await app.request("GET", "/v1/locations", { as: "viewer" });
      expect(other.status).toBe(200);
    } finally {
      await locker.query("rollback").catch(() => {});
      await locker.end();
    }
    const afterwards = await app.request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: { sku, location_code: "main", delta: 1, kind: "receipt" },
    });
    expect(afterwards.status).toBe(201);
  });

  it("an exhausted pool answers 503 with Retry-After after the acquire timeout, not 500", async () => {
    const db = open(`storekeep-pool-${Math.random().toString(36).slice(2, 8)}`, { max: 2, acquireTimeoutMs: 300 });
    const app = createTestApp(db);
    const holders = Array.from({ length: 2 }, () => db.transaction((tx) => tx.query("select pg_sleep(1.5)")));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const response = await app.request("GET", "/v1/locations", { as: "viewer" });
    expectUnavailable(response);
    expect(performance.now() - started).toBeLessThan(1_200);
    await Promise.all(holders);
    expect((await app.request("GET", "/v1/locations", { as: "viewer" })).status).toBe(200);
  });

  it("a statement past its role's timeout answers 503, and the connection is reusable", async () => {
    const db = open(`storekeep-slow-${Math.random().toString(36).slice(2, 8)}`, { max: 1 });
    const slow = db.asUser({ role: "anon" }, (tx) => tx.query("select pg_sleep(5)"));
    await expect(slow).rejects.toMatchObject({ code: "57014" });
    const { rows } = await db.asUser({ role: "anon" }, (tx) =>
      tx.query<{ statement: string; lock: string }>(
        "select current_setting('statement_timeout') as statement, current_setting('lock_timeout') as lock",
      ),
    );
    expect(rows[0]).toEqual({ statement: "3s", lock: "5s" });
  });
});
