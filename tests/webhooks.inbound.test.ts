import { Webhook } from "svix";
import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { receive } from "./helpers/inventory.ts";
import { createSellableVariants } from "./helpers/orders.ts";

const ctx = useTestDatabase();
const SECRETS = {
  "pms-product": "whsec_cHJvZHVjdC1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMzI=",
  "pms-inventory": "whsec_aW52ZW50b3J5LXNlY3JldC1mb3ItdGVzdHMtb25seS0=",
  "pms-order": ["whsec_b3JkZXItc2VjcmV0LWZvci10ZXN0cy1vbmx5LTMyYg=="],
  "supplier-feed": "whsec_c3VwcGxpZXItZmVlZC1zZWNyZXQtZm9yLXRlc3RzLTI=",
};
const api = () => createTestApp(ctx.db, { INBOUND_WEBHOOK_SECRETS: JSON.stringify(SECRETS) });

let sequence = 0;
/** A request signed by the sender with svix's Webhook.sign, as the PMS would send it. */
function signed(source: keyof typeof SECRETS, payload: unknown, options: { id?: string; at?: Date } = {}) {
  const secret = [SECRETS[source]].flat()[0] ?? "";
  const id = options.id ?? `msg_${Date.now()}_${sequence++}`;
  const at = options.at ?? new Date();
  const body = JSON.stringify(payload);
  return {
    id,
    body,
    headers: {
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, at, body),
    },
  };
}

const send = (source: string, message: { body: string; headers: Record<string, string> }) =>
  api().request("POST", `/v1/webhooks/inbound/${source}`, { body: message.body, headers: message.headers });

const product = (sku: string, price: number) => ({
  sku,
  title: `Inbound ${sku}`,
  price_amount: price,
  currency: "EUR",
});

const priceOf = async (sku: string) =>
  (
    await ctx.db.query<{ price_amount: number }>(
      "select price_amount from public.product_variants where lower(sku) = lower($1) and deleted_at is null",
      [sku],
    )
  ).rows.map((row) => row.price_amount);

const onHand = async (sku: string) =>
  (
    await ctx.db.query<{ on_hand: number }>(
      `select sl.on_hand from public.stock_levels sl join public.product_variants v on v.id = sl.variant_id
       join public.locations l on l.id = sl.location_id where lower(v.sku) = lower($1) and l.code = 'main'`,
      [sku],
    )
  ).rows[0]?.on_hand;

