import { OpenAPIHono } from "@hono/zod-openapi";
import { Webhook } from "svix";
import { afterEach, describe, expect, it } from "vitest";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { createApp, eventTypes, inboundHandlers } from "../packages/server/src/app.ts";
import {
  type DispatcherSettings,
  type RunningDispatcher,
  retryDelayMs,
  startDispatcher,
} from "../packages/server/src/domains/webhooks/dispatcher.ts";
import { documentEventTypes } from "../packages/server/src/domains/webhooks/event-types/routes.ts";
import { createWebhookRoutes } from "../packages/server/src/domains/webhooks/routes.ts";
import { createServices } from "../packages/server/src/main.ts";
import { loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { type HostResolver, isPublicAddress } from "../packages/server/src/platform/dns.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, onPostgres } from "./helpers/db.ts";
import { startReceiver, svixHeaders, useWebhookDatabase, waitFor } from "./webhooks.helpers.ts";

const ctx = useWebhookDatabase({ poolMax: 12 });
const api = () => createTestApp(ctx.db);

/** Fast retries so a test covers a whole schedule in a second or two. */
const FAST: Partial<DispatcherSettings> = {
  retryScheduleMs: [40, 80, 160, 320, 640, 1280, 2000],
  jitter: 0.2,
  timeoutMs: 2_000,
  leaseMs: 5_000,
  allowPrivateUrls: true,
};

const running: RunningDispatcher[] = [];
async function dispatcher(settings: Partial<DispatcherSettings> = {}, db: Db = ctx.db, sent?: { count: number }) {
  const started = await startDispatcher({
    db,
    fetch: (input, init) => {
      if (sent) sent.count++;
      return fetch(input, init);
    },
    signal: ctx.signal,
    resolver: { resolve: async () => ["127.0.0.1"] },
    settings: { ...FAST, ...settings },
    idlePollMs: 5_000,
  });
  running.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((each) => each.stop()));
  // Endpoints of a finished test must not keep receiving (their receivers are closed).
  await ctx.db.query("delete from public.webhook_endpoints");
});

async function createEndpoint(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const response = await api().request("POST", "/v1/webhooks/endpoints", { as: "admin", body });
  expect(response.status, response.text).toBe(201);
  return response.json;
}

const emit = (topic: string, payload: unknown) =>
  ctx.db.query("select private.emit_event($1, $2::jsonb)", [topic, JSON.stringify(payload)]);

const deliveryStatuses = async (endpointId: string) =>
  (
    await ctx.db.query<{ status: string; n: string }>(
      "select status, count(*)::text as n from private.webhook_deliveries where endpoint_id = $1 group by status",
      [endpointId],
    )
  ).rows.reduce<Record<string, number>>((all, row) => Object.assign(all, { [row.status]: Number(row.n) }), {});

