import { afterEach, describe, expect, it } from "vitest";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { createSvixSender } from "../packages/server/src/domains/webhooks/svix-sender.ts";
import { createServices } from "../packages/server/src/main.ts";
import { loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import type { RunningSender, WebhookSender } from "../packages/server/src/platform/webhook-sender.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, onPostgres } from "./helpers/db.ts";
import { type FakeSvixMessage, startFakeSvix, useWebhookDatabase, waitFor } from "./webhooks.helpers.ts";

// Svix Cloud mode against a stand-in for the Svix API on 127.0.0.1 (the only part that lives
// outside the machine), driven by the real `svix` client.

const ctx = useWebhookDatabase({ poolMax: 8 });
const TOKEN = "testsk_storekeep_local";

const svixEnv = (url: string, extra: Record<string, string> = {}) => ({
  ...LOCAL_DEFAULTS,
  LOG_LEVEL: "silent",
  SVIX_API_KEY: TOKEN,
  SVIX_SERVER_URL: url,
  ...extra,
});

const emit = (topic: string, payload: unknown) =>
  ctx.db.query("select private.emit_event($1, $2::jsonb)", [topic, JSON.stringify(payload)]);

/** Every outbox event Svix should get, in the order it should get them. */
async function expectedEvents() {
  const { rows } = await ctx.db.query<{ id: string; topic: string; payload: unknown; created_at: Date | string }>(
    `select e.id::text, e.topic, e.payload, e.created_at from private.events e
     where e.topic <> 'webhook.test' order by e.transaction_id, e.id`,
  );
  return rows;
}

/**
 * Drains until `done` (or the drain throws). Events of a transaction that committed while an older
 * one, anywhere in the cluster, is still running are held back by the outbox until that one ends,
 * so on a busy PostgreSQL one drain may not reach them yet.
 */
async function drainUntil(sender: WebhookSender, done: () => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  const total = { sent: 0 };
  for (;;) {
    total.sent += (await sender.drain(10_000)).sent ?? 0;
    if (done()) return total;
    if (Date.now() > deadline) throw new Error(`timed out draining until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const running: RunningSender[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sender) => sender.stop()));
});

describe(`Svix Cloud mode on ${engine}`, () => {
  it("sends every event once, in order, with its type and id, across runs and an outage of Svix", async () => {
    const svix = await startFakeSvix(TOKEN);
    try {
      // Run 1: the sender createServices chooses from the configuration.
      const services = createServices(loadConfig(svixEnv(svix.url)), { db: ctx.db });
      await emit("product.published", { sku: "SVIX-1" });
      await emit("webhook.test", { endpoint_id: "00000000-0000-4000-8000-000000000000", url: "http://x" });
      for (let n = 0; n < 12; n++) await emit("stock.changed", { n });
      const afterFirst = await expectedEvents();
      const first = await drainUntil(services.webhooks, () => svix.messages.length >= afterFirst.length, "run 1");
      expect(first.sent).toBe(afterFirst.length);
      expect(svix.apps.size).toBe(1);
      expect([...svix.apps.values()][0]?.uid).toBe("storekeep");
      expect(svix.messages.map((m) => m.eventId)).toEqual(afterFirst.map((e) => `evt_${e.id}`));

      // Run 2 (a second sender, as after a restart, with small batches): Svix stores a message and
      // crashes before answering, so that batch fails; the events it accepted before stay sent.
      const sender = createSvixSender({
        db: ctx.db,
        apiKey: TOKEN,
        serverUrl: svix.url,
        appUid: "storekeep",
        batchSize: 5,
        retryScheduleMs: [5, 10],
      });
      const MORE = 17;
      for (let n = 0; n < MORE; n++) await emit(n % 2 ? "stock.low" : "order.status_changed", { n });
      // Let 7 more through (a full batch of 5, then 2 of the next), and crash storing the 8th.
      const crashAt = svix.messages.length + 8;
      svix.control.crashAtMessage = crashAt;
      await expect(drainUntil(sender, () => false, "the crash")).rejects.toThrow(/HTTP-Code: 500/);
      expect(svix.messages.length).toBe(crashAt);
      const crashed = svix.messages.at(-1)?.eventId;
      // The cursor sits on the last event Svix answered for, before the one whose answer was lost.
      const { rows: cursor } = await ctx.db.query<{ event_id: string }>(
        "select event_id::text from private.svix_outbox_cursors where app_uid = 'storekeep'",
      );
      expect(`evt_${cursor[0]?.event_id}`).toBe(svix.messages.at(-2)?.eventId);

      // Still down (the port refuses connections): nothing moves.
      await svix.down();
      svix.control.failing = false;
      await expect(drainUntil(sender, () => false, "the refusal")).rejects.toThrow(/fetch failed/);
      const { rows: unchanged } = await ctx.db.query<{ event_id: string }>(
        "select event_id::text from private.svix_outbox_cursors where app_uid = 'storekeep'",
      );
      expect(unchanged[0]?.event_id).toBe(cursor[0]?.event_id);

      // Svix recovers: the lost one is sent again (and deduplicated), the rest follow.
      await svix.up();
      const third = await drainUntil(sender, () => svix.messages.length === afterFirst.length + MORE, "run 3");
      expect(third.sent).toBe(afterFirst.length + MORE - crashAt + 1);
      expect(svix.attemptsFor(crashed ?? "")).toBeGreaterThan(1);

      const all = await expectedEvents();
      expect(all).toHaveLength(afterFirst.length + MORE);
      expect(svix.messages.map((m) => m.eventId)).toEqual(all.map((e) => `evt_${e.id}`));
      expect(new Set(svix.messages.map((m) => m.eventId)).size).toBe(all.length);
      all.forEach((event, index) => {
        const message = svix.messages[index] as FakeSvixMessage;
        expect(message.eventType).toBe(event.topic);
        expect(message.payload).toEqual({
          type: event.topic,
          id: `evt_${event.id}`,
          timestamp: new Date(event.created_at).toISOString(),
          data: event.payload,
        });
      });
      expect(svix.messages.some((m) => m.eventType === "webhook.test")).toBe(false);

      // Run 4: nothing new, nothing sent.
      const before = svix.requests.length;
      expect((await sender.drain(10_000)).sent).toBe(0);
      expect(svix.requests.filter((r) => r.path.endsWith("/msg")).length).toBe(
        svix.requests.slice(0, before).filter((r) => r.path.endsWith("/msg")).length,
      );
      expect(svix.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    } finally {
      await svix.close();
    }
  });

  it("two runners at once never send the same event", async () => {
    const svix = await startFakeSvix(TOKEN);
    try {
      svix.control.delayMs = 2;
      const runner = () =>
        createSvixSender({ db: ctx.db, apiKey: TOKEN, serverUrl: svix.url, appUid: "two-runners", batchSize: 10 });
      const [a, b] = [runner(), runner()];
      for (let n = 0; n < 40; n++) await emit("race.item", { n });
      const results = await Promise.all([a.drain(10_000), b.drain(10_000), a.drain(10_000), b.drain(10_000)]);
      // Anything left (a runner that found the cursor taken stops early) goes in a last pass.
      const all = await expectedEvents();
      await drainUntil(a, () => svix.messages.length === all.length, "every event");
      const sent = svix.requests.filter((r) => r.path.endsWith("/msg")).map((r) => (r.body as FakeSvixMessage).eventId);
      expect(sent).toEqual(all.map((e) => `evt_${e.id}`));
      expect(results.reduce((sum, r) => sum + (r.sent ?? 0), 0)).toBeGreaterThan(0);
    } finally {
      await svix.close();
    }
  });

  it("runs continuously in the local stack's way: an event reaches Svix within a second of its commit", async () => {
    const svix = await startFakeSvix(TOKEN);
    try {
      const services = createServices(loadConfig(svixEnv(svix.url, { SVIX_APP_UID: "continuous" })), {
        db: ctx.db,
      });
      running.push(await services.webhooks.start({ signal: ctx.signal, idlePollMs: 5_000 }));
      await waitFor(async () => svix.messages.length === (await expectedEvents()).length, 5_000, "the backlog");
      const committed = Date.now();
      await emit("product.published", { sku: "FAST-1" });
      const { rows } = await ctx.db.query<{ id: string; held: boolean }>(
        `select e.id::text, e.transaction_id >= pg_snapshot_xmin(pg_current_snapshot()) as held
         from private.events e order by e.id desc limit 1`,
      );
      await waitFor(() => svix.messages.at(-1)?.eventId === `evt_${rows[0]?.id}`, 20_000, "the new event");
      // Within a second, unless a transaction elsewhere in the cluster (another test file, a bench)
      // was still running at the commit: the outbox holds events back until such a one ends.
      if (!rows[0]?.held) expect(Date.now() - committed).toBeLessThan(1_000);
    } finally {
      await svix.close();
    }
  });

  it.skipIf(!onPostgres)("an event held back by a running transaction is sent soon after it ends", async () => {
    const svix = await startFakeSvix(TOKEN);
    const other = createPostgresDb(ctx.url ?? "", { max: 1 });
    try {
      const services = createServices(loadConfig(svixEnv(svix.url, { SVIX_APP_UID: "held-back" })), { db: ctx.db });
      running.push(await services.webhooks.start({ signal: ctx.signal, idlePollMs: 30_000 }));
      await waitFor(async () => svix.messages.length === (await expectedEvents()).length, 20_000, "the backlog");
      let ended = 0;
      let id = "";
      // An older transaction (it has an id) stays open while a younger one commits an event.
      await other.transaction(async (tx) => {
        await tx.query("select pg_current_xact_id()");
        await emit("stock.changed", { held: true });
        const { rows } = await ctx.db.query<{ id: string }>("select max(id)::text as id from private.events");
        id = `evt_${rows[0]?.id}`;
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(svix.messages.map((m) => m.eventId)).not.toContain(id);
        ended = Date.now();
      });
      // No commit signal follows the older one's end; the sender looks again by itself.
      await waitFor(() => svix.messages.at(-1)?.eventId === id, 20_000, "the held-back event");
      const { rows: foreign } = await ctx.db.query<{ held: boolean }>(
        "select count(*) > 0 as held from pg_stat_activity where backend_xid is not null and pid <> pg_backend_pid()",
      );
      if (!foreign[0]?.held) expect(Date.now() - ended).toBeLessThan(1_000);
    } finally {
      await other.close();
      await svix.close();
    }
  });

  it("the endpoint API says endpoints are managed in Svix; the event catalogue stays", async () => {
    const api = createTestApp(ctx.db, svixEnv("http://127.0.0.1:9"));
    const create = await api.request("POST", "/v1/webhooks/endpoints", {
      as: "admin",
      body: { url: "https://hooks.example.com/x", topics: ["*"] },
    });
    expect(create.status).toBe(409);
    expect(create.headers.get("content-type")).toContain("application/problem+json");
    expect(create.json.detail).toMatch(/managed in Svix/);
    expect(create.json.managed_by).toBe("svix");
    for (const [method, path] of [
      ["GET", "/v1/webhooks/endpoints"],
      ["GET", "/v1/webhooks/deliveries"],
      ["POST", "/v1/webhooks/endpoints/00000000-0000-4000-8000-000000000001/test"],
      ["POST", "/v1/webhooks/deliveries/1/retry"],
    ] as const) {
      expect((await api.request(method, path, { as: "admin" })).status, `${method} ${path}`).toBe(409);
    }
    // Access control still comes first.
    expect((await api.request("GET", "/v1/webhooks/endpoints", { as: "manager" })).status).toBe(403);
    expect((await api.request("GET", "/v1/webhooks/event-types")).status).toBe(200);
    // Without the key, the same route is ours.
    const builtIn = createTestApp(ctx.db);
    expect((await builtIn.request("GET", "/v1/webhooks/endpoints", { as: "admin" })).status).toBe(200);
  });

  it("configuration: SVIX_SERVER_URL without SVIX_API_KEY fails fast; a bad app uid too", () => {
    expect(() => loadConfig({ ...LOCAL_DEFAULTS, SVIX_SERVER_URL: "http://127.0.0.1:8071" })).toThrow(/SVIX_API_KEY/);
    expect(() => loadConfig(svixEnv("http://127.0.0.1:8071", { SVIX_APP_UID: "no spaces" }))).toThrow(/SVIX_APP_UID/);
    expect(loadConfig(svixEnv("http://127.0.0.1:8071")).svix).toEqual({
      apiKey: TOKEN,
      serverUrl: "http://127.0.0.1:8071",
      appUid: "storekeep",
    });
    expect(loadConfig({ ...LOCAL_DEFAULTS }).svix).toBeUndefined();
  });
});
