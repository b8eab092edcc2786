import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { createVariants, ledgerMismatches, level, receive, uniqueSku } from "./helpers/inventory.ts";
import { customer, elapsePaymentWindow, orderEvents, stocked as stockedAt } from "./helpers/orders.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const PROBLEM = "https://storekeep.dev/problems/";

const stocked = (prefix: string, quantity: number, options: { price?: number; currency?: string } = {}) =>
  stockedAt(ctx.db, prefix, quantity, options);

async function place(items: { sku: string; quantity: number }[], extra: Record<string, unknown> = {}) {
  return api().request("POST", "/v1/orders", { as: "staff", body: { items, customer, ...extra } });
}

async function setStatus(id: string, body: Record<string, unknown>, as: "staff" | "manager" | "viewer" = "staff") {
  return api().request("POST", `/v1/orders/${id}/status`, { as, body });
}

async function movementsFor(orderId: string) {
  const { rows } = await ctx.db.query<{ kind: string; quantity: number }>(
    "select kind, quantity from public.stock_movements where reference_type = 'order' and reference_id = $1 order by id",
    [orderId],
  );
  return rows;
}

describe(`placing orders on ${engine}`, () => {
  it("prices lines from the catalog, holds the stock and records order.created", async () => {
    const a = await stocked("ORD-A", 10, { price: 2500 });
    const b = await stocked("ORD-B", 5, { price: 999 });
    const placed = await place([
      { sku: a, quantity: 2 },
      { sku: b.toLowerCase(), quantity: 3 },
    ]);
    expect(placed.status).toBe(201);
    const order = placed.json;
    expect(order).toMatchObject({
      status: "pending",
      currency: "EUR",
      subtotal_amount: 2 * 2500 + 3 * 999,
      customer,
      version: 1,
      lines: [
        { line_no: 1, sku: a, quantity: 2, unit_price_amount: 2500, line_total_amount: 5000 },
        { line_no: 2, sku: b, quantity: 3, unit_price_amount: 999, line_total_amount: 2997 },
      ],
      history: [{ from: null, to: "pending", source: "api" }],
    });
    expect(order.number).toMatch(/^SK-\d{6,}$/);
    expect(placed.headers.get("etag")).toBe('"1"');
    expect(await level(ctx.db, a, "main")).toEqual({ on_hand: 10, reserved: 2, available: 8 });
    expect(await level(ctx.db, b, "main")).toEqual({ on_hand: 5, reserved: 3, available: 2 });

    const reservation = await api().request("GET", `/v1/inventory/reservations/${order.reservation_id}`, {
      as: "viewer",
    });
    expect(reservation.json).toMatchObject({ status: "active", reference: { type: "order", id: order.id } });
    expect(reservation.json.expires_at).toBe(order.payment_due_at);
    const created = await orderEvents(ctx.db, order.id, "order.created");
    expect(created).toEqual([
      expect.objectContaining({
        number: order.number,
        subtotal_amount: 7997,
        lines: [
          { sku: a, quantity: 2 },
          { sku: b, quantity: 3 },
        ],
      }),
    ]);
    const fetched = await api().request("GET", `/v1/orders/${order.id}`, { as: "viewer" });
    expect(fetched.status).toBe(200);
    expect(fetched.json).toEqual(order);
  });

  it("refuses the whole order, holding and writing nothing, when any line cannot be sold", async () => {
    const ok = await stocked("ORD-OK", 10);
    const usd = await stocked("ORD-USD", 10, { currency: "USD" });
    const draft = uniqueSku("ORD-DRAFT");
    await createVariants(ctx.db, [draft]);
    const short = await stocked("ORD-SHORT", 1);
    // Orders, holds for orders, and order.created events: a refused order adds to none of them.
    const count = async () =>
      (
        await ctx.db.query<{ orders: number; holds: number; events: number }>(
          `select (select count(*)::int from public.orders) as orders,
                  (select count(*)::int from public.reservations where reference_type = 'order') as holds,
                  (select count(*)::int from private.events where topic = 'order.created') as events`,
        )
      ).rows[0];
    const before = await count();

    const unknown = await place([
      { sku: ok, quantity: 1 },
      { sku: "NO-SUCH-SKU", quantity: 1 },
    ]);
    expect(unknown.status).toBe(422);
    expect(unknown.json.errors).toEqual([{ field: "body.items.1.sku", message: "no live variant has this sku" }]);

    const mixed = await place([
      { sku: ok, quantity: 1 },
      { sku: usd, quantity: 1 },
      { sku: draft, quantity: 1 },
    ]);
    expect(mixed.status).toBe(422);
    expect(mixed.json.errors).toEqual([
      { field: "body.items.1.sku", message: "priced in USD, the order is in EUR" },
      { field: "body.items.2.sku", message: "the product is not published" },
    ]);

    const shortage = await place([
      { sku: ok, quantity: 2 },
      { sku: short, quantity: 2 },
    ]);
    expect(shortage.status).toBe(409);
    expect(shortage.json.type).toBe(`${PROBLEM}insufficient-stock`);
    expect(shortage.json.shortages).toEqual([{ sku: short, requested: 2, available: 1 }]);

    const invalid = await api().request("POST", "/v1/orders", {
      as: "staff",
      body: { items: [{ sku: ok, quantity: 0 }], customer: { email: "not-an-email" } },
    });
    expect(invalid.status).toBe(422);
    expect(invalid.json.errors.map((error: { field: string }) => error.field).sort()).toEqual([
      "body.customer.email",
      "body.items.0.quantity",
    ]);

    const badAddress = await place([{ sku: ok, quantity: 1 }], {
      shipping_address: { line1: "Main St 1", city: "Berlin", country: "Germany" },
    });
    expect(badAddress.status).toBe(422);
    expect(badAddress.json.errors).toEqual([
      { field: "body.shipping_address.country", message: "an ISO 3166-1 alpha-2 code" },
    ]);
    const nul = await place([{ sku: ok, quantity: 1 }], { note: "a\u0000b" });
    expect(nul.status).toBe(422);

    expect(await count()).toEqual(before);
    expect(await level(ctx.db, ok, "main")).toEqual({ on_hand: 10, reserved: 0, available: 10 });
    expect(await level(ctx.db, short, "main")).toEqual({ on_hand: 1, reserved: 0, available: 1 });
  });

  it("a repeated Idempotency-Key answers the first order and places nothing more", async () => {
    const sku = await stocked("ORD-IDEM", 10);
    const send = () =>
      api().request("POST", "/v1/orders", {
        as: "staff",
        headers: { "idempotency-key": `order-${sku}` },
        body: { items: [{ sku, quantity: 4 }], customer },
      });
    const first = await send();
    const second = await send();
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.json.id).toBe(first.json.id);
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 10, reserved: 4, available: 6 });
  });

  it("viewers read but cannot place or move orders", async () => {
    const sku = await stocked("ORD-VIEW", 3);
    const refused = await api().request("POST", "/v1/orders", {
      as: "viewer",
      body: { items: [{ sku, quantity: 1 }], customer },
    });
    expect(refused.status).toBe(403);
    const order = (await place([{ sku, quantity: 1 }])).json;
    const read = await api().request("GET", `/v1/orders/${order.id}`, { as: "viewer" });
    expect(read.status).toBe(200);
    expect(read.json).toEqual(order);
    expect((await setStatus(order.id, { status: "paid" }, "viewer")).status).toBe(403);
    expect((await api().request("GET", `/v1/orders/${crypto.randomUUID()}`, { as: "viewer" })).status).toBe(404);
  });
});