describe(`inbound webhooks on ${engine}`, () => {
  it("pms-product upserts by SKU; a replayed message id is acknowledged and applied once", async () => {
    const first = signed("pms-product", product("IN-1", 1000));
    const created = await send("pms-product", first);
    expect(created.status, created.text).toBe(200);
    expect(created.json).toMatchObject({ status: "applied", message_id: first.id, result: { created: true } });
    expect(await priceOf("IN-1")).toEqual([1000]);

    const update = signed("pms-product", product("IN-1", 1200));
    const updated = await send("pms-product", update);
    expect(updated.json).toMatchObject({ status: "applied", result: { created: false } });
    expect(await priceOf("IN-1")).toEqual([1200]);

    // The first message again (a sender's retry): acknowledged, not applied (the price stays).
    const again = await send("pms-product", first);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ status: "duplicate", message_id: first.id });
    expect(await priceOf("IN-1")).toEqual([1200]);
    const products = await ctx.db.query("select 1 from public.product_variants where lower(sku) = 'in-1'");
    expect(products.rows).toHaveLength(1);
  });

  it("pms-inventory adjusts stock through the inventory ledger once per message id", async () => {
    await send("pms-product", signed("pms-product", product("IN-2", 500)));
    const before = (await onHand("IN-2")) ?? 0;
    const message = signed("pms-inventory", { sku: "IN-2", location_code: "main", delta: 7, kind: "receipt" });
    const applied = await send("pms-inventory", message);
    expect(applied.status, applied.text).toBe(200);
    expect(applied.json.status).toBe("applied");
    expect(await onHand("IN-2")).toBe(before + 7);
    for (let i = 0; i < 3; i++) {
      const repeat = await send("pms-inventory", message);
      expect(repeat.json.status).toBe("duplicate");
    }
    expect(await onHand("IN-2")).toBe(before + 7);
  });

  it("a pms-inventory count sets on_hand to the counted quantity (a count never adds)", async () => {
    await send("pms-product", signed("pms-product", product("IN-CNT", 500)));
    await send(
      "pms-inventory",
      signed("pms-inventory", { sku: "IN-CNT", location_code: "main", delta: 9, kind: "receipt" }),
    );
    const counted = await send(
      "pms-inventory",
      signed("pms-inventory", { sku: "IN-CNT", location_code: "main", counted: 4, kind: "count" }),
    );
    expect(counted.status, counted.text).toBe(200);
    expect(await onHand("IN-CNT")).toBe(4);
    const asDelta = signed("pms-inventory", { sku: "IN-CNT", location_code: "main", delta: 4, kind: "count" });
    expect((await send("pms-inventory", asDelta)).status).toBe(422);
    expect(await onHand("IN-CNT")).toBe(4);
  });

  it("a concurrent repeat of one message is applied once", async () => {
    await send("pms-product", signed("pms-product", product("IN-3", 500)));
    const before = (await onHand("IN-3")) ?? 0;
    const message = signed("pms-inventory", { sku: "IN-3", location_code: "main", delta: 2 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => send("pms-inventory", message)));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((answer) => answer.json.status === "applied")).toHaveLength(1);
    expect(await onHand("IN-3")).toBe(before + 2);
  });

  it("a tampered body, a stale timestamp or a wrong secret is 401 and nothing is recorded", async () => {
    const message = signed("pms-product", product("IN-4", 100));
    const tampered = await send("pms-product", { ...message, body: message.body.replace("100", "1") });
    expect(tampered.status).toBe(401);
    expect(tampered.headers.get("content-type")).toContain("application/problem+json");

    const stale = signed("pms-product", product("IN-4", 100), { at: new Date(Date.now() - 6 * 60_000) });
    expect((await send("pms-product", stale)).status).toBe(401);
    const future = signed("pms-product", product("IN-4", 100), { at: new Date(Date.now() + 6 * 60_000) });
    expect((await send("pms-product", future)).status).toBe(401);

    // Signed for another source: the signature does not verify with this source's secret.
    const otherSource = signed("pms-inventory", product("IN-4", 100));
    expect((await send("pms-product", otherSource)).status).toBe(401);
    const unsigned = await api().request("POST", "/v1/webhooks/inbound/pms-product", { body: product("IN-4", 100) });
    expect(unsigned.status).toBe(401);

    expect(await priceOf("IN-4")).toEqual([]);
    const recorded = await ctx.db.query("select 1 from private.inbound_webhook_messages where message_id = $1", [
      message.id,
    ]);
    expect(recorded.rows).toEqual([]);
  });

  it("an unknown source is 404, before any signature check", async () => {
    const response = await send("pms-unknown", signed("pms-product", product("IN-5", 100)));
    expect(response.status).toBe(404);
  });

  it("an invalid payload is 422 and nothing is applied or recorded", async () => {
    const invalid = signed("pms-product", { sku: "IN-6", title: "", price_amount: -1, currency: "euro" });
    const response = await send("pms-product", invalid);
    expect(response.status).toBe(422);
    expect(response.json.errors.map((error: { field: string }) => error.field)).toEqual(
      expect.arrayContaining(["body.title", "body.price_amount", "body.currency"]),
    );
    expect(await priceOf("IN-6")).toEqual([]);
    const recorded = await ctx.db.query("select 1 from private.inbound_webhook_messages where message_id = $1", [
      invalid.id,
    ]);
    expect(recorded.rows).toEqual([]);

    // A business rule refusing the message (unknown location) rolls the message id back too.
    await send("pms-product", signed("pms-product", product("IN-6", 100)));
    const nowhere = signed("pms-inventory", { sku: "IN-6", location_code: "nowhere", delta: 1 });
    expect((await send("pms-inventory", nowhere)).status).toBe(404);
    const kept = await ctx.db.query("select 1 from private.inbound_webhook_messages where message_id = $1", [
      nowhere.id,
    ]);
    expect(kept.rows).toEqual([]);
  });

  it("pms-order moves an order through the same transitions as the API; a replay is applied once", async () => {
    const sku = `IN-ORD-${Date.now()}`;
    await createSellableVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 5);
    const placed = await api().request("POST", "/v1/orders", {
      as: "staff",
      body: { items: [{ sku, quantity: 2 }], customer: { email: "pms@example.com" } },
    });
    const order = placed.json;

    const paid = signed("pms-order", { order_id: order.id, status: "paid" });
    const applied = await send("pms-order", paid);
    expect(applied.status).toBe(200);
    expect(applied.json).toMatchObject({
      status: "applied",
      result: { order_id: order.id, status: "paid", version: 2 },
    });
    expect((await send("pms-order", paid)).json.status).toBe("duplicate");
    expect(await onHand(sku)).toBe(5); // held until it ships

    const shipped = signed("pms-order", {
      order_number: order.number,
      status: "shipped",
      tracking_number: "JJD000390007",
      carrier: "DHL",
    });
    expect((await send("pms-order", shipped)).json.result).toMatchObject({ status: "shipped", version: 3 });
    expect(await onHand(sku)).toBe(3);
    // A report the order has already moved past (a late `paid`) is acknowledged and changes nothing.
    const late = await send("pms-order", signed("pms-order", { order_id: order.id, status: "paid" }));
    expect(late.status).toBe(200);
    expect(late.json).toMatchObject({ status: "applied", result: { status: "shipped", version: 3 } });
    const after = (await api().request("GET", `/v1/orders/${order.id}`, { as: "viewer" })).json;
    expect(after).toMatchObject({ status: "shipped", tracking_number: "JJD000390007", carrier: "DHL" });
    expect(after.history.slice(1).map((step: { source: string }) => step.source)).toEqual([
      "webhook:pms-order",
      "webhook:pms-order",
    ]);
    const events = await ctx.db.query<{ n: number }>(
      "select count(*)::int as n from private.events where topic = 'order.status_changed' and payload ->> 'id' = $1",
      [order.id],
    );
    expect(events.rows[0]?.n).toBe(2);

    // Refusals leave no record, so the sender may retry once the order can take the change.
    const refusals: [unknown, number][] = [
      [{ order_id: order.id, status: "paid", order_number: order.number }, 422],
      [{ order_id: order.id, status: "lost" }, 422],
      [{ order_id: order.id, status: "delivered", tracking_number: "X" }, 422],
      [{ order_number: "SK-1", status: "paid" }, 404],
      [{ order_id: crypto.randomUUID(), status: "paid" }, 404],
      [{ order_id: order.id, status: "cancelled" }, 409],
      // A late report that contradicts the order is not acknowledged.
      [{ order_id: order.id, status: "paid", payment_reference: "pi_other" }, 409],
    ];
    for (const [payload, status] of refusals) {
      const refused = signed("pms-order", payload);
      expect((await send("pms-order", refused)).status).toBe(status);
      const kept = await ctx.db.query("select 1 from private.inbound_webhook_messages where message_id = $1", [
        refused.id,
      ]);
      expect(kept.rows).toEqual([]);
    }
    expect((await api().request("GET", `/v1/orders/${order.id}`, { as: "viewer" })).json.version).toBe(3);
  });

  it("a configured source without a handler is verified, recorded once and answered 202 stored", async () => {
    const message = signed("supplier-feed", { purchase_order: "PO-1", status: "confirmed" });
    const stored = await send("supplier-feed", message);
    expect(stored.status).toBe(202);
    expect(stored.json).toEqual({ status: "stored", message_id: message.id });
    expect((await send("supplier-feed", message)).json.status).toBe("duplicate");
    const { rows } = await ctx.db.query<{ status: string; payload: unknown }>(
      "select status, payload from private.inbound_webhook_messages where source = 'supplier-feed' and message_id = $1",
      [message.id],
    );
    expect(rows).toEqual([{ status: "stored", payload: { purchase_order: "PO-1", status: "confirmed" } }]);
  });
});
