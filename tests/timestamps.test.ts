import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { eventTypes } from "../packages/server/src/app.ts";
import { webhookPayload } from "../packages/server/src/domains/webhooks/dispatcher.ts";
import { issueKey } from "./helpers/api-keys.ts";
import { createTestApp, TEST_SECRET } from "./helpers/app.ts";
import { productInput } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { type Call, driveEveryTopic } from "./helpers/every-topic.ts";
import { type LocalProvider, makeImage, startLocalProvider } from "./helpers/images.ts";

// One timestamp format for every payload: ISO 8601 UTC with milliseconds and `Z`, exactly as
// private.iso and Date#toISOString print it. Nothing here names a field: every string that reads
// as a date and a time, anywhere in a payload, must be in that format, so a new payload is covered
// the day it exists (an outbox topic that no write below produces fails the first test).

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** A date and a time of day, in any spelling Postgres or JavaScript print one. */
const LOOKS_LIKE_A_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

/** `where: path = value` for every timestamp in `value` that is not in the one format. */
function offFormat(where: string, value: unknown, path = "$"): string[] {
  if (typeof value === "string")
    return LOOKS_LIKE_A_TIMESTAMP.test(value) && !ISO_UTC.test(value) ? [`${where}: ${path} = ${value}`] : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => offFormat(where, item, `${path}[${i}]`));
  if (value !== null && typeof value === "object")
    return Object.entries(value).flatMap(([key, item]) => offFormat(where, item, `${path}.${key}`));
  return [];
}

describe("the timestamp check", () => {
  it("accepts only ISO 8601 UTC with milliseconds and Z, at any depth", () => {
    expect(offFormat("x", { a: [{ at: "2026-12-01T19:58:17.123Z", sku: "2026-12-01", n: 1 }] })).toEqual([]);
    expect(
      offFormat("x", {
        a: "2026-12-01T19:58:17.123456+00:00",
        b: ["2026-12-01 19:58:17+00"],
        c: { d: "2026-12-01T19:58:17Z" },
      }),
    ).toEqual([
      "x: $.a = 2026-12-01T19:58:17.123456+00:00",
      "x: $.b[0] = 2026-12-01 19:58:17+00",
      "x: $.c.d = 2026-12-01T19:58:17Z",
    ]);
  });
});

const ctx = useTestDatabase();
let local: LocalProvider;
let api: ReturnType<typeof createTestApp>;
/** Every JSON answer the app gave in this file, by request. */
const answers: { request: string; json: unknown }[] = [];

beforeAll(async () => {
  local = await startLocalProvider();
  api = createTestApp(ctx.db, local.env);
});
afterAll(() => local?.close());

const call: Call = async (method, path, status, options = {}) => {
  const response = await api.request(method, path, options);
  expect(response.status, `${method} ${path}: ${response.text}`).toBe(status);
  answers.push({ request: `${method} ${path}`, json: response.json });
  return response.json;
};

/** A multipart image upload (POST), as a browser's FormData sends it. */
async function upload(path: string, name: string, status: number, headers: Record<string, string> = {}) {
  const form = new FormData();
  const bytes = await makeImage("png", 40, 30);
  form.append("file", new Blob([new Uint8Array(bytes)], { type: "image/png" }), name);
  const token = await mintStaffToken(TEST_SECRET, "staff");
  const response = await api.app.request(`/api${path}`, {
    method: "POST",
    body: form,
    headers: { ...headers, authorization: `Bearer ${token}` },
  });
  const json = await response.json();
  expect(response.status, JSON.stringify(json)).toBe(status);
  answers.push({ request: `POST ${path}`, json });
  return json;
}

