import { expect } from "vitest";
import type { AppRole } from "../../packages/server/src/http/auth.ts";
import type { Db } from "../../packages/server/src/platform/db/types.ts";
import type { TestResponse } from "./app.ts";
import { productInput, uniqueSku } from "./catalog.ts";

/** A request that must answer `status`; its JSON (as tests/webhooks.event-catalogue and tests/timestamps make it). */
export type Call = (
  method: string,
  path: string,
  status: number,
  options?: { as?: AppRole | "anon"; body?: unknown; headers?: Record<string, string> },
) => Promise<TestResponse["json"]>;

/**
 * Real writes, through the API where one exists, that put an event of every catalog, inventory and
 * order topic (and webhook.test) in the outbox. Returns what the callers' assertions look up.
 */
export async function driveEveryTopic(db: Db, call: Call) {
  // Catalog: create, change, add/change/delete a variant, publish, unpublish, delete.
  const product = await call("POST", "/v1/products", 201, { as: "staff", body: productInput() });
  await call("PATCH", `/v1/products/${product.id}`, 200, { as: "staff", body: { title: "Renamed", version: 1 } });
  const variant = await call("POST", `/v1/products/${product.id}/variants`, 201, {
    as: "staff",
    body: { sku: uniqueSku("EVT"), price_amount: 2500, currency: "EUR" },
  });
  await call("PATCH", `/v1/variants/${variant.id}`, 200, { as: "staff", body: { price_amount: 2600, version: 1 } });
  await call("POST", `/v1/products/${product.id}/publish`, 200, { as: "manager", body: {} });
  await call("POST", `/v1/products/${product.id}/unpublish`, 200, { as: "manager", body: {} });
  await call("DELETE", `/v1/variants/${variant.id}`, 204, { as: "staff" });
  await call("DELETE", `/v1/products/${product.id}`, 204, { as: "manager" });

  // A scheduled publish that can no longer happen: its only variant is gone when it comes due.
  const scheduled = await call("POST", "/v1/products", 201, { as: "staff", body: productInput() });
  const publishAt = new Date(Date.now() + 3_600_000).toISOString();
  await call("POST", `/v1/products/${scheduled.id}/publish`, 200, { as: "manager", body: { publish_at: publishAt } });
  await call("DELETE", `/v1/variants/${scheduled.variants[0].id}`, 204, { as: "staff" });
  const due = await db.query<{ result: { failed: number } }>(
    "select private.catalog_publish_due(now() + interval '2 hours') as result",
  );
  expect(due.rows[0]?.result.failed).toBe(1);

  // Brands and categories: create, change, delete.
  const brand = await call("POST", "/v1/brands", 201, { as: "staff", body: { name: "Event brand" } });
  await call("PATCH", `/v1/brands/${brand.id}`, 200, { as: "staff", body: { name: "Event brand 2" } });
  await call("DELETE", `/v1/brands/${brand.id}`, 204, { as: "manager" });
  const category = await call("POST", "/v1/categories", 201, { as: "staff", body: { name: "Event category" } });
  await call("PATCH", `/v1/categories/${category.id}`, 200, { as: "staff", body: { position: 3 } });
  await call("DELETE", `/v1/categories/${category.id}`, 204, { as: "manager" });

  // Stock at `main` of a fresh sku: in, down to the reorder point, out, back in.
  const sku = uniqueSku("EVS");
  await call("POST", "/v1/products", 201, {
    as: "staff",
    body: productInput({ variants: [{ sku, price_amount: 1000, currency: "EUR" }] }),
  });
  const at = { sku, location_code: "main" };
  await call("PATCH", "/v1/inventory/levels", 200, {
    as: "manager",
    body: { ...at, reorder_point: 5, reorder_quantity: 20 },
  });
  const adjust = (delta: number, kind: string) =>
    call("POST", "/v1/inventory/adjust", 201, { as: "staff", body: { ...at, delta, kind } });
  await adjust(10, "receipt"); // 0 -> 10: back_in
  await adjust(-6, "damage"); // 10 -> 4: low, reorder_needed
  await adjust(-4, "loss"); // 4 -> 0: out
  await adjust(8, "receipt"); // 0 -> 8: back_in, the open reorder suggestion resolved

  // Reservations: released, committed, expired.
  const reserve = (body: Record<string, unknown>) =>
    call("POST", "/v1/inventory/reservations", 201, { as: "staff", body });
  const released = await reserve({ items: [{ sku, quantity: 2 }] });
  await call("POST", `/v1/inventory/reservations/${released.id}/release`, 200, { as: "staff" });
  // 8 -> 5: low again, and a new reorder suggestion.
  const committed = await reserve({ items: [{ sku, quantity: 3 }], reference: { type: "cart", id: `cart-${sku}` } });
  await call("POST", `/v1/inventory/reservations/${committed.id}/commit`, 200, { as: "staff" });
  const expiring = await reserve({ items: [{ sku, quantity: 1, location_code: "main" }], ttl_seconds: 600 });
  await db.query("update public.reservations set expires_at = now() - interval '1 second' where id = $1", [
    expiring.id,
  ]);
  const expired = await db.query<{ n: number }>("select private.expire_reservations() as n");
  expect(expired.rows[0]?.n).toBe(1);

  // Backorders: a hold beyond on_hand takes available below zero, and releasing brings it back.
  await call("PATCH", "/v1/inventory/levels", 200, { as: "manager", body: { ...at, allow_backorder: true } });
  const oversold = await reserve({ items: [{ sku, quantity: 7 }] }); // 5 on hand -> available -2
  await call("POST", `/v1/inventory/reservations/${oversold.id}/release`, 200, { as: "staff" });

  // Orders: placed and paid, shipped with tracking; another cancelled when its payment window elapsed.
  const sold = uniqueSku("EVO");
  const listing = await call("POST", "/v1/products", 201, {
    as: "staff",
    body: productInput({ variants: [{ sku: sold, price_amount: 1500, currency: "EUR" }] }),
  });
  await call("POST", `/v1/products/${listing.id}/publish`, 200, { as: "manager", body: {} });
  await call("POST", "/v1/inventory/adjust", 201, {
    as: "staff",
    body: { sku: sold, location_code: "main", delta: 5, kind: "receipt" },
  });
  const placeOrder = () =>
    call("POST", "/v1/orders", 201, {
      as: "staff",
      body: { items: [{ sku: sold, quantity: 1 }], customer: { email: "events@example.com" } },
    });
  const shipped = await placeOrder();
  await call("POST", `/v1/orders/${shipped.id}/status`, 200, { as: "staff", body: { status: "paid" } });
  await call("POST", `/v1/orders/${shipped.id}/status`, 200, {
    as: "staff",
    body: { status: "shipped", tracking_number: "EV-1", carrier: "DHL" },
  });
  const lapsed = await placeOrder();
  await db.query("update public.reservations set expires_at = now() - interval '1 second' where id = $1", [
    lapsed.reservation_id,
  ]);
  await db.query("select private.expire_reservations()");

  // Webhooks: a test ping (no dispatcher runs, so nothing is sent).
  const endpoint = await call("POST", "/v1/webhooks/endpoints", 201, {
    as: "admin",
    body: { url: "http://127.0.0.1:9/catalogue", topics: ["nothing.here"] },
  });
  await call("POST", `/v1/webhooks/endpoints/${endpoint.id}/test`, 202, { as: "admin" });
  await call("DELETE", `/v1/webhooks/endpoints/${endpoint.id}`, 204, { as: "admin" });

  return { product, scheduled, sku, released, committed, expiring, shipped, lapsed };
}
