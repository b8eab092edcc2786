import { readdir, readFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { eventTypes } from "../packages/server/src/app.ts";
import { catalogEventTypes } from "../packages/server/src/domains/catalog/event-types.ts";
import { inventoryEventTypes } from "../packages/server/src/domains/inventory/event-types.ts";
import { orderEventTypes } from "../packages/server/src/domains/orders/event-types.ts";
import type { EventType } from "../packages/server/src/platform/event-type.ts";
import { createTestApp } from "./helpers/app.ts";
import { productInput } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { driveEveryTopic } from "./helpers/every-topic.ts";

// The event catalogue (GET /webhooks/event-types, OpenAPI `webhooks`) must name every topic the
// database emits, with a schema that every payload it actually writes passes.

const MIGRATIONS = new URL("../supabase/migrations/", import.meta.url);
/** What private.events accepts as a topic (its check constraint). */
const TOPIC = /^[a-z][a-z_]*(\.[a-z][a-z_]*)+$/;
const TOPIC_LITERAL = /'([a-z][a-z_]*(?:\.[a-z][a-z_]*)+)'/g;

/** SQL without its `--` and block comments; string literals (and the code in $$ bodies) kept. */
function withoutComments(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const two = sql.slice(i, i + 2);
    if (sql[i] === "'") {
      const end = sql.indexOf("'", i + 1);
      const stop = end === -1 ? sql.length : end + 1;
      out += sql.slice(i, stop); // '' inside a literal reads as two adjacent literals: same text
      i = stop;
    } else if (two === "--") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end;
    } else if (two === "/*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else {
      out += sql[i];
      i += 1;
    }
  }
  return out;
}

interface EmittedTopics {
  /** topic -> the migration files that emit it */
  topics: Map<string, Set<string>>;
  /** Writes to the outbox whose topic is not a literal, so no test can know it. */
  unknowable: string[];
}

/** Every topic the migrations write to the outbox: `emit_event('<topic>'` and the literals of `insert into private.events` statements. */
async function emittedTopics(): Promise<EmittedTopics> {
  const topics = new Map<string, Set<string>>();
  const unknowable: string[] = [];
  const found = (topic: string, file: string) => {
    if (!topics.has(topic)) topics.set(topic, new Set());
    topics.get(topic)?.add(file);
  };
  const files = (await readdir(MIGRATIONS)).filter((name) => name.endsWith(".sql")).sort();
  for (const file of files) {
    const sql = withoutComments(await readFile(new URL(file, MIGRATIONS), "utf8"));

    // private.emit_event(<topic>, <payload>): the first argument, unless this is its definition
    // (`topic text`) or a signature (`text, jsonb`).
    for (const call of sql.matchAll(/\bemit_event\s*\(\s*([^,)]*)/gi)) {
      const argument = (call[1] ?? "").trim();
      if (/^(\w+\s+)?text$/i.test(argument)) continue;
      const literal = /^'([^']*)'$/.exec(argument)?.[1];
      if (literal !== undefined && TOPIC.test(literal)) found(literal, file);
      else unknowable.push(`${file}: emit_event(${argument}, ...)`);
    }

    // Set-based writes to the outbox (statement-level triggers): topic literals in the statement.
    for (const insert of sql.matchAll(/\binsert\s+into\s+private\.events\b[^;]*/gi)) {
      const statement = insert[0];
      const literals = [...statement.matchAll(TOPIC_LITERAL)].map((match) => match[1] as string);
      for (const literal of literals) found(literal, file);
      // The one write that takes its topic as a parameter is emit_event's own body.
      if (literals.length === 0 && !/values\s*\(\s*topic\s*,\s*payload\s*\)/i.test(statement)) {
        unknowable.push(`${file}: ${statement.replace(/\s+/g, " ").slice(0, 120)}`);
      }
    }
  }
  return { topics, unknowable };
}

const byTopic = new Map<string, EventType>(eventTypes.map((type) => [type.topic, type]));

