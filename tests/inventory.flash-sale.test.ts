import { describe, expect, it } from "vitest";
import { createTestApp, type TestResponse, tally } from "./helpers/app.ts";
import { onPostgres, useTestDatabase } from "./helpers/db.ts";
import {
  createLocation,
  createVariants,
  eventsFor,
  ledgerMismatches,
  level,
  receive,
  uniqueSku,
} from "./helpers/inventory.ts";

// A flash sale: many more clients than units on one sku, at real PostgreSQL.
const ctx = useTestDatabase({ poolMax: 25 });

const UNITS = 100;
const CLIENTS = 256;
const ATTEMPTS = 1_000;

/** Another transaction holding a level's row lock until `release()`; `holder` settles after. */
async function holdLevelLock(sku: string): Promise<{ release: () => void; holder: Promise<void> }> {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked: () => void = () => {};
  const lockTaken = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const holder = ctx.db.transaction(async (tx) => {
    await tx.query(
      `select 1 from public.stock_levels sl join public.product_variants v on v.id = sl.variant_id
       join public.locations l on l.id = sl.location_id where v.sku = $1 and l.code = 'main' for update`,
      [sku],
    );
    locked();
    await held;
  });
  await lockTaken;
  return { release, holder };
}

describe.skipIf(!onPostgres)("a flash sale on postgres", () => {
  it(`${CLIENTS} concurrent clients, ${ATTEMPTS} attempts at ${UNITS} units: exactly ${UNITS} sold, books and events exact`, async () => {
    const app = createTestApp(ctx.db);
    const sku = uniqueSku("FLASH");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", UNITS);

    let issued = 0;
    const responses: TestResponse[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (issued < ATTEMPTS) {
          issued++;
          responses.push(
            await app.request("POST", "/v1/inventory/reservations", {
              as: "staff",
              body: { items: [{ sku, quantity: 1 }] },
            }),
          );
        }
      }),
    );

    expect(tally(responses)).toEqual({ 201: UNITS, 409: ATTEMPTS - UNITS });
    for (const refused of responses.filter((response) => response.status === 409)) {
      expect(refused.json.shortages).toEqual([{ sku, requested: 1, available: 0 }]);
    }
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: UNITS, reserved: UNITS, available: 0 });
    const { rows } = await ctx.db.query<{ reservations: number; units: number }>(
      `select count(distinct r.id)::int as reservations, coalesce(sum(i.quantity), 0)::int as units
       from public.reservations r join public.reservation_items i on i.reservation_id = r.id
       join public.product_variants v on v.id = i.variant_id where v.sku = $1`,
      [sku],
    );
    expect(rows[0]).toEqual({ reservations: UNITS, units: UNITS });
    expect(await ledgerMismatches(ctx.db)).toEqual([]);

    // What realtime subscribers and webhooks receive: one stock.changed per sale, counting down
    // from UNITS - 1 to 0 once each, every one a step of exactly one unit; one stock.out.
    const changed = (await eventsFor(ctx.db, "stock.changed", sku)).filter(
      (event) => (event.after as { reserved: number }).reserved > 0,
    ) as { before: { available: number }; after: { available: number } }[];
    expect(changed).toHaveLength(UNITS);
    for (const event of changed) expect(event.before.available - event.after.available).toBe(1);
    expect(changed.map((event) => event.after.available)).toEqual(
      Array.from({ length: UNITS }, (_, i) => UNITS - 1 - i),
    );
    expect(await eventsFor(ctx.db, "stock.out", sku)).toHaveLength(1);
  });

  it("once sold out, a request neither writes nor waits behind the level's row lock", async () => {
    const app = createTestApp(ctx.db);
    const sku = uniqueSku("SOLD");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 1);
    expect(
      (
        await app.request("POST", "/v1/inventory/reservations", {
          as: "staff",
          body: { items: [{ sku, quantity: 1 }] },
        })
      ).status,
    ).toBe(201);
    const count = async () =>
      (
        await ctx.db.query<{ reservations: number; events: number }>(
          `select (select count(*)::int from public.reservations) as reservations,
                  (select count(*)::int from private.events) as events`,
        )
      ).rows[0];
    const before = await count();

    // Another transaction holds the level's row lock (a release, a commit, a transfer in flight).
    const { release, holder } = await holdLevelLock(sku);
    try {
      const refused = await Promise.all(
        Array.from({ length: 20 }, () =>
          app.request("POST", "/v1/inventory/reservations", { as: "staff", body: { items: [{ sku, quantity: 1 }] } }),
        ),
      );
      // The lock is held until after this check: a request that queued for it could only have
      // answered 503 when its lock wait (5 s) ran out.
      expect(tally(refused)).toEqual({ 409: 20 });
    } finally {
      release();
      await holder;
    }
    expect(await count()).toEqual(before);
  });

  it("a request with several lines that the stock cannot meet answers 409 without waiting for the lock of a line it could meet", async () => {
    const app = createTestApp(ctx.db);
    const [open, gone] = [uniqueSku("OPEN"), uniqueSku("GONE")];
    await createVariants(ctx.db, [open, gone]);
    await receive(ctx.db, open, "main", 5);
    const { release, holder } = await holdLevelLock(open);
    try {
      // Before, the open line's level was locked (and waited for) before the gone line was seen:
      // the request answered 503 when its lock wait ran out.
      const refused = await app.request("POST", "/v1/inventory/reservations", {
        as: "staff",
        body: {
          items: [
            { sku: open, quantity: 1 },
            { sku: gone, quantity: 1 },
          ],
        },
      });
      expect(refused.status).toBe(409);
      expect(refused.json.shortages).toEqual([{ sku: gone, requested: 1, available: 0 }]);
    } finally {
      release();
      await holder;
    }
    expect(await level(ctx.db, open, "main")).toEqual({ on_hand: 5, reserved: 0, available: 5 });
  });

  it("a one-line request the online locations cannot meet answers what they have, and writes nothing", async () => {
    const app = createTestApp(ctx.db);
    await createLocation(ctx.db, "east", { priority: 20 });
    await createLocation(ctx.db, "kiosk", { priority: 5, online: false });
    const sku = uniqueSku("SHORT");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 2);
    await receive(ctx.db, sku, "east", 3);
    await receive(ctx.db, sku, "kiosk", 4); // not for online orders: never counted
    const reserve = (quantity: number) =>
      app.request("POST", "/v1/inventory/reservations", { as: "staff", body: { items: [{ sku, quantity }] } });

    const refused = await reserve(6);
    expect(refused.status).toBe(409);
    expect(refused.json.shortages).toEqual([{ sku, requested: 6, available: 5 }]);
    expect(await level(ctx.db, sku, "main")).toMatchObject({ reserved: 0 });
    expect(await level(ctx.db, sku, "east")).toMatchObject({ reserved: 0 });

    const held = await reserve(5);
    expect(held.status).toBe(201);
    expect(held.json.items.map((item: { quantity: number }) => item.quantity).sort()).toEqual([2, 3]);
    expect((await reserve(1)).json.shortages).toEqual([{ sku, requested: 1, available: 0 }]);
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });
});
