import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";
import { createVariants, ledgerMismatches, level, receive, uniqueSku } from "./helpers/inventory.ts";

// A stock count states what is on the shelf: on_hand becomes the counted quantity and the
// difference is the movement; a count below what is reserved is refused with a clear problem.

const ctx = useTestDatabase({ poolMax: 12 });
const api = () => createTestApp(ctx.db);
const PROBLEM = "https://storekeep.dev/problems/";
const count = (sku: string, counted: number, extra: Record<string, unknown> = {}) =>
  api().request("POST", "/v1/inventory/adjust", {
    as: "staff",
    body: { sku, location_code: "main", kind: "count", counted, ...extra },
  });

describe(`kind: count on ${engine}`, () => {
  it("sets on_hand to the counted quantity, the difference being the movement, down or up", async () => {
    const sku = uniqueSku("CNT");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 10);

    const down = await count(sku, 7, { reason: "cycle count" });
    expect(down.status, down.text).toBe(201);
    expect(down.json.movement).toMatchObject({ kind: "count", quantity: -3, counted: 7, reason: "cycle count" });
    expect(down.json.level).toMatchObject({ on_hand: 7 });

    const up = await count(sku, 12);
    expect(up.json.movement).toMatchObject({ kind: "count", quantity: 5, counted: 12 });
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 12 });
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("a count that confirms the books is recorded and moves nothing", async () => {
    const sku = uniqueSku("CNT-EQ");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 4);
    const same = await count(sku, 4);
    expect(same.status, same.text).toBe(201);
    expect(same.json.movement).toMatchObject({ kind: "count", quantity: 0, counted: 4 });
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 4 });
    const zero = await count(sku, 0);
    expect(zero.json.movement).toMatchObject({ quantity: -4, counted: 0 });
  });

  it("a count below what is reserved is a 409 naming counted, and writes nothing", async () => {
    const sku = uniqueSku("CNT-RES");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 10);
    const held = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 6 }] },
    });
    expect(held.status).toBe(201);

    const below = await count(sku, 5);
    expect(below.status).toBe(409);
    expect(below.headers.get("content-type")).toContain("application/problem+json");
    expect(below.json.type).toBe(`${PROBLEM}conflict`);
    expect(below.json.detail).toMatch(/6 units .* reserved/);
    expect(below.json.errors).toEqual([expect.objectContaining({ field: "body.counted", code: "below_reserved" })]);
    expect(below.json.level).toMatchObject({ on_hand: 10, reserved: 6 });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 10, reserved: 6, available: 4 });

    const atReserved = await count(sku, 6);
    expect(atReserved.status).toBe(201);
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 6, reserved: 6, available: 0 });
  });

  it("a count takes counted, never delta; other kinds take delta, never counted", async () => {
    const sku = uniqueSku("CNT-BAD");
    await createVariants(ctx.db, [sku]);
    const send = (body: Record<string, unknown>) =>
      api().request("POST", "/v1/inventory/adjust", { as: "staff", body: { sku, location_code: "main", ...body } });
    const cases = [
      [{ kind: "count", delta: 5 }, ["body.counted", "body.delta"]],
      [{ kind: "count", counted: 5, delta: 5 }, ["body.delta"]],
      [{ kind: "count", counted: -1 }, ["body.counted"]],
      [{ kind: "receipt", counted: 5 }, ["body.delta", "body.counted"]],
    ] as const;
    for (const [body, fields] of cases) {
      const response = await send(body);
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(response.json.errors.map((error: { field: string }) => error.field).sort()).toEqual([...fields].sort());
    }
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 0 });
  });

  it("the SQL refuses a count sent as a delta, so no other caller can add a count to stock", async () => {
    const sku = uniqueSku("CNT-SQL");
    await createVariants(ctx.db, [sku]);
    await expect(ctx.db.query("select private.adjust_stock($1, 'main', 5, 'count')", [sku])).rejects.toMatchObject({
      code: "P0V01",
    });
  });

  it("the same idempotency key answers the first count even after stock moved; another count is a 409", async () => {
    const sku = uniqueSku("CNT-IDEM");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 9);
    const key = `count-${sku}`;
    const first = await count(sku, 8, { idempotency_key: key });
    expect(first.json.movement).toMatchObject({ quantity: -1, counted: 8 });
    await receive(ctx.db, sku, "main", 3);
    const again = await count(sku, 8, { idempotency_key: key });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json.movement.id).toBe(first.json.movement.id);
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 11 });
    const other = await count(sku, 2, { idempotency_key: key });
    expect(other.status).toBe(409);
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 11 });
  });
});

describe.skipIf(!onPostgres)("counts racing other movements", () => {
  it("each count takes on_hand exactly to its number when it applies, and the ledger balances", async () => {
    const sku = uniqueSku("CNT-RACE");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 50);
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? count(sku, 40 + i)
          : api().request("POST", "/v1/inventory/adjust", {
              as: "staff",
              body: { sku, location_code: "main", kind: "receipt", delta: 1 },
            }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(30).fill(201));
    // The level in a count's answer is read under the lock the count took: exactly the count.
    // (Ledger ids are taken before the level's lock, so id order is not the order applied.)
    for (const response of responses.filter((r) => r.json.movement.kind === "count")) {
      expect(response.json.level.on_hand).toBe(response.json.movement.counted);
    }
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
    const { rows } = await ctx.db.query<{ total: number }>(
      `select sum(m.quantity)::int as total from public.stock_movements m
       join public.product_variants v on v.id = m.variant_id where lower(v.sku) = lower($1)`,
      [sku],
    );
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: rows[0]?.total });
  });
});