describe("the event catalogue names every topic the migrations emit", () => {
  it("finds the topics in the SQL (so the check below is not empty)", async () => {
    const { topics } = await emittedTopics();
    // Topics of both kinds of write: set-based inserts (product.*, variant.*) and emit_event calls.
    expect([...topics.keys()]).toEqual(
      expect.arrayContaining([
        "product.created",
        "product.unpublished",
        "product.publish_failed",
        "variant.deleted",
        "stock.changed",
        "stock.reorder_needed",
        "reservation.expired",
        "webhook.endpoint_disabled",
      ]),
    );
    expect(topics.size).toBeGreaterThanOrEqual(19);
  });

  it("every emitted topic has a catalogue entry", async () => {
    const { topics } = await emittedTopics();
    const missing = [...topics]
      .filter(([topic]) => !byTopic.has(topic))
      .map(([topic, files]) => `${topic} (${[...files].join(", ")})`);
    expect(missing, "add a schema to the emitting domain's event-types.ts and to eventTypes").toEqual([]);
  });

  it("every outbox write names its topic as a literal, so the catalogue can be checked", async () => {
    const { unknowable } = await emittedTopics();
    expect(unknowable, "write one emit_event('<topic>', ...) per topic instead of computing the topic").toEqual([]);
  });

  it("every catalogue entry is emitted somewhere, once, with a one-line description", async () => {
    const { topics } = await emittedTopics();
    const all = eventTypes.map((type) => type.topic);
    expect(all.filter((topic) => !topics.has(topic))).toEqual([]);
    expect(new Set(all).size).toBe(all.length);
    for (const type of eventTypes) {
      expect(type.topic).toMatch(TOPIC);
      expect(type.description).toMatch(/^\S.*\.$/);
    }
  });
});

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);

/** A request that must answer `status`; its JSON. */
async function call(
  method: string,
  path: string,
  status: number,
  options: Parameters<ReturnType<typeof api>["request"]>[2] = {},
) {
  const response = await api().request(method, path, options);
  expect(response.status, `${method} ${path}: ${response.text}`).toBe(status);
  return response.json;
}

const CATALOG_TOPICS = catalogEventTypes.map((type) => type.topic);
const INVENTORY_TOPICS = inventoryEventTypes.map((type) => type.topic);
const ORDER_TOPICS = orderEventTypes.map((type) => type.topic);

