import { describe, expect, it } from "vitest";
import { createTestApp, type TestResponse, tally } from "./helpers/app.ts";
import { onPostgres, useTestDatabase } from "./helpers/db.ts";
import { createLocation, createVariants, ledgerMismatches, level, receive, uniqueSku } from "./helpers/inventory.ts";

// Many connections racing for the same rows: real PostgreSQL only (PGlite has one connection).
const ctx = useTestDatabase({ poolMax: 25 });

async function activeHeld(sku: string): Promise<number> {
  const { rows } = await ctx.db.query<{ n: number }>(
    `select coalesce(sum(i.quantity), 0)::int as n from public.reservation_items i
     join public.reservations r on r.id = i.reservation_id join public.product_variants v on v.id = i.variant_id
     where v.sku = $1 and r.status = 'active'`,
    [sku],
  );
  return rows[0]?.n ?? -1;
}

describe.skipIf(!onPostgres)("reservations under concurrency on postgres", () => {
  it("300 concurrent 1-unit reservations of 100 units: exactly 100 succeed, 200 get 409", async () => {
    const app = createTestApp(ctx.db);
    const sku = uniqueSku("HOT");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 100);

    const responses = await Promise.all(
      Array.from({ length: 300 }, () =>
        app.request("POST", "/v1/inventory/reservations", { as: "staff", body: { items: [{ sku, quantity: 1 }] } }),
      ),
    );
    expect(tally(responses)).toEqual({ 201: 100, 409: 200 });
    for (const refused of responses.filter((response) => response.status === 409)) {
      expect(refused.json.type).toBe("https://storekeep.dev/problems/insufficient-stock");
      expect(refused.json.shortages).toEqual([{ sku, requested: 1, available: 0 }]);
    }
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 100, reserved: 100, available: 0 });
    expect(await activeHeld(sku)).toBe(100);
    const verify = await app.request("POST", "/v1/inventory/verify", { as: "staff" });
    expect(verify.json.mismatches).toEqual([]);
  });

  it("multi-line reservations across two skus and two locations never hold part of a request", async () => {
    const app = createTestApp(ctx.db);
    await createLocation(ctx.db, "east", { priority: 30 });
    const [a, b] = [uniqueSku("MLA"), uniqueSku("MLB")];
    await createVariants(ctx.db, [a, b]);
    await receive(ctx.db, a, "main", 25);
    await receive(ctx.db, a, "east", 15); // a: 40 in all
    await receive(ctx.db, b, "main", 30);
    await receive(ctx.db, b, "east", 40); // b: 70 in all

    // Half the requests ask for a then b, half b then a, some name the location for b.
    const requests = Array.from({ length: 200 }, (_, i) => {
      const items =
        i % 2 === 0
          ? [
              { sku: a, quantity: 1 },
              { sku: b, quantity: 1 },
            ]
          : [
              { sku: b, quantity: 1, ...(i % 4 === 1 ? { location_code: "east" } : {}) },
              { sku: a, quantity: 1 },
            ];
      return app.request("POST", "/v1/inventory/reservations", { as: "staff", body: { items } });
    });
    const responses = await Promise.all(requests);
    expect(tally(responses)).toEqual({ 201: 40, 409: 160 });
    for (const created of responses.filter((response) => response.status === 201)) {
      const skus = created.json.items.map((item: { sku: string }) => item.sku).sort();
      expect(skus).toEqual([a, b].sort());
    }
    const aMain = await level(ctx.db, a, "main");
    const aEast = await level(ctx.db, a, "east");
    const bMain = await level(ctx.db, b, "main");
    const bEast = await level(ctx.db, b, "east");
    expect((aMain?.reserved ?? 0) + (aEast?.reserved ?? 0)).toBe(40);
    expect((bMain?.reserved ?? 0) + (bEast?.reserved ?? 0)).toBe(40);
    expect(aMain?.available).toBe(0);
    expect(aEast?.available).toBe(0);
    expect(await activeHeld(a)).toBe(40);
    expect(await activeHeld(b)).toBe(40);
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("adjustments and transfers racing reservations keep every level whole and the books balanced", async () => {
    const app = createTestApp(ctx.db);
    await createLocation(ctx.db, "west", { priority: 40 });
    const sku = uniqueSku("RACE");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 100);

    const work: Promise<TestResponse & { op: string }>[] = [];
    const tag = (op: string, promise: Promise<TestResponse>) => promise.then((response) => ({ ...response, op }));
    for (let i = 0; i < 150; i++) {
      work.push(
        tag(
          "reserve",
          app.request("POST", "/v1/inventory/reservations", {
            as: "staff",
            body: { items: [{ sku, quantity: 1 + (i % 2) }] },
          }),
        ),
      );
      if (i % 5 === 0) {
        work.push(
          tag(
            "transfer",
            app.request("POST", "/v1/inventory/transfers", {
              as: "staff",
              body: { sku, from_location_code: "main", to_location_code: "west", quantity: 3 },
            }),
          ),
        );
        work.push(
          tag(
            "transfer",
            app.request("POST", "/v1/inventory/transfers", {
              as: "staff",
              body: { sku, from_location_code: "west", to_location_code: "main", quantity: 1 },
            }),
          ),
        );
      }
      if (i % 3 === 0) {
        const receipt = i % 2 === 0;
        work.push(
          tag(
            receipt ? "receipt" : "damage",
            app.request("POST", "/v1/inventory/adjust", {
              as: "staff",
              body: { sku, location_code: "main", delta: receipt ? 2 : -2, kind: receipt ? "receipt" : "damage" },
            }),
          ),
        );
      }
    }
    const responses = await Promise.all(work);
    for (const response of responses) expect([201, 409]).toContain(response.status);
    const ok = (op: string) => responses.filter((response) => response.op === op && response.status === 201);
    expect(ok("reserve").length).toBeGreaterThan(0);
    expect(responses.some((response) => response.status === 409)).toBe(true);

    const main = await level(ctx.db, sku, "main");
    const west = await level(ctx.db, sku, "west");
    for (const each of [main, west]) {
      expect(each?.available).toBeGreaterThanOrEqual(0);
    }
    const reservedUnits = ok("reserve").reduce(
      (sum, response) =>
        sum + response.json.items.reduce((total: number, item: { quantity: number }) => total + item.quantity, 0),
      0,
    );
    expect((main?.reserved ?? 0) + (west?.reserved ?? 0)).toBe(reservedUnits);
    expect((main?.on_hand ?? 0) + (west?.on_hand ?? 0)).toBe(100 + 2 * ok("receipt").length - 2 * ok("damage").length);
    expect(await activeHeld(sku)).toBe(reservedUnits);
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("20 concurrent transfers with one idempotency key move stock once", async () => {
    const app = createTestApp(ctx.db);
    await createLocation(ctx.db, "west", { priority: 40 });
    const sku = uniqueSku("XRACE");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 50);
    const body = {
      sku,
      from_location_code: "main",
      to_location_code: "west",
      quantity: 5,
      idempotency_key: `race-${sku}`,
    };
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => app.request("POST", "/v1/inventory/transfers", { as: "staff", body })),
    );
    expect(tally(responses)).toEqual({ 201: 20 });
    expect(new Set(responses.map((response) => response.json.transfer_id)).size).toBe(1);
    expect(responses.filter((response) => response.headers.get("idempotent-replayed") === "true")).toHaveLength(19);
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 45 });
    expect(await level(ctx.db, sku, "west")).toMatchObject({ on_hand: 5 });
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });
});