describe(`webhook endpoints API on ${engine}`, () => {
  it("an admin registers an endpoint and sees its whsec_ secret once", async () => {
    const created = await api().request("POST", "/v1/webhooks/endpoints", {
      as: "admin",
      body: { url: "http://127.0.0.1:9/hooks", topics: ["stock.*", "product.published"], description: "ERP" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ topics: ["stock.*", "product.published"], enabled: true, description: "ERP" });
    expect(created.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(() => new Webhook(created.json.secret)).not.toThrow();

    const fetched = await api().request("GET", `/v1/webhooks/endpoints/${created.json.id}`, { as: "admin" });
    expect(fetched.status).toBe(200);
    expect(fetched.json.secret).toBeUndefined();
    const listed = await api().request("GET", "/v1/webhooks/endpoints", { as: "admin" });
    expect(listed.json.data.map((row: { id: string }) => row.id)).toContain(created.json.id);
    expect(JSON.stringify(listed.json)).not.toContain(created.json.secret);

    const patched = await api().request("PATCH", `/v1/webhooks/endpoints/${created.json.id}`, {
      as: "admin",
      body: { topics: ["*"], headers: { "X-Shop": "main" }, rate_limit_per_second: 5 },
    });
    expect(patched.json).toMatchObject({ topics: ["*"], headers: { "X-Shop": "main" }, rate_limit_per_second: 5 });
    expect((await api().request("DELETE", `/v1/webhooks/endpoints/${created.json.id}`, { as: "admin" })).status).toBe(
      204,
    );
    expect((await api().request("GET", `/v1/webhooks/endpoints/${created.json.id}`, { as: "admin" })).status).toBe(404);
  });

  it("refuses callers below admin, and invalid topics or reserved headers", async () => {
    const body = { url: "http://127.0.0.1:9/hooks", topics: ["stock.*"] };
    expect((await api().request("POST", "/v1/webhooks/endpoints", { body })).status).toBe(401);
    expect((await api().request("POST", "/v1/webhooks/endpoints", { as: "manager", body })).status).toBe(403);
    expect((await api().request("GET", "/v1/webhooks/deliveries", { as: "manager" })).status).toBe(403);
    const badTopic = await api().request("POST", "/v1/webhooks/endpoints", {
      as: "admin",
      body: { ...body, topics: ["Stock.*x"] },
    });
    expect(badTopic.status).toBe(422);
    expect(badTopic.json.errors[0].field).toBe("body.topics.0");
    const reserved = await api().request("POST", "/v1/webhooks/endpoints", {
      as: "admin",
      body: { ...body, headers: { "Webhook-Signature": "forged" } },
    });
    expect(reserved.status).toBe(422);
  });

  it("the Data API roles cannot read secrets, deliveries of others, or write health columns", async () => {
    const { id } = await createEndpoint({ url: "http://127.0.0.1:9/hooks", topics: ["rls.*"] });
    const staff = { role: "authenticated" as const, sub: "00000000-0000-4000-8000-000000000004", app_role: "staff" };
    const admin = { role: "authenticated" as const, sub: "00000000-0000-4000-8000-000000000002", app_role: "admin" };
    await expect(ctx.db.asUser(admin, (tx) => tx.query("select * from private.webhook_secrets"))).rejects.toMatchObject(
      { code: "42501" },
    );
    const seenByStaff = await ctx.db.asUser(staff, (tx) => tx.query("select id from public.webhook_endpoints"));
    expect(seenByStaff.rows).toEqual([]);
    await expect(
      ctx.db.asUser(staff, (tx) => tx.query("select private.current_webhook_secret($1)", [id])),
    ).rejects.toMatchObject({ code: "P0F01" });
    await expect(
      ctx.db.asUser(admin, (tx) =>
        tx.query("update public.webhook_endpoints set failing_since = now() where id = $1", [id]),
      ),
    ).rejects.toMatchObject({ code: "42501" });
  });

  it("publishes the event catalogue with a JSON Schema per topic, also in the OpenAPI document", async () => {
    const catalogue = await api().request("GET", "/v1/webhooks/event-types");
    expect(catalogue.status).toBe(200);
    const disabled = catalogue.json.data.find((type: { topic: string }) => type.topic === "webhook.endpoint_disabled");
    expect(disabled.schema.properties.type.const).toBe("webhook.endpoint_disabled");
    expect(disabled.schema.properties.data.required).toEqual(["endpoint_id", "url", "failing_since", "reason"]);
    // The document as app.ts builds it, from this domain's routes and catalogue alone (so another
    // domain's document problems do not hide this one's).
    const app = new OpenAPIHono().basePath("/api");
    app.route("/v1", createWebhookRoutes({ eventTypes, inboundHandlers }));
    documentEventTypes(app.openAPIRegistry, eventTypes);
    const openapi = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } });
    expect(Object.keys(openapi.webhooks ?? {})).toEqual(
      expect.arrayContaining(["webhook.endpoint_disabled", "webhook.test"]),
    );
    expect(openapi.paths?.["/api/v1/webhooks/endpoints"]?.post?.operationId).toBe("createWebhookEndpoint");
    expect(openapi.paths?.["/api/v1/webhooks/inbound/{source}"]?.post).toBeDefined();
  });
});

