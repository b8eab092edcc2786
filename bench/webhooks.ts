import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "svix";
import { migrate } from "../packages/local/src/migrate.ts";
import { startDispatcher } from "../packages/server/src/domains/webhooks/dispatcher.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { createPostgresSignal } from "../packages/server/src/platform/outbox-signal-postgres.ts";
import { printTable, type Row, scratchDatabase } from "./lib.ts";

export const description =
  "outbox → signed webhook deliveries/s to a local receiver, next to that receiver's own ceiling";

const EVENTS = 4_000;
const BATCH = 50; // the dispatcher's default batch: requests in flight at once per loop
const ROUNDS = 2;
const POOL_MAX = 10;
const WORKERS = 4; // dispatcher loops in this process, each claiming its own batch

/**
 * (a) Receiver ceiling: the same signed POST (same body size, same fetch) sent straight at the
 *     receiver with BATCH requests in flight, no database at all.
 * (b) Dispatcher: EVENTS events committed to the outbox (fanned out to one endpoint in the
 *     database), then the continuous dispatcher claims, signs, sends and records every one.
 * (c) Latency: one event at a time, commit → receipt, woken by NOTIFY.
 */
export default async function webhooks(): Promise<void> {
  const scratch = await scratchDatabase("webhooks");
  const db = createPostgresDb(scratch.url, { max: POOL_MAX, applicationName: "storekeep-bench" });
  let received = 0;
  let lastReceivedAt = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received++;
      lastReceivedAt = performance.now();
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  try {
    const migration = await migrate(db);
    console.log(`scratch database migrated (${migration.applied.length} migrations), receiver at ${url}`);
    const { rows } = await db.query<{ id: string }>(
      "insert into public.webhook_endpoints (url, topics) values ($1, '{bench.*}') returning id",
      [url],
    );
    const endpointId = rows[0]?.id;
    const payload = { sku: "BENCH-0001", location_code: "main", on_hand: 42, reserved: 3, available: 39 };

    // (a) The receiver's ceiling with the dispatcher's own client and concurrency.
    const signer = new Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    const body = JSON.stringify({
      type: "bench.item",
      id: "evt_1",
      timestamp: new Date().toISOString(),
      data: payload,
    });
    const ceiling = async (): Promise<number> => {
      let sent = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: BATCH }, async () => {
          while (sent < EVENTS) {
            sent++;
            const now = new Date();
            const response = await fetch(url, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                "webhook-id": "evt_1",
                "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
                "webhook-signature": signer.sign("evt_1", now, body),
              },
              body,
            });
            await response.arrayBuffer();
          }
        }),
      );
      return EVENTS / ((performance.now() - started) / 1000);
    };

    // (b) Outbox → receiver through the dispatcher.
    const dispatcher = await startDispatcher({
      db,
      signal: createPostgresSignal(scratch.url),
      resolver: { resolve: async () => ["127.0.0.1"] },
      settings: { allowPrivateUrls: true, batchSize: BATCH },
      workers: WORKERS,
    });
    const throughput = async (): Promise<{ perSecond: number; afterCommit: number; fanOutMs: number }> => {
      const before = received;
      const started = performance.now();
      await db.query(
        "select private.emit_event('bench.item', $1::jsonb || jsonb_build_object('n', n)) from generate_series(1, $2) n",
        [JSON.stringify(payload), EVENTS],
      );
      const committed = performance.now();
      while (received - before < EVENTS) await new Promise((resolve) => setTimeout(resolve, 5));
      return {
        perSecond: EVENTS / ((lastReceivedAt - started) / 1000),
        afterCommit: EVENTS / ((lastReceivedAt - committed) / 1000),
        fanOutMs: committed - started,
      };
    };

    // Warm-up (discarded): the first burst of POSTs pays for JIT and connection set-up.
    await ceiling();

    const rowsOut: Row[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (["ceiling", "dispatch"] as const) : (["dispatch", "ceiling"] as const);
      const result: { ceiling?: number; dispatch?: { perSecond: number; afterCommit: number; fanOutMs: number } } = {};
      for (const which of order) {
        if (which === "ceiling") result.ceiling = await ceiling();
        else result.dispatch = await throughput();
      }
      rowsOut.push({
        figure: `deliveries/s, round ${round + 1} (commit of ${EVENTS} → last received)`,
        value: result.dispatch?.perSecond ?? Number.NaN,
        baseline: "receiver ceiling, signed POSTs/s",
        baselineValue: result.ceiling ?? Number.NaN,
        unit: "ops/s",
      });
      rowsOut.push({
        figure: `  of which dispatch alone, round ${round + 1} (commit done → last received)`,
        value: result.dispatch?.afterCommit ?? Number.NaN,
        baseline: "receiver ceiling, signed POSTs/s",
        baselineValue: result.ceiling ?? Number.NaN,
        unit: "ops/s",
      });
      console.log(
        `round ${round + 1}: fan-out of ${EVENTS} events committed in ${result.dispatch?.fanOutMs.toFixed(0)} ms`,
      );
    }

    // (c) Commit → receipt, one event at a time (the dispatcher is idle and woken by NOTIFY).
    const latencies: number[] = [];
    for (let i = 0; i < 50; i++) {
      const before = received;
      await new Promise((resolve) => setTimeout(resolve, 20));
      const started = performance.now();
      await db.query("select private.emit_event('bench.ping', '{}')");
      while (received === before) await new Promise((resolve) => setImmediate(resolve));
      latencies.push(lastReceivedAt - started);
    }
    latencies.sort((a, b) => a - b);
    const singlePost = async () => {
      const started = performance.now();
      await (await fetch(url, { method: "POST", body })).arrayBuffer();
      return performance.now() - started;
    };
    const direct: number[] = [];
    for (let i = 0; i < 50; i++) direct.push(await singlePost());
    direct.sort((a, b) => a - b);
    rowsOut.push({
      figure: "commit → received, p50 (one event at a time)",
      value: latencies[25] ?? Number.NaN,
      baseline: "one direct POST, p50",
      baselineValue: direct[25] ?? Number.NaN,
      unit: "ms",
    });
    rowsOut.push({
      figure: "commit → received, max of 50",
      value: latencies.at(-1) ?? Number.NaN,
      baseline: "one direct POST, max of 50",
      baselineValue: direct.at(-1) ?? Number.NaN,
      unit: "ms",
    });
    await dispatcher.stop();

    const { rows: check } = await db.query<{ delivered: string; attempts: string }>(
      `select count(*) filter (where status = 'delivered')::text as delivered,
              (select count(*) from private.webhook_attempts where endpoint_id = $1)::text as attempts
       from private.webhook_deliveries where endpoint_id = $1`,
      [endpointId],
    );
    console.log(
      `every delivery recorded: ${check[0]?.delivered} delivered, ${check[0]?.attempts} attempts logged, ${received - ROUNDS * EVENTS} + ${ROUNDS * EVENTS} requests received`,
    );

    printTable(
      "Webhook dispatch on PostgreSQL vs. the local receiver's ceiling, measured in the same run\n" +
        `(a) ceiling: ${EVENTS} signed POSTs (svix signature, same body) with ${BATCH} in flight, straight at the receiver\n` +
        `(b) dispatcher: ${EVENTS} events committed in one transaction (fan-out in the database), then one continuous\n` +
        `    dispatcher (${WORKERS} loops, up to ${BATCH} in flight each, pg pool ${POOL_MAX}) claims with SKIP LOCKED, signs, POSTs\n` +
        '    and records outcomes in groups as they arrive; "dispatch alone" starts the clock once the fan-out has committed\n' +
        "(c) latency from an event's commit to its receipt, NOTIFY-woken, vs. one direct POST",
      rowsOut,
    );
  } finally {
    await new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
    await db.close();
    await scratch.drop();
  }
}