describe(`every payload the database writes passes its catalogue schema on ${engine}`, () => {
  it("drives the catalog, stock and reservations through the API, then checks the whole outbox", async () => {
    const { product, scheduled, sku, released, committed, expiring, shipped, lapsed } = await driveEveryTopic(
      ctx.db,
      call,
    );

    // The whole outbox (the seed's events too): each payload passes its topic's schema, and the
    // schema documents every field (zod strips what it does not know, so output = input).
    const { rows } = await ctx.db.query<{ id: string; topic: string; payload: unknown }>(
      "select e.id::text as id, e.topic, e.payload from private.events e order by e.id",
    );
    const problems: unknown[] = [];
    for (const row of rows) {
      const type = byTopic.get(row.topic);
      if (!type) {
        problems.push({ id: row.id, topic: row.topic, problem: "no catalogue entry" });
        continue;
      }
      const parsed = type.data.safeParse(row.payload);
      if (!parsed.success)
        problems.push({ id: row.id, topic: row.topic, payload: row.payload, issues: parsed.error.issues });
      else if (!isDeepStrictEqual(parsed.data, row.payload)) {
        problems.push({
          id: row.id,
          topic: row.topic,
          payload: row.payload,
          problem: "fields the schema does not name",
        });
      }
    }
    expect(problems).toEqual([]);

    const seen = new Set(rows.map((row) => row.topic));
    expect(
      [...CATALOG_TOPICS, ...INVENTORY_TOPICS, ...ORDER_TOPICS, "webhook.test"].filter((topic) => !seen.has(topic)),
    ).toEqual([]);

    // The payloads are the ones driven above, not merely shaped right.
    const payloads = (topic: string) =>
      rows.filter((row) => row.topic === topic).map((row) => row.payload as Record<string, any>);
    const mine = (topic: string) => payloads(topic).filter((payload) => payload.sku === sku);
    // Two crossings down to the reorder point: the damage (10 -> 4), and the cart's hold (8 -> 5) after
    // the receipt took stock above the point again and resolved the first suggestion.
    expect(mine("stock.low").map((payload) => [payload.available, payload.reorder_point])).toEqual([
      [4, 5],
      [5, 5],
    ]);
    // The policy set while the level was still empty opened the first suggestion at once.
    expect(mine("stock.reorder_needed").map((payload) => [payload.available, payload.reorder_quantity])).toEqual([
      [0, 20],
      [4, 20],
      [5, 20],
    ]);
    expect(mine("stock.out").map((payload) => payload.available)).toEqual([0, -2]);
    expect(mine("stock.back_in").map((payload) => payload.available)).toEqual([10, 8, 5]);
    expect(payloads("reservation.committed")).toContainEqual({
      id: committed.id,
      reference_type: "cart",
      reference_id: `cart-${sku}`,
    });
    expect(payloads("reservation.released")).toContainEqual({
      id: released.id,
      reference_type: null,
      reference_id: null,
    });
    expect(payloads("reservation.expired")).toEqual([
      expect.objectContaining({
        id: expiring.id,
        status: "expired",
        items: [{ sku, location_code: "main", quantity: 1 }],
      }),
      expect.objectContaining({ id: lapsed.reservation_id, reference: { type: "order", id: lapsed.id } }),
    ]);
    const ours = (topic: string) =>
      payloads(topic).filter((payload) => [shipped.number, lapsed.number].includes(payload.number));
    expect(ours("order.status_changed").map((payload) => [payload.number, payload.from, payload.to])).toEqual([
      [shipped.number, "pending", "paid"],
      [shipped.number, "paid", "shipped"],
      [lapsed.number, "pending", "cancelled"],
    ]);
    expect(ours("order.created").map((payload) => payload.number)).toEqual([shipped.number, lapsed.number]);
    expect(payloads("product.publish_failed")).toEqual([{ id: scheduled.id, reason: expect.any(String) }]);
    expect(payloads("product.deleted")).toContainEqual(
      expect.objectContaining({ id: product.id, deleted_at: expect.any(String) }),
    );
  });

  it("timestamps in payloads are UTC whatever the session's time zone", async () => {
    const product = await call("POST", "/v1/products", 201, { as: "staff", body: productInput() });
    await ctx.db.transaction(async (tx) => {
      await tx.query("set local timezone = 'Asia/Kolkata'");
      await tx.query("update public.products set deleted_at = now() where id = $1", [product.id]);
    });
    const { rows } = await ctx.db.query<{ payload: { deleted_at: string } }>(
      "select payload from private.events where topic = 'product.deleted' and payload ->> 'id' = $1",
      [product.id],
    );
    // private.iso prints UTC whatever the session says (no pinned time zone needed).
    expect(rows[0]?.payload.deleted_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("the schemas refuse what SQL does not write (they are not pass-through)", () => {
    const valid = {
      variant_id: "6f1e2f4e-8a0b-4c1d-9e2f-3a4b5c6d7e8f",
      sku: "TEE-M",
      location_id: "7f1e2f4e-8a0b-4c1d-9e2f-3a4b5c6d7e8f",
      location_code: "main",
      before: { on_hand: 3, reserved: 0, available: 3 },
      after: { on_hand: 2, reserved: 0, available: 2 },
    };
    const changed = byTopic.get("stock.changed")?.data;
    expect(changed?.safeParse(valid).success).toBe(true);
    expect(changed?.safeParse({ ...valid, after: undefined }).success).toBe(false);
    expect(changed?.safeParse({ ...valid, variant_id: "not-a-uuid" }).success).toBe(false);
    expect(changed?.safeParse({ ...valid, before: { on_hand: 1.5, reserved: 0, available: 1.5 } }).success).toBe(false);
    const product = byTopic.get("product.updated")?.data;
    const productPayload = {
      id: valid.variant_id,
      handle: "tee",
      status: "draft",
      version: 2,
      published_at: null,
      publish_at: null,
      deleted_at: "2026-11-22T03:57:52.123Z",
    };
    expect(product?.safeParse(productPayload).success).toBe(true);
    expect(product?.safeParse({ ...productPayload, status: "live" }).success).toBe(false);
    expect(product?.safeParse({ ...productPayload, deleted_at: "yesterday" }).success).toBe(false);
    expect(product?.safeParse({ ...productPayload, deleted_at: "2026-11-22T03:57:52.123456+00:00" }).success).toBe(
      false,
    );
  });
});

describe(`the catalogue is published on ${engine}`, () => {
  it("GET /webhooks/event-types lists every topic with its JSON Schema", async () => {
    const catalogue = await call("GET", "/v1/webhooks/event-types", 200);
    const listed = catalogue.data.map((type: { topic: string }) => type.topic);
    expect(listed).toEqual(eventTypes.map((type) => type.topic));
    expect(listed).toEqual(expect.arrayContaining([...CATALOG_TOPICS, ...INVENTORY_TOPICS]));
    const changed = catalogue.data.find((type: { topic: string }) => type.topic === "stock.changed");
    expect(changed.schema.properties.type.const).toBe("stock.changed");
    expect(changed.schema.properties.data.required).toEqual(
      expect.arrayContaining(["variant_id", "sku", "location_id", "location_code", "before", "after"]),
    );
  });

  it("/openapi.json has a webhooks entry per topic, e.g. stock.changed", async () => {
    const document = await call("GET", "/v1/openapi.json", 200);
    expect(Object.keys(document.webhooks)).toEqual(expect.arrayContaining(eventTypes.map((type) => type.topic)));
    const body = document.webhooks["stock.changed"].post.requestBody.content["application/json"].schema;
    expect(JSON.stringify(body)).toContain("#/components/schemas/StockChangedEvent");
    expect(document.components.schemas.StockChangedEvent.required).toEqual(expect.arrayContaining(["before", "after"]));
    expect(document.components.schemas.ReservationExpiredEvent).toBeDefined();
  });
});