describe(`order transitions on ${engine}`, () => {
  it("pending → paid → shipped → delivered: the hold outlives payment, shipping sells it, each step recorded once", async () => {
    const sku = await stocked("ORD-FLOW", 10);
    const order = (await place([{ sku, quantity: 3 }])).json;

    const paid = await setStatus(order.id, { status: "paid", payment_reference: `pi_${sku}` });
    expect(paid.status).toBe(200);
    expect(paid.json).toMatchObject({ status: "paid", version: 2, payment_reference: `pi_${sku}` });
    expect(paid.json.paid_at).not.toBeNull();
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 10, reserved: 3, available: 7 });
    const hold = await api().request("GET", `/v1/inventory/reservations/${order.reservation_id}`, { as: "viewer" });
    expect(hold.json).toMatchObject({ status: "active", expires_at: null });
    // Paid holds never expire.
    await ctx.db.query("select private.expire_reservations()");
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 10, reserved: 3, available: 7 });

    expect((await setStatus(order.id, { status: "paid" })).json.version).toBe(2);
    const repaid = await setStatus(order.id, { status: "paid", payment_reference: "pi_other" });
    expect(repaid.status).toBe(409);
    expect(repaid.json.current).toMatchObject({ payment_reference: `pi_${sku}` });

    const early = await setStatus(order.id, { status: "delivered" });
    expect(early.status).toBe(409);
    expect(early.json).toMatchObject({
      type: `${PROBLEM}conflict`,
      status: 409,
      order_status: "paid",
      requested: "delivered",
    });

    const shipped = await api().request("POST", `/v1/orders/${order.id}/status`, {
      as: "staff",
      headers: { "if-match": '"2"' },
      body: { status: "shipped", tracking_number: "1Z999", carrier: "UPS" },
    });
    expect(shipped.status).toBe(200);
    expect(shipped.json).toMatchObject({ status: "shipped", tracking_number: "1Z999", carrier: "UPS", version: 3 });
    expect(shipped.headers.get("etag")).toBe('"3"');
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 7, reserved: 0, available: 7 });
    expect(await movementsFor(order.id)).toEqual([{ kind: "sale", quantity: -3 }]);

    const sameTracking = await setStatus(order.id, { status: "shipped", tracking_number: "1Z999" });
    expect(sameTracking.json.version).toBe(3);
    const otherTracking = await setStatus(order.id, { status: "shipped", tracking_number: "1Z000" });
    expect(otherTracking.status).toBe(409);

    const stale = await api().request("POST", `/v1/orders/${order.id}/status`, {
      as: "staff",
      headers: { "if-match": '"2"' },
      body: { status: "delivered" },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.type).toBe(`${PROBLEM}version-conflict`);
    expect(stale.json.current).toMatchObject({ status: "shipped", version: 3 });

    const delivered = await setStatus(order.id, { status: "delivered", version: 3 });
    expect(delivered.json).toMatchObject({ status: "delivered", version: 4, tracking_number: "1Z999" });
    expect((await setStatus(order.id, { status: "cancelled" }, "manager")).status).toBe(409);

    expect(delivered.json.history.map((step: { from: string; to: string }) => `${step.from}>${step.to}`)).toEqual([
      "null>pending",
      "pending>paid",
      "paid>shipped",
      "shipped>delivered",
    ]);
    const events = await orderEvents(ctx.db, order.id);
    expect(events.map((event) => `${event.from}>${event.to}`)).toEqual([
      "pending>paid",
      "paid>shipped",
      "shipped>delivered",
    ]);
    expect(events[1]).toMatchObject({ source: "api", tracking_number: "1Z999", carrier: "UPS", version: 3 });
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("a return (manager and up) brings the sold units back to where they left from", async () => {
    const sku = await stocked("ORD-RET", 5);
    const refused = (await place([{ sku, quantity: 2 }])).json;
    const delivered = (await place([{ sku, quantity: 3 }])).json;
    for (const order of [refused, delivered]) {
      await setStatus(order.id, { status: "paid" });
      await setStatus(order.id, { status: "shipped" });
    }
    await setStatus(delivered.id, { status: "delivered" });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 0, reserved: 0, available: 0 });

    expect((await setStatus(delivered.id, { status: "returned" })).status).toBe(403);
    const returned = await setStatus(delivered.id, { status: "returned", reason: "wrong size" }, "manager");
    expect(returned.status).toBe(200);
    expect(returned.json).toMatchObject({ status: "returned", version: 5 });
    expect(returned.json.returned_at).not.toBeNull();
    expect(returned.json.delivered_at).not.toBeNull();
    // Refused at the door: returned straight from shipped.
    expect((await setStatus(refused.id, { status: "returned" }, "manager")).json.status).toBe("returned");
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 5, reserved: 0, available: 5 });
    expect(await movementsFor(delivered.id)).toEqual([
      { kind: "sale", quantity: -3 },
      { kind: "return", quantity: 3 },
    ]);

    // Returned is final; asking again changes nothing.
    expect((await setStatus(delivered.id, { status: "returned" }, "manager")).json.version).toBe(5);
    expect((await setStatus(delivered.id, { status: "delivered" }, "manager")).status).toBe(409);
    expect(await movementsFor(delivered.id)).toHaveLength(2);
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
    // A pending or paid order is cancelled, not returned.
    const pending = (await place([{ sku, quantity: 1 }])).json;
    expect((await setStatus(pending.id, { status: "returned" }, "manager")).status).toBe(409);
  });

  it("details go only with their status, and one payment reference pays one order", async () => {
    const sku = await stocked("ORD-DETAIL", 4);
    const first = (await place([{ sku, quantity: 1 }])).json;
    const second = (await place([{ sku, quantity: 1 }])).json;
    const misplaced = await setStatus(first.id, { status: "paid", tracking_number: "1Z1", carrier: "UPS" });
    expect(misplaced.status).toBe(422);
    expect(misplaced.json.errors.map((error: { field: string }) => error.field).sort()).toEqual([
      "body.carrier",
      "body.tracking_number",
    ]);
    expect((await setStatus(first.id, { status: "cancelled", payment_reference: "pi_x" })).status).toBe(422);
    expect((await setStatus(first.id, { status: "paid", payment_reference: `pi_${sku}` })).status).toBe(200);
    const reused = await setStatus(second.id, { status: "paid", payment_reference: `pi_${sku}` });
    expect(reused.status).toBe(409);
    expect((await api().request("GET", `/v1/orders/${second.id}`, { as: "viewer" })).json.status).toBe("pending");
  });

  it("pending → shipped is refused and changes nothing", async () => {
    const sku = await stocked("ORD-SKIP", 2);
    const order = (await place([{ sku, quantity: 1 }])).json;
    const refused = await setStatus(order.id, { status: "shipped" });
    expect(refused.status).toBe(409);
    expect((await api().request("GET", `/v1/orders/${order.id}`, { as: "viewer" })).json).toEqual(order);
    expect(await orderEvents(ctx.db, order.id)).toEqual([]);
  });

  it("cancelling a pending order releases its stock", async () => {
    const sku = await stocked("ORD-CXL", 5);
    const order = (await place([{ sku, quantity: 5 }])).json;
    expect(await level(ctx.db, sku, "main")).toMatchObject({ available: 0 });
    const cancelled = await setStatus(order.id, { status: "cancelled", reason: "customer changed their mind" });
    expect(cancelled.json).toMatchObject({ status: "cancelled", cancel_reason: "customer changed their mind" });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 5, reserved: 0, available: 5 });
    expect(await movementsFor(order.id)).toEqual([]);
    const reservation = await api().request("GET", `/v1/inventory/reservations/${order.reservation_id}`, {
      as: "viewer",
    });
    expect(reservation.json.status).toBe("released");
    expect((await setStatus(order.id, { status: "paid" })).status).toBe(409);
  });

  it("cancelling a paid order needs a manager and releases its hold", async () => {
    const sku = await stocked("ORD-REFUND", 6);
    const order = (await place([{ sku, quantity: 4 }])).json;
    await setStatus(order.id, { status: "paid" });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 6, reserved: 4, available: 2 });

    const byStaff = await setStatus(order.id, { status: "cancelled" });
    expect(byStaff.status).toBe(403);
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 6, reserved: 4, available: 2 });

    const byManager = await setStatus(order.id, { status: "cancelled", reason: "fraud check failed" }, "manager");
    expect(byManager.status).toBe(200);
    expect(byManager.json).toMatchObject({ status: "cancelled", cancel_reason: "fraud check failed" });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 6, reserved: 0, available: 6 });
    expect(await movementsFor(order.id)).toEqual([]);
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("a backordered order is paid at once and ships when its stock has arrived", async () => {
    const sku = await stocked("ORD-BACK", 1);
    await ctx.db.query(
      `update public.stock_levels set allow_backorder = true
       where variant_id = (select id from public.product_variants where sku = $1)`,
      [sku],
    );
    const order = (await place([{ sku, quantity: 3 }])).json;
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 1, reserved: 3, available: -2 });
    expect((await setStatus(order.id, { status: "paid" })).status).toBe(200);

    const tooSoon = await setStatus(order.id, { status: "shipped" });
    expect(tooSoon.status).toBe(409);
    expect(tooSoon.json.type).toBe(`${PROBLEM}insufficient-stock`);
    expect((await api().request("GET", `/v1/orders/${order.id}`, { as: "viewer" })).json.status).toBe("paid");

    await receive(ctx.db, sku, "main", 5);
    expect((await setStatus(order.id, { status: "shipped" })).status).toBe(200);
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 3, reserved: 0, available: 3 });
  });

  it("an unpaid order is cancelled when its payment window elapses, and can no longer be paid", async () => {
    const sku = await stocked("ORD-LATE", 4);
    const order = (await place([{ sku, quantity: 4 }], { payment_ttl_seconds: 60 })).json;
    expect(Date.parse(order.payment_due_at) - Date.parse(order.created_at)).toBeGreaterThanOrEqual(59_000);
    await elapsePaymentWindow(ctx.db, order.id);

    const late = await setStatus(order.id, { status: "paid" });
    expect(late.status).toBe(409);
    expect(late.json.detail).toMatch(/payment window/);

    await ctx.db.query("select private.expire_reservations()");
    const after = (await api().request("GET", `/v1/orders/${order.id}`, { as: "viewer" })).json;
    expect(after).toMatchObject({ status: "cancelled", cancel_reason: "the payment window elapsed" });
    expect(after.history.at(-1)).toMatchObject({ from: "pending", to: "cancelled", source: "reservation" });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 4, reserved: 0, available: 4 });
    expect(await orderEvents(ctx.db, order.id)).toEqual([
      expect.objectContaining({ from: "pending", to: "cancelled", source: "reservation" }),
    ]);
  });

  it("the inventory API cannot release or commit an order's hold behind the order's back", async () => {
    const sku = await stocked("ORD-OWN", 4);
    const pending = (await place([{ sku, quantity: 1 }])).json;
    const paid = (await place([{ sku, quantity: 2 }])).json;
    await setStatus(paid.id, { status: "paid" });
    for (const [order, action] of [
      [pending, "release"],
      [pending, "commit"],
      [paid, "release"],
      [paid, "commit"],
    ] as const) {
      const refused = await api().request("POST", `/v1/inventory/reservations/${order.reservation_id}/${action}`, {
        as: "staff",
      });
      expect({ action, status: refused.status }).toEqual({ action, status: 409 });
      expect(refused.json.detail).toMatch(new RegExp(`order ${order.number}`));
    }
    const get = async (id: string) => (await api().request("GET", `/v1/orders/${id}`, { as: "viewer" })).json;
    expect(await get(pending.id)).toMatchObject({ status: "pending", version: 1 });
    expect(await get(paid.id)).toMatchObject({ status: "paid", version: 2 });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 4, reserved: 3, available: 1 });
    const forged = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 1 }], reference: { type: "order", id: pending.id } },
    });
    expect(forged.status).toBe(422);
  });
});