describe(`fan-out from the outbox on ${engine}`, () => {
  it("creates one delivery per enabled endpoint whose topics match, in the event's transaction", async () => {
    const wildcard = await createEndpoint({ url: "http://127.0.0.1:9/a", topics: ["fan.*"] });
    const exact = await createEndpoint({ url: "http://127.0.0.1:9/b", topics: ["fan.out"] });
    const everything = await createEndpoint({ url: "http://127.0.0.1:9/c", topics: ["*"] });
    const disabled = await createEndpoint({ url: "http://127.0.0.1:9/d", topics: ["fan.*"], enabled: false });
    const other = await createEndpoint({ url: "http://127.0.0.1:9/e", topics: ["fanatic.*"] });

    await expect(
      ctx.db.transaction(async (tx) => {
        await tx.query("select private.emit_event('fan.out', '{}')");
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    await emit("fan.out", { n: 1 });
    await emit("fan.other", { n: 2 });

    const { rows } = await ctx.db.query<{ endpoint_id: string; topic: string }>(
      "select endpoint_id, topic from private.webhook_deliveries order by id",
    );
    const topicsOf = (id: string) => rows.filter((row) => row.endpoint_id === id).map((row) => row.topic);
    expect(topicsOf(wildcard.id)).toEqual(["fan.out", "fan.other"]);
    expect(topicsOf(exact.id)).toEqual(["fan.out"]);
    expect(topicsOf(everything.id)).toEqual(["fan.out", "fan.other"]);
    expect(topicsOf(disabled.id)).toEqual([]);
    expect(topicsOf(other.id)).toEqual([]);
  });
});

describe(`outbound delivery on ${engine}`, () => {
  it("a delivery leaves within a second of its commit, signed per Standard Webhooks", async () => {
    const receiver = await startReceiver();
    try {
      const { secret } = await createEndpoint({
        url: receiver.url,
        topics: ["latency.*"],
        headers: { "X-Shop": "main" },
      });
      await dispatcher({}, ctx.db);
      // Let the dispatcher settle into its idle sleep (5 s), so only the wake-up can be fast.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const committed = Date.now();
      await emit("latency.ping", { sku: "SKU-1" });
      await waitFor(() => receiver.received.length > 0, 1_000, "the delivery");
      const [request] = receiver.received;
      if (!request) throw new Error("nothing received");
      expect(request.at - committed).toBeLessThan(1_000);
      expect(() => new Webhook(secret).verify(request.body, svixHeaders(request.headers))).not.toThrow();
      expect(request.headers["x-shop"]).toBe("main");
      expect(request.headers["content-type"]).toBe("application/json");
      const body = JSON.parse(request.body);
      expect(body).toMatchObject({ type: "latency.ping", data: { sku: "SKU-1" } });
      expect(body.id).toBe(request.headers["webhook-id"]);
      expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp);
    } finally {
      await receiver.close();
    }
  });

  it("a receiver that refuses, then is down for a while, still gets every event once it recovers", async () => {
    const REFUSED = 8;
    const EVENTS = 20;
    const receiver = await startReceiver((_, index) => (index < REFUSED ? 503 : 200));
    try {
      const { id, secret } = await createEndpoint({ url: receiver.url, topics: ["outage.*"] });
      await dispatcher();
      for (let n = 0; n < EVENTS; n++) await emit("outage.item", { n });
      await waitFor(() => receiver.received.length >= REFUSED, 5_000, "the refused attempts");
      await receiver.down();
      await new Promise((resolve) => setTimeout(resolve, 700));
      const downtimeErrors = await ctx.db.query<{ n: string }>(
        "select count(*)::text as n from private.webhook_attempts where endpoint_id = $1 and status_code is null",
        [id],
      );
      expect(Number(downtimeErrors.rows[0]?.n)).toBeGreaterThan(0);
      await receiver.up();

      await waitFor(async () => (await deliveryStatuses(id)).delivered === EVENTS, 15_000, "every delivery");
      const accepted = receiver.received.filter((request) => request.status === 200);
      const verifier = new Webhook(secret);
      for (const request of accepted) {
        expect(() => verifier.verify(request.body, svixHeaders(request.headers))).not.toThrow();
      }
      const numbers = accepted.map((request) => JSON.parse(request.body).data.n).sort((a, b) => a - b);
      expect(numbers).toEqual(Array.from({ length: EVENTS }, (_, n) => n));

      const log = await ctx.db.query<{ status_code: number | null; error: string | null }>(
        "select status_code, error from private.webhook_attempts where endpoint_id = $1",
        [id],
      );
      expect(log.rows.filter((row) => row.status_code === 503)).toHaveLength(REFUSED);
      expect(log.rows.some((row) => row.status_code === null && row.error)).toBe(true);
      expect(log.rows.filter((row) => row.status_code === 200)).toHaveLength(EVENTS);
    } finally {
      await receiver.close();
    }
  });

  it("after the last attempt a delivery is failed and kept; retry and replay send it again", async () => {
    let healthy = false;
    const receiver = await startReceiver(() => (healthy ? 200 : 500));
    try {
      const { id } = await createEndpoint({ url: receiver.url, topics: ["exhaust.*"] });
      const since = new Date(Date.now() - 1_000).toISOString();
      await dispatcher({ retryScheduleMs: [20, 20] });
      await emit("exhaust.item", { n: 1 });
      await waitFor(async () => (await deliveryStatuses(id)).failed === 1, 5_000, "the failed delivery");

      const failed = await api().request("GET", `/v1/webhooks/deliveries?endpoint_id=${id}&status=failed`, {
        as: "admin",
      });
      expect(failed.json.data).toHaveLength(1);
      const deliveryId = failed.json.data[0].id;
      const detail = await api().request("GET", `/v1/webhooks/deliveries/${deliveryId}`, { as: "admin" });
      expect(detail.json.attempts_log.map((attempt: { status_code: number }) => attempt.status_code)).toEqual([
        500, 500, 500,
      ]);
      expect(detail.json.attempts_log[0].response_body).toBe("refused 0");
      expect(detail.json.attempts_log[0].latency_ms).toBeGreaterThanOrEqual(0);

      healthy = true;
      const retried = await api().request("POST", `/v1/webhooks/deliveries/${deliveryId}/retry`, { as: "admin" });
      expect(retried.status).toBe(202);
      await waitFor(async () => (await deliveryStatuses(id)).delivered === 1, 5_000, "the retried delivery");

      const replayed = await api().request(
        "POST",
        `/v1/webhooks/endpoints/${id}/replay?since=${encodeURIComponent(since)}`,
        { as: "admin" },
      );
      expect(replayed.status).toBe(202);
      expect(replayed.json.queued).toBe(1);
      const before = receiver.received.filter((request) => request.status === 200).length;
      await waitFor(
        () => receiver.received.filter((request) => request.status === 200).length === before + 1,
        5_000,
        "the replay",
      );
      const ids = receiver.received.map((request) => request.headers["webhook-id"]);
      expect(new Set(ids).size).toBe(1); // the same event: receivers can tell it is a redelivery
    } finally {
      await receiver.close();
    }
  });

  it("POST /endpoints/{id}/test sends a webhook.test event to that endpoint only", async () => {
    const receiver = await startReceiver();
    const bystander = await startReceiver();
    try {
      const { id } = await createEndpoint({ url: receiver.url, topics: ["nothing.here"] });
      await createEndpoint({ url: bystander.url, topics: ["*"] });
      await dispatcher();
      const queued = await api().request("POST", `/v1/webhooks/endpoints/${id}/test`, { as: "admin" });
      expect(queued.status).toBe(202);
      await waitFor(() => receiver.received.length === 1, 2_000, "the test ping");
      expect(JSON.parse(receiver.received[0]?.body ?? "{}")).toMatchObject({
        type: "webhook.test",
        data: { endpoint_id: id },
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(bystander.received).toHaveLength(0);
    } finally {
      await Promise.all([receiver.close(), bystander.close()]);
    }
  });

  it("an endpoint failing every delivery for the disable period is disabled, and an event says so", async () => {
    const failing = await startReceiver(() => 500);
    const watcher = await startReceiver();
    try {
      const doomed = await createEndpoint({ url: failing.url, topics: ["doomed.*"] });
      await createEndpoint({ url: watcher.url, topics: ["webhook.endpoint_disabled"] });
      await dispatcher({ disableAfterMs: 150, retryScheduleMs: [50, 50, 50, 50, 50, 50, 50, 50], jitter: 0 });
      await emit("doomed.item", { n: 1 });
      await waitFor(() => watcher.received.length === 1, 5_000, "the disabled event");
      const event = JSON.parse(watcher.received[0]?.body ?? "{}");
      expect(event).toMatchObject({ type: "webhook.endpoint_disabled", data: { endpoint_id: doomed.id } });

      const endpoint = await api().request("GET", `/v1/webhooks/endpoints/${doomed.id}`, { as: "admin" });
      expect(endpoint.json.enabled).toBe(false);
      expect(endpoint.json.disabled_reason).toMatch(/every delivery failed since/);
      // The undelivered event is kept, not dropped; re-enabling starts its health afresh.
      expect((await deliveryStatuses(doomed.id)).pending).toBe(1);
      const attemptsBefore = failing.received.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(failing.received.length).toBe(attemptsBefore);
      const reenabled = await api().request("PATCH", `/v1/webhooks/endpoints/${doomed.id}`, {
        as: "admin",
        body: { enabled: true },
      });
      expect(reenabled.json).toMatchObject({ enabled: true, failing_since: null, disabled_reason: null });
    } finally {
      await Promise.all([failing.close(), watcher.close()]);
    }
  });

  it("secret rotation: during the overlap both secrets verify, after it only the new one", async () => {
    const receiver = await startReceiver();
    try {
      const { id, secret: oldSecret } = await createEndpoint({ url: receiver.url, topics: ["rotation.*"] });
      await dispatcher();
      const rotated = await api().request("POST", `/v1/webhooks/endpoints/${id}/rotate-secret`, {
        as: "admin",
        body: { overlap_seconds: 1 },
      });
      expect(rotated.status).toBe(200);
      const newSecret: string = rotated.json.secret;
      expect(newSecret).not.toBe(oldSecret);

      await emit("rotation.during", {});
      await waitFor(() => receiver.received.length === 1, 2_000, "the delivery during the overlap");
      const during = receiver.received[0];
      if (!during) throw new Error("nothing received");
      expect(String(during.headers["webhook-signature"]).split(" ")).toHaveLength(2);
      expect(() => new Webhook(oldSecret).verify(during.body, svixHeaders(during.headers))).not.toThrow();
      expect(() => new Webhook(newSecret).verify(during.body, svixHeaders(during.headers))).not.toThrow();

      await waitFor(() => Date.parse(rotated.json.previous_secrets_expire_at) < Date.now() - 50, 3_000, "the overlap");
      await emit("rotation.after", {});
      await waitFor(() => receiver.received.length === 2, 2_000, "the delivery after the overlap");
      const after = receiver.received[1];
      if (!after) throw new Error("nothing received");
      expect(String(after.headers["webhook-signature"]).split(" ")).toHaveLength(1);
      expect(() => new Webhook(newSecret).verify(after.body, svixHeaders(after.headers))).not.toThrow();
      expect(() => new Webhook(oldSecret).verify(after.body, svixHeaders(after.headers))).toThrow();
    } finally {
      await receiver.close();
    }
  });

  it("a rate-limited endpoint gets at most its limit of attempts per second", async () => {
    const receiver = await startReceiver();
    try {
      const { id } = await createEndpoint({ url: receiver.url, topics: ["limited.*"], rate_limit_per_second: 5 });
      await dispatcher();
      for (let n = 0; n < 12; n++) await emit("limited.item", { n });
      await waitFor(async () => (await deliveryStatuses(id)).delivered === 12, 20_000, "every limited delivery");
      // The limit governs when attempts are claimed (the database's clock); arrival times at the
      // receiver add the sender's and receiver's scheduling jitter on a loaded machine on top.
      const claims = (
        await ctx.db.query<{ at: number }>(
          `select extract(epoch from last_attempt_at) * 1000 as at
           from private.webhook_deliveries where endpoint_id = $1 order by last_attempt_at`,
          [id],
        )
      ).rows.map((row) => Number(row.at));
      expect(claims).toHaveLength(12);
      // Every window of 1 s that ends at a claim holds at most 5 claims.
      for (const end of claims) {
        expect(claims.filter((at) => at > end - 1_000 && at <= end).length).toBeLessThanOrEqual(5);
      }
      const arrivals = receiver.received.map((request) => request.at).sort((a, b) => a - b);
      expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThan(1_000);
    } finally {
      await receiver.close();
    }
  });
});

describe("retry schedule", () => {
  it("follows about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h with jitter, then stops", async () => {
    const { DEFAULT_DISPATCHER_SETTINGS: defaults } = await import(
      "../packages/server/src/domains/webhooks/dispatcher.ts"
    );
    const minutes = [5 / 60, 5, 30, 120, 300, 600, 600];
    minutes.forEach((expected, index) => {
      const low = retryDelayMs(defaults, index + 1, () => 0) ?? 0;
      const high = retryDelayMs(defaults, index + 1, () => 1) ?? 0;
      expect(low).toBeCloseTo(expected * 60_000 * 0.8, -2);
      expect(high).toBeCloseTo(expected * 60_000 * 1.2, -2);
    });
    expect(retryDelayMs(defaults, 8)).toBeNull();
  });
});

describe(`SSRF rules on ${engine}`, () => {
  it("classifies private, loopback, link-local and public addresses", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "224.0.0.1",
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
    for (const address of ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      expect(isPublicAddress(address), address).toBe(true);
    }
  });

  it("in production, registration needs https and a host that resolves only to public addresses", async () => {
    const answers: Record<string, string[]> = {
      "hooks.example.com": ["93.184.216.34"],
      "metadata.example.com": ["169.254.169.254"],
      "mixed.example.com": ["93.184.216.34", "10.0.0.7"],
    };
    const dns: HostResolver = { resolve: async (host) => answers[host] ?? [] };
    const config = loadConfig({ ...LOCAL_DEFAULTS, LOG_LEVEL: "silent", WEBHOOKS_ALLOW_PRIVATE_URLS: "false" });
    const app = createApp(createServices(config, { db: ctx.db, dns }));
    const { mintStaffToken } = await import("../packages/local/src/tokens.ts");
    const token = await mintStaffToken(config.jwtSecret ?? "", "admin");
    const register = (url: string) =>
      app.request("/api/v1/webhooks/endpoints", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ url, topics: ["ssrf.*"] }),
      });
    for (const url of [
      "http://hooks.example.com/x",
      "https://127.0.0.1/x",
      "https://[::1]/x",
      "https://localhost/x",
      "https://metadata.example.com/x",
      "https://mixed.example.com/x",
      "https://nowhere.example.com/x",
      "https://user:pass@hooks.example.com/x",
    ]) {
      const response = await register(url);
      expect(response.status, url).toBe(422);
      expect((await response.json()).errors[0].field).toBe("body.url");
    }
    const allowed = await register("https://hooks.example.com/x");
    expect(allowed.status).toBe(201);
    const { id } = await allowed.json();

    // At delivery the name is resolved again: one that now points inside is refused, not sent.
    answers["hooks.example.com"] = ["127.0.0.1"];
    const requested: string[] = [];
    await startDispatcher({
      db: ctx.db,
      signal: ctx.signal,
      resolver: dns,
      fetch: async (input) => {
        requested.push(String(input));
        return new Response("ok");
      },
      settings: { ...FAST, allowPrivateUrls: false },
    }).then((started) => running.push(started));
    await emit("ssrf.item", {});
    await waitFor(
      async () =>
        (
          await ctx.db.query(
            "select 1 from private.webhook_attempts where endpoint_id = $1 and error like 'refused%'",
            [id],
          )
        ).rows.length > 0,
      3_000,
      "the refused attempt",
    );
    expect(requested).toEqual([]);
  });
});

