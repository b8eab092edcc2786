import { afterEach, describe, expect, it } from "vitest";
import {
  type DispatcherSettings,
  type RunningDispatcher,
  startDispatcher,
} from "../packages/server/src/domains/webhooks/dispatcher.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine } from "./helpers/db.ts";
import { startReceiver, useWebhookDatabase, waitFor } from "./webhooks.helpers.ts";

// After an outage: the circuit closes for an endpoint that answers again, and the attempt log holds
// every attempt under its own number.
const ctx = useWebhookDatabase({ poolMax: 8 });

const MINUTE = 60_000;
const running: RunningDispatcher[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((each) => each.stop()));
  await ctx.db.query("delete from public.webhook_endpoints");
});

async function dispatcher(settings: Partial<DispatcherSettings>, options: { db?: Db; workers?: number } = {}) {
  const started = await startDispatcher({
    db: options.db ?? ctx.db,
    signal: ctx.signal,
    resolver: { resolve: async () => ["127.0.0.1"] },
    settings: { jitter: 0, timeoutMs: 5_000, leaseMs: 10_000, allowPrivateUrls: true, ...settings },
    idlePollMs: 200,
    workers: options.workers,
  });
  running.push(started);
  return started;
}

async function createEndpoint(url: string, topics: string[]): Promise<string> {
  const response = await createTestApp(ctx.db).request("POST", "/v1/webhooks/endpoints", {
    as: "admin",
    body: { url, topics },
  });
  expect(response.status, response.text).toBe(201);
  return response.json.id;
}

const emit = (topic: string, payload: unknown) =>
  ctx.db.query("select private.emit_event($1, $2::jsonb)", [topic, JSON.stringify(payload)]);

async function deliveries(endpointId: string) {
  const { rows } = await ctx.db.query<{ id: string; status: string; due_in_s: number }>(
    `select id::text, status, extract(epoch from next_attempt_at - now())::float8 as due_in_s
     from private.webhook_deliveries where endpoint_id = $1 order by id`,
    [endpointId],
  );
  return rows;
}

async function attemptLog(endpointId: string) {
  const { rows } = await ctx.db.query<{
    delivery_id: string;
    attempt: number;
    status_code: number | null;
    error: string | null;
  }>(
    `select delivery_id::text, attempt, status_code, error from private.webhook_attempts
     where endpoint_id = $1 order by delivery_id, attempt, id`,
    [endpointId],
  );
  return rows;
}

describe(`webhooks after an outage, on ${engine}`, () => {
  it("a delivery that succeeds again brings its endpoint's retries forward; an endpoint still failing keeps its backoff", async () => {
    let recovered = false;
    const a = await startReceiver(() => (recovered ? 200 : 503));
    const b = await startReceiver(() => 503);
    try {
      const endpointA = await createEndpoint(a.url, ["outage.*"]);
      const endpointB = await createEndpoint(b.url, ["outage.*"]);
      await dispatcher({ retryScheduleMs: [10 * MINUTE, 10 * MINUTE] });
      for (let n = 0; n < 5; n++) await emit("outage.item", { n });
      await waitFor(async () => a.received.length >= 5 && b.received.length >= 5, 10_000, "first attempts");
      await waitFor(
        async () => (await deliveries(endpointA)).every((row) => row.status === "pending" && row.due_in_s > 60),
        5_000,
        "retries scheduled",
      );

      recovered = true;
      await emit("outage.item", { n: 5 });
      // The new event reaches A, and A's five postponed deliveries follow within moments, not minutes.
      await waitFor(
        async () => (await deliveries(endpointA)).every((row) => row.status === "delivered"),
        10_000,
        "A's retries brought forward",
      );
      expect(await deliveries(endpointA)).toHaveLength(6);

      // B never answered: every delivery keeps its ten-minute backoff.
      await waitFor(async () => b.received.length >= 6, 5_000, "B's first attempt at the new event");
      const atB = await deliveries(endpointB);
      expect(atB).toHaveLength(6);
      for (const row of atB) {
        expect(row.status).toBe("pending");
        expect(row.due_in_s).toBeGreaterThan(5 * 60);
      }
      // Every attempt so far is in the log: one per delivery at B, two for A's postponed ones.
      expect((await attemptLog(endpointB)).map((row) => row.attempt)).toEqual(Array(6).fill(1));
      const atA = await attemptLog(endpointA);
      expect(atA.filter((row) => row.attempt === 2).every((row) => row.status_code === 200)).toBe(true);
      expect(atA.map((row) => row.attempt).sort()).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("an outcome that comes back after its lease ended is logged under its own attempt; none is missing", async () => {
    // Attempt 1 answers after 1.5 s, past its 400 ms lease: a second worker claims attempt 2 meanwhile.
    const receiver = await startReceiver(async (_request, index) => {
      if (index === 0) {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        return 500;
      }
      return index === 1 ? 500 : 200;
    });
    try {
      const endpoint = await createEndpoint(receiver.url, ["late.*"]);
      await dispatcher({ retryScheduleMs: [50, 50, 50], leaseMs: 400, timeoutMs: 3_000 }, { workers: 2 });
      await emit("late.item", {});
      await waitFor(async () => (await deliveries(endpoint))[0]?.status === "delivered", 10_000, "delivered");
      await waitFor(
        async () => (await attemptLog(endpoint)).every((row) => row.status_code !== null),
        5_000,
        "late outcome",
      );
      const log = await attemptLog(endpoint);
      expect(log.map((row) => [row.attempt, row.status_code])).toEqual([
        [1, 500],
        [2, 500],
        [3, 200],
      ]);
    } finally {
      await receiver.close();
    }
  });

  it("an attempt whose outcome could not be recorded is logged as lost when the delivery is claimed again", async () => {
    const receiver = await startReceiver(() => 200);
    try {
      const endpoint = await createEndpoint(receiver.url, ["lost.*"]);
      // A dispatcher whose database refuses every outcome it tries to record (a connection lost for good).
      const refusing: Db = {
        ...ctx.db,
        query: (sql, params) =>
          sql.includes("record_webhook_attempts")
            ? Promise.reject(new Error("connection lost while recording"))
            : ctx.db.query(sql, params),
      };
      const first = await dispatcher({ retryScheduleMs: [50], leaseMs: 500 }, { db: refusing });
      await emit("lost.item", {});
      await waitFor(() => receiver.received.length === 1, 5_000, "the first attempt");
      await first.stop();

      await dispatcher({ retryScheduleMs: [50], leaseMs: 500 });
      await waitFor(async () => (await deliveries(endpoint))[0]?.status === "delivered", 10_000, "delivered");
      const log = await attemptLog(endpoint);
      expect(log.map((row) => [row.attempt, row.status_code])).toEqual([
        [1, null],
        [2, 200],
      ]);
      expect(log[0]?.error).toBe("no outcome was recorded before the lease ended");
    } finally {
      await receiver.close();
    }
  });
});
