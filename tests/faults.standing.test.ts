import { describe, expect, it } from "vitest";
import { startDispatcher } from "../packages/server/src/domains/webhooks/dispatcher.ts";
import { createPostgresSignal } from "../packages/server/src/platform/outbox-signal-postgres.ts";
import {
  breakReservations,
  checkInvariants,
  type FaultCounts,
  type Op,
  runClients,
  startApiProcess,
  terminateBackends,
} from "./faults/harness.ts";
import { createTestApp } from "./helpers/app.ts";
import { createTestDatabase, onPostgres } from "./helpers/db.ts";
import { createVariants, receive, uniqueSku } from "./helpers/inventory.ts";
import { startReceiver, waitFor } from "./webhooks.helpers.ts";

// The standing fault test: retrying clients with Idempotency-Keys against the API in its own
// process, while an injector terminates every Postgres backend of the database and kills and
// restarts the API; then a checker proves the invariants. About a minute by default;
// STOREKEEP_FAULT_SECONDS=240 runs the clients longer. Loopback only, bounded in clients and time.
const SECONDS = Number(process.env.STOREKEEP_FAULT_SECONDS ?? 25);
const CLIENTS = 8;

async function faultRun(options: { seconds: number; restarts: boolean; broken?: boolean }) {
  const database = await createTestDatabase({ poolMax: 4 });
  const url = database.url as string;
  const name = new URL(url).pathname.slice(1);
  const receiver = await startReceiver(() => 200);
  const api = await startApiProcess(url);
  const signal = createPostgresSignal(url);
  const dispatcher = await startDispatcher({
    db: database.db,
    signal,
    resolver: { resolve: async () => ["127.0.0.1"] },
    settings: {
      retryScheduleMs: [100, 200, 400, 800, 1_000, 1_000],
      leaseMs: 3_000,
      timeoutMs: 2_000,
      allowPrivateUrls: true,
    },
    idlePollMs: 500,
  });
  const faults: FaultCounts = { terminations: 0, backendsTerminated: 0, restarts: 0 };
  const unexpected: string[] = [];
  try {
    if (options.broken) await breakReservations(database.db);
    const skus: [string, string] = [uniqueSku("FA"), uniqueSku("FB")];
    await createVariants(database.db, skus);
    for (const sku of skus) await receive(database.db, sku, "main", 40);
    const endpoint = await createTestApp(database.db).request("POST", "/v1/webhooks/endpoints", {
      as: "admin",
      body: { url: receiver.url, topics: ["stock.*"] },
    });
    expect(endpoint.status).toBe(201);
    const { rows } = await database.db.query<{ id: string }>(
      "select coalesce(max(id), 0)::text as id from private.events",
    );
    const sinceEventId = rows[0]?.id ?? "0";

    const deadline = Date.now() + options.seconds * 1000;
    const clients = runClients({
      url: () => api.url,
      clients: CLIENTS,
      until: () => Date.now() > deadline,
      skus,
      unexpected,
    });
    const injector = (async () => {
      for (let round = 0; Date.now() < deadline - 2_000; round++) {
        await new Promise((resolve) => setTimeout(resolve, 1_500 + Math.random() * 1_500));
        if (options.restarts && round % 3 === 2) {
          if (!api.alive()) unexpected.push("the API process died by itself");
          await api.restart();
          faults.restarts++;
        } else {
          faults.backendsTerminated += await terminateBackends(database.db, name);
          faults.terminations++;
        }
      }
    })();
    const [ops] = (await Promise.all([clients, injector])) as [Op[], undefined];
    if (!api.alive()) unexpected.push("the API process died by itself");

    // Every stock event reaches the receiver once the faults stop (retries are fast here).
    const received = () => new Set(receiver.received.map((request) => String(request.headers["webhook-id"])));
    await waitFor(
      async () => {
        const due = await database.db.query<{ n: number }>(
          "select count(*)::int as n from private.events where topic like 'stock.%' and id > $1::bigint",
          [sinceEventId],
        );
        return received().size >= (due.rows[0]?.n ?? 0);
      },
      30_000,
      "every stock event delivered",
    ).catch(() => {});
    const violations = await checkInvariants(database.db, ops, skus, received(), sinceEventId);
    return { ops, faults, violations, unexpected };
  } finally {
    await dispatcher.stop();
    await api.stop();
    await receiver.close();
    await database.drop();
  }
}

describe.skipIf(!onPostgres)("standing fault test on postgres", () => {
  it("retrying clients through terminated backends and API restarts: every invariant holds", {
    timeout: (SECONDS + 120) * 1000,
  }, async () => {
    const { ops, faults, violations, unexpected } = await faultRun({ seconds: SECONDS, restarts: true });
    const tally = (outcome: string) => ops.filter((op) => op.outcome === outcome).length;
    console.log(
      `fault run: ${ops.length} operations (${tally("acked")} acknowledged, ${tally("refused")} refused, ${tally("unknown")} unknown), ` +
        `${ops.filter((op) => op.tries > 1).length} retried; faults: ${JSON.stringify(faults)}`,
    );
    // A run that injected nothing proves nothing.
    expect(faults.terminations).toBeGreaterThan(0);
    expect(faults.backendsTerminated).toBeGreaterThan(0);
    expect(faults.restarts).toBeGreaterThan(0);
    expect(ops.filter((op) => op.tries > 1).length).toBeGreaterThan(0);
    expect(tally("acked")).toBeGreaterThan(20);
    expect(unexpected).toEqual([]);
    expect(violations).toEqual({ ledger: [], holds: [], exactlyOnce: [], allOrNothing: [], events: [] });
  });

  it("the checker catches a deliberately broken build (read-then-write reservations)", {
    timeout: 150_000,
  }, async () => {
    const { ops, violations } = await faultRun({ seconds: 8, restarts: false, broken: true });
    expect(ops.length).toBeGreaterThan(10);
    expect(violations.holds?.length).toBeGreaterThan(0);
  });
});
