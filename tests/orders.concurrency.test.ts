import { describe, expect, it } from "vitest";
import { createTestApp, tally } from "./helpers/app.ts";
import { onPostgres, useTestDatabase } from "./helpers/db.ts";
import { ledgerMismatches, level } from "./helpers/inventory.ts";
import { customer, elapsePaymentWindow, stocked as stockedAt } from "./helpers/orders.ts";

// Many connections racing for the same orders and stock: real PostgreSQL only.
const ctx = useTestDatabase({ poolMax: 25 });

const stocked = (prefix: string, quantity: number) => stockedAt(ctx.db, prefix, quantity);

async function statusEvents(orderIds: string[]) {
  const { rows } = await ctx.db.query<{ id: string; n: number }>(
    `select payload ->> 'id' as id, count(*)::int as n from private.events
     where topic = 'order.status_changed' and payload ->> 'id' = any($1) group by 1`,
    [orderIds],
  );
  return Object.fromEntries(rows.map((row) => [row.id, row.n]));
}

describe.skipIf(!onPostgres)("orders under concurrency on postgres", () => {
  it("200 concurrent orders for 50 units: exactly 50 are placed, the rest hold and write nothing", async () => {
    const app = createTestApp(ctx.db);
    const sku = await stocked("ORD-HOT", 50);
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        app.request("POST", "/v1/orders", { as: "staff", body: { items: [{ sku, quantity: 1 }], customer } }),
      ),
    );
    expect(tally(responses)).toEqual({ 201: 50, 409: 150 });
    const { rows } = await ctx.db.query<{ orders: number; numbers: number }>(
      `select count(*)::int as orders, count(distinct o.number)::int as numbers from public.orders o
       join public.order_lines l on l.order_id = o.id where l.sku = $1`,
      [sku],
    );
    expect(rows[0]).toEqual({ orders: 50, numbers: 50 });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 50, reserved: 50, available: 0 });
  });

  it("150 concurrent two-line orders, one line scarce: all or nothing, in either line order, no deadlock", async () => {
    const app = createTestApp(ctx.db);
    const scarce = await stocked("ORD-SCARCE", 40);
    const plenty = await stocked("ORD-PLENTY", 1000);
    const responses = await Promise.all(
      Array.from({ length: 150 }, (_, i) => {
        const lines = [
          { sku: scarce, quantity: 1 },
          { sku: plenty, quantity: 2 },
        ];
        // Half list the plentiful line first: the levels are still locked in one global order.
        return app.request("POST", "/v1/orders", {
          as: "staff",
          body: { items: i % 2 ? lines.reverse() : lines, customer },
        });
      }),
    );
    expect(tally(responses)).toEqual({ 201: 40, 409: 110 });
    const placed = responses.filter((response) => response.status === 201).map((response) => response.json.id);
    const { rows } = await ctx.db.query<{ orders: number; lines: number; history: number; created: number }>(
      `select (select count(*)::int from public.orders o where o.id = any($1::uuid[])) as orders,
              (select count(*)::int from public.order_lines l where l.sku in ($2, $3)) as lines,
              (select count(*)::int from public.order_status_history h where h.order_id = any($1::uuid[])) as history,
              (select count(*)::int from private.events e
               where e.topic = 'order.created' and e.payload -> 'lines' @> jsonb_build_array(jsonb_build_object('sku', $2::text))) as created`,
      [placed, scarce, plenty],
    );
    expect(rows[0]).toEqual({ orders: 40, lines: 80, history: 40, created: 40 });
    expect(await level(ctx.db, scarce, "main")).toEqual({ on_hand: 40, reserved: 40, available: 0 });
    expect(await level(ctx.db, plenty, "main")).toEqual({ on_hand: 1000, reserved: 80, available: 920 });
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("payment and cancellation racing on the same orders: each order ends one way, stock matches exactly", async () => {
    const app = createTestApp(ctx.db);
    const sku = await stocked("ORD-RACE", 40);
    const orders: { id: string }[] = [];
    for (let i = 0; i < 20; i++) {
      orders.push(
        (await app.request("POST", "/v1/orders", { as: "staff", body: { items: [{ sku, quantity: 2 }], customer } }))
          .json,
      );
    }
    const responses = await Promise.all(
      orders.flatMap((order) => [
        app.request("POST", `/v1/orders/${order.id}/status`, { as: "staff", body: { status: "paid" } }),
        app.request("POST", `/v1/orders/${order.id}/status`, { as: "staff", body: { status: "cancelled" } }),
        app.request("POST", `/v1/orders/${order.id}/status`, { as: "staff", body: { status: "paid" } }),
      ]),
    );
    // Per order, exactly one side wins. Paid first: both payments answer 200 (the second finds it
    // paid) and the staff cancellation 403 (a paid order needs a manager). Cancelled first: both
    // payments answer 409.
    const finals = await ctx.db.query<{ id: string; status: string }>(
      "select id, status from public.orders where id = any($1)",
      [orders.map((order) => order.id)],
    );
    const finalOf = new Map(finals.rows.map((row) => [row.id, row.status]));
    orders.forEach((order, i) => {
      const [pay, cancel, payAgain] = responses.slice(3 * i, 3 * i + 3).map((response) => response.status);
      if (finalOf.get(order.id) === "paid") expect([pay, cancel, payAgain]).toEqual([200, 403, 200]);
      else expect([finalOf.get(order.id), pay, cancel, payAgain]).toEqual(["cancelled", 409, 200, 409]);
    });
    const { rows } = await ctx.db.query<{ status: string; n: number }>(
      "select status, count(*)::int as n from public.orders where id = any($1) group by status",
      [orders.map((order) => order.id)],
    );
    const byStatus = Object.fromEntries(rows.map((row) => [row.status, row.n]));
    const paid = byStatus.paid ?? 0;
    expect(paid + (byStatus.cancelled ?? 0)).toBe(20);
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 40, reserved: 2 * paid, available: 40 - 2 * paid });
    const events = await statusEvents(orders.map((order) => order.id));
    expect(Object.values(events)).toEqual(Array(20).fill(1));
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("the expiry job racing with cancellations never deadlocks and cancels each overdue order once", async () => {
    const app = createTestApp(ctx.db);
    const sku = await stocked("ORD-EXP", 30);
    const orders: { id: string }[] = [];
    for (let i = 0; i < 30; i++) {
      orders.push(
        (await app.request("POST", "/v1/orders", { as: "staff", body: { items: [{ sku, quantity: 1 }], customer } }))
          .json,
      );
    }
    for (const order of orders) await elapsePaymentWindow(ctx.db, order.id);
    const jobs = Array.from({ length: 4 }, () =>
      ctx.db
        .query<{ n: number }>("select private.expire_reservations(5) as n")
        .then((result) => result.rows[0]?.n ?? 0),
    );
    const cancels = orders.map((order) =>
      app.request("POST", `/v1/orders/${order.id}/status`, { as: "staff", body: { status: "cancelled" } }),
    );
    const [expired, responses] = await Promise.all([Promise.all(jobs), Promise.all(cancels)]);
    expect(tally(responses)).toEqual({ 200: 30 });
    // Each order was cancelled once, by the job (its hold expired) or by the API (its hold released).
    const { rows } = await ctx.db.query<{ source: string; n: number }>(
      `select source, count(*)::int as n from public.order_status_history
       where order_id = any($1) and to_status = 'cancelled' group by source`,
      [orders.map((order) => order.id)],
    );
    const bySource = Object.fromEntries(rows.map((row) => [row.source, row.n]));
    expect(bySource.reservation ?? 0).toBe(expired.reduce((sum, n) => sum + n, 0));
    expect((bySource.reservation ?? 0) + (bySource.api ?? 0)).toBe(30);
    const events = await statusEvents(orders.map((order) => order.id));
    expect(Object.values(events)).toEqual(Array(30).fill(1));
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 30, reserved: 0, available: 30 });
  });

  it("paid orders: shipping, a manager's cancellation and the inventory API racing never deadlock or disagree", async () => {
    const app = createTestApp(ctx.db);
    const sku = await stocked("ORD-SHIP", 60);
    const orders: { id: string; reservation_id: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const placed = await app.request("POST", "/v1/orders", {
        as: "staff",
        body: { items: [{ sku, quantity: 3 }], customer },
      });
      orders.push(placed.json);
      await app.request("POST", `/v1/orders/${placed.json.id}/status`, { as: "staff", body: { status: "paid" } });
    }
    const responses = await Promise.all(
      orders.flatMap((order) => [
        app.request("POST", `/v1/orders/${order.id}/status`, { as: "staff", body: { status: "shipped" } }),
        app.request("POST", `/v1/orders/${order.id}/status`, { as: "manager", body: { status: "cancelled" } }),
        app.request("POST", `/v1/inventory/reservations/${order.reservation_id}/release`, { as: "staff" }),
        app.request("POST", `/v1/inventory/reservations/${order.reservation_id}/commit`, { as: "staff" }),
      ]),
    );
    const finals = await ctx.db.query<{ id: string; status: string; reservation: string }>(
      `select o.id, o.status, r.status as reservation from public.orders o
       join public.reservations r on r.id = o.reservation_id where o.id = any($1)`,
      [orders.map((order) => order.id)],
    );
    const finalOf = new Map(finals.rows.map((row) => [row.id, row]));
    let shipped = 0;
    orders.forEach((order, i) => {
      const [ship, cancel, release, commit] = responses.slice(4 * i, 4 * i + 4).map((response) => response.status);
      const final = finalOf.get(order.id);
      // The inventory API never closes an order's hold on its own, whichever order things happen in:
      // it is refused, or (once the order has closed the hold that way itself) a no-op.
      expect(final?.reservation === "released" ? [200, 409] : [409]).toContain(release);
      expect(final?.reservation === "committed" ? [200, 409] : [409]).toContain(commit);
      if (final?.status === "shipped") {
        shipped++;
        expect([ship, cancel, final.reservation]).toEqual([200, 409, "committed"]);
      } else {
        expect([final?.status, ship, cancel, final?.reservation]).toEqual(["cancelled", 409, 200, "released"]);
      }
    });
    expect(await level(ctx.db, sku, "main")).toEqual({
      on_hand: 60 - 3 * shipped,
      reserved: 0,
      available: 60 - 3 * shipped,
    });
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("20 concurrent repeats of one Idempotency-Key place one order", async () => {
    const app = createTestApp(ctx.db);
    const sku = await stocked("ORD-KEY", 10);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        app.request("POST", "/v1/orders", {
          as: "staff",
          headers: { "idempotency-key": `key-${sku}` },
          body: { items: [{ sku, quantity: 3 }], customer },
        }),
      ),
    );
    expect(tally(responses)).toEqual({ 201: 20 });
    expect(new Set(responses.map((response) => response.json.id)).size).toBe(1);
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 10, reserved: 3, available: 7 });
  });
});