/** The topics driveEveryTopic leaves out (images, API key alerts, a disabled webhook endpoint), and a few more writes. */
async function driveTheOtherTopics(sku: string) {
  const product = await call("POST", "/v1/products", 201, { as: "staff", body: productInput() });
  const images = `/v1/products/${product.id}/images`;
  const image = await upload(images, "a.png", 201);
  await call("PATCH", `${images}/${image.id}`, 200, { as: "staff", body: { alt_text: "front", version: 1 } });
  await upload(`${images}/${image.id}/replace`, "b.png", 200, { "if-match": '"2"' });
  const versions = await call("GET", `${images}/${image.id}/versions`, 200, { as: "viewer" });
  await call("POST", `${images}/${image.id}/restore`, 200, {
    as: "staff",
    body: { version_id: versions[1].id, version: 3 },
  });
  await call("GET", `${images}/${image.id}`, 200, { as: "viewer" });
  await call("DELETE", `${images}/${image.id}`, 204, { as: "staff" });

  // API key alerts: one key due for rotation, one unused, one whose rotation overlap ends soon.
  const [old, idle, rotating] = await Promise.all(
    ["old", "idle", "rotating"].map((name) => issueKey(ctx.db, { scopes: ["catalog:read"], name })),
  );
  await ctx.db.query(
    `update private.api_keys set
       created_at = case when id = $1 then now() - interval '100 days' else now() - interval '50 days' end,
       last_used_at = case when id = $2 then now() - interval '40 days' else now() end,
       overlap_ends_at = case when id = $3 then now() + interval '2 hours' end
     where id in ($1, $2, $3)`,
    [old?.id, idle?.id, rotating?.id],
  );
  await ctx.db.query("select private.emit_api_key_alerts(interval '90 days', interval '30 days', interval '24 hours')");
  const key = await call("POST", "/v1/api-keys", 201, {
    as: "owner",
    body: { name: "answers", scopes: ["catalog:read"], role_cap: "staff", expires_at: "2099-01-01T00:00:00Z" },
  });
  await call("POST", `/v1/api-keys/${key.id}/rotate`, 200, { as: "owner", body: { overlap_seconds: 60 } });

  // A transfer between two locations (its answer and its events).
  await call("POST", "/v1/locations", 201, { as: "manager", body: { code: "ts-shop", name: "Timestamp shop" } });
  await call("POST", "/v1/inventory/transfers", 201, {
    as: "staff",
    body: { sku, from_location_code: "main", to_location_code: "ts-shop", quantity: 1 },
  });

  // A webhook endpoint whose deliveries have failed for longer than the disable period.
  const endpoint = await call("POST", "/v1/webhooks/endpoints", 201, {
    as: "admin",
    body: { url: "http://127.0.0.1:9/failing", topics: ["webhook.test"] },
  });
  await call("POST", `/v1/webhooks/endpoints/${endpoint.id}/test`, 202, { as: "admin" });
  await ctx.db.query("update public.webhook_endpoints set failing_since = now() - interval '2 days' where id = $1", [
    endpoint.id,
  ]);
  await ctx.db.query(
    `select private.record_webhook_attempts(
       (select jsonb_agg(jsonb_build_object('delivery', d.id, 'succeeded', false, 'status_code', 500))
        from private.webhook_deliveries d where d.endpoint_id = $1),
       interval '1 day')`,
    [endpoint.id],
  );
  await call("GET", `/v1/webhooks/endpoints/${endpoint.id}`, 200, { as: "admin" });
  await call("GET", `/v1/webhooks/deliveries?endpoint_id=${endpoint.id}`, 200, { as: "admin" });
}

describe(`every timestamp in every payload is ISO 8601 UTC with milliseconds on ${engine}`, () => {
  it("in every outbox topic's payload, as stored, broadcast, sent as a webhook and paged by sync", async () => {
    const { sku } = await driveEveryTopic(ctx.db, call);
    await driveTheOtherTopics(sku);

    const { rows: events } = await ctx.db.query<{ id: string; topic: string; payload: unknown; created_at: Date }>(
      "select id::text, topic, payload, created_at from private.events order by id",
    );
    const driven = new Set(events.map((event) => event.topic));
    expect(
      eventTypes.map((type) => type.topic).filter((topic) => !driven.has(topic)),
      "drive a real write of each topic above (here or in tests/helpers/every-topic.ts)",
    ).toEqual([]);

    const { rows: broadcasts } = await ctx.db.query<{ topic: string; payload: unknown }>(
      "select topic, payload from realtime.messages order by id",
    );
    expect(broadcasts.length).toBeGreaterThan(10);
    const sync = await call("GET", "/v1/sync/changes?since=0-0&limit=1000", 200, { as: "admin" });
    expect(sync.data.length).toBe(events.length);

    expect([
      ...events.flatMap((event) => offFormat(`outbox ${event.topic}`, event.payload)),
      ...events.flatMap((event) => offFormat(`webhook ${event.topic}`, webhookPayload(event))),
      ...broadcasts.flatMap((message) => offFormat(`broadcast ${message.topic}`, message.payload)),
      ...offFormat("GET /v1/sync/changes", sync),
    ]).toEqual([]);
  });

  it("in the answers of the writes above and of every GET route", async () => {
    // Every GET the OpenAPI document declares, its path parameters taken from what the writes
    // above created (the first id of the list one level up), as the owner.
    const spec = (await api.request("GET", "/v1/openapi.json")).json as { paths: Record<string, object> };
    const gets = Object.entries(spec.paths)
      .filter(([, operations]) => "get" in operations)
      .map(([path]) => path.replace(/^\/api/, ""));
    const firstId = async (list: string) => {
      const page = (await api.request("GET", list, { as: "owner" })).json;
      const items = Array.isArray(page) ? page : page?.data;
      return Array.isArray(items) ? items[0]?.id : undefined;
    };
    const answered: string[] = [];
    for (const template of gets) {
      let path = template;
      for (const parameter of template.match(/\{[^}]+\}/g) ?? []) {
        const list = path.slice(0, path.indexOf(parameter) - 1);
        const id = await firstId(list);
        if (id === undefined) break;
        path = path.replace(parameter, String(id));
      }
      if (path.includes("{")) continue;
      const response = await api.request("GET", path, { as: "owner" });
      if (response.status === 200 && response.json !== undefined) {
        answers.push({ request: `GET ${path}`, json: response.json });
        answered.push(template);
      }
    }
    // The main reads answered (so the check below is not empty).
    expect(answered).toEqual(
      expect.arrayContaining([
        "/v1/products",
        "/v1/products/{id}",
        "/v1/inventory/history",
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/webhooks/endpoints",
        "/v1/api-keys",
      ]),
    );
    expect(answers.flatMap((answer) => offFormat(answer.request, answer.json))).toEqual([]);
  });
});