describe.skipIf(!onPostgres)("two dispatchers at once (PostgreSQL)", () => {
  it("never send the same delivery concurrently, and every event is delivered once", async () => {
    const inFlight = new Map<string, number>();
    let overlaps = 0;
    const successes = new Map<string, number>();
    const receiver = await startReceiver(async (request, index) => {
      const id = String(request.headers["webhook-id"]);
      inFlight.set(id, (inFlight.get(id) ?? 0) + 1);
      if ((inFlight.get(id) ?? 0) > 1) overlaps++;
      await new Promise((resolve) => setTimeout(resolve, 5 + (index % 7)));
      inFlight.set(id, (inFlight.get(id) ?? 1) - 1);
      const status = index % 5 === 0 ? 500 : 200;
      if (status === 200) successes.set(id, (successes.get(id) ?? 0) + 1);
      return status;
    });
    const second = createPostgresDb(ctx.url ?? "", { max: 6 });
    try {
      const { id } = await createEndpoint({ url: receiver.url, topics: ["race.*"] });
      const first = { count: 0 };
      const other = { count: 0 };
      await dispatcher({ batchSize: 20, retryScheduleMs: [10, 10, 10, 10, 10, 10, 10] }, ctx.db, first);
      await dispatcher({ batchSize: 20, retryScheduleMs: [10, 10, 10, 10, 10, 10, 10] }, second, other);
      const EVENTS = 300;
      for (let batch = 0; batch < EVENTS / 50; batch++) {
        await ctx.db.query(
          "select private.emit_event('race.item', jsonb_build_object('n', n)) from generate_series($1::int, $2::int) n",
          [batch * 50, batch * 50 + 49],
        );
      }
      await waitFor(async () => (await deliveryStatuses(id)).delivered === EVENTS, 20_000, "every delivery");
      expect(overlaps).toBe(0);
      // Both took part: each sent a real share of the work.
      expect(first.count).toBeGreaterThan(EVENTS / 10);
      expect(other.count).toBeGreaterThan(EVENTS / 10);
      expect(successes.size).toBe(EVENTS);
      expect([...successes.values()].every((count) => count === 1)).toBe(true);
      const byDispatcher = await ctx.db.query<{ n: string }>(
        "select count(*)::text as n from private.webhook_attempts where endpoint_id = $1",
        [id],
      );
      expect(Number(byDispatcher.rows[0]?.n)).toBe(receiver.received.length);
    } finally {
      await Promise.all(running.splice(0).map((each) => each.stop()));
      await second.close();
      await receiver.close();
    }
  });
});