describe(`listing orders on ${engine}`, () => {
  it("pages newest first and filters by status", async () => {
    const sku = await stocked("ORD-LIST", 20);
    const placed: string[] = [];
    for (let i = 0; i < 5; i++) placed.push((await place([{ sku, quantity: 1 }])).json.id);
    const [, second, , fourth] = placed as [string, string, string, string, string];
    await setStatus(second, { status: "paid" });
    await setStatus(fourth, { status: "paid" });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/orders?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await api().request("GET", query, { as: "viewer" });
      expect(page.status).toBe(200);
      expect(page.json.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.data.map((order: { id: string }) => order.id));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen.filter((id) => placed.includes(id))).toEqual([...placed].reverse());
    expect(new Set(seen).size).toBe(seen.length);

    const paid = await api().request("GET", "/v1/orders?status=paid&limit=500", { as: "viewer" });
    const paidIds = paid.json.data.map((order: { id: string }) => order.id);
    expect(paidIds).toEqual(expect.arrayContaining([fourth, second]));
    expect(paid.json.data.every((order: { status: string }) => order.status === "paid")).toBe(true);

    const vip = (await place([{ sku, quantity: 1 }], { customer: { email: "VIP@Example.com" } })).json.id;
    const byCustomer = await api().request("GET", "/v1/orders?customer_email=vip@example.com", { as: "viewer" });
    expect(byCustomer.json.data.map((order: { id: string }) => order.id)).toEqual([vip]);

    const forged = await api().request("GET", "/v1/orders?cursor=bm9wZQ", { as: "viewer" });
    expect(forged.status).toBe(422);
  });
});
