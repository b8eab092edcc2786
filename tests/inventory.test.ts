import { beforeAll, describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import {
  createLocation,
  createVariants,
  eventsFor,
  ledgerMismatches,
  level,
  receive,
  uniqueSku,
} from "./helpers/inventory.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const PROBLEM = "https://storekeep.dev/problems/";

beforeAll(async () => {
  await createLocation(ctx.db, "north", { priority: 20 });
  await createLocation(ctx.db, "store", { priority: 5, online: false });
});

describe(`locations on ${engine}`, () => {
  it("the seed creates main; a manager adds, lists and changes a location", async () => {
    const created = await api().request("POST", "/v1/locations", {
      as: "manager",
      body: { code: "South-1", name: "South", type: "shop", priority: 50, latitude: 48.1, longitude: 11.5 },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ code: "south-1", type: "shop", priority: 50, active: true });

    const listed = await api().request("GET", "/v1/locations?limit=500", { as: "viewer" });
    expect(listed.status).toBe(200);
    expect(listed.json.data.map((row: { code: string }) => row.code)).toEqual(
      expect.arrayContaining(["main", "north", "south-1"]),
    );

    const patched = await api().request("PATCH", "/v1/locations/south-1", {
      as: "manager",
      body: { active: false, priority: 7 },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ code: "south-1", active: false, priority: 7 });
    expect((await api().request("PATCH", "/v1/locations/nowhere", { as: "manager", body: {} })).status).toBe(404);
    const duplicate = await api().request("POST", "/v1/locations", {
      as: "manager",
      body: { code: "main", name: "x" },
    });
    expect(duplicate.status).toBe(409);
  });

  it("a new location gets an empty level for every variant, a new variant one at every location", async () => {
    const [sku] = [uniqueSku("INIT")];
    await createVariants(ctx.db, [sku as string]);
    const { rows } = await ctx.db.query<{ n: number }>(
      `select count(*)::int as n from public.stock_levels sl join public.product_variants v on v.id = sl.variant_id
       where v.sku = $1`,
      [sku],
    );
    const locations = await ctx.db.query<{ n: number }>("select count(*)::int as n from public.locations");
    expect(rows[0]?.n).toBe(locations.rows[0]?.n);
    expect(await level(ctx.db, sku as string, "main")).toEqual({ on_hand: 0, reserved: 0, available: 0 });
  });
});

describe(`adjustments and transfers on ${engine}`, () => {
  it("adjust records a movement and answers the new level", async () => {
    const sku = uniqueSku("ADJ");
    await createVariants(ctx.db, [sku]);
    const response = await api().request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: { sku: sku.toLowerCase(), location_code: "main", delta: 12, kind: "receipt", reason: "delivery" },
    });
    expect(response.status).toBe(201);
    expect(response.json.movement).toMatchObject({ sku, location_code: "main", kind: "receipt", quantity: 12 });
    expect(response.json.level).toMatchObject({ sku, on_hand: 12, reserved: 0, available: 12 });
  });

  it("the same idempotency key twice moves stock once", async () => {
    const sku = uniqueSku("IDEM");
    await createVariants(ctx.db, [sku]);
    const body = { sku, location_code: "main", delta: 5, kind: "receipt", idempotency_key: `po-${sku}` };
    const first = await api().request("POST", "/v1/inventory/adjust", { as: "staff", body });
    const second = await api().request("POST", "/v1/inventory/adjust", { as: "staff", body });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.json.movement.id).toBe(first.json.movement.id);
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 5 });
    const { rows } = await ctx.db.query<{ n: number }>(
      "select count(*)::int as n from public.stock_movements where idempotency_key = $1",
      [`po-${sku}`],
    );
    expect(rows[0]?.n).toBe(1);
    const different = await api().request("POST", "/v1/inventory/adjust", { as: "staff", body: { ...body, delta: 6 } });
    expect(different.status).toBe(409);
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 5 });
  });

  it("taking on_hand below reserved or below zero is 409 insufficient-stock", async () => {
    const sku = uniqueSku("NEG");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 4);
    const reserved = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 3 }] },
    });
    expect(reserved.status).toBe(201);
    const below = await api().request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: { sku, location_code: "main", delta: -2, kind: "damage" },
    });
    expect(below.status).toBe(409);
    expect(below.json.type).toBe(`${PROBLEM}insufficient-stock`);
    expect(below.json.shortages).toEqual([{ sku, location_code: "main", requested: 2, available: 1 }]);
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 4, reserved: 3, available: 1 });
    const ok = await api().request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: { sku, location_code: "main", delta: -1, kind: "loss" },
    });
    expect(ok.status).toBe(201);
    expect(ok.json.level).toMatchObject({ on_hand: 3, reserved: 3, available: 0 });
  });

  it("refuses bad input and unknown things without a 500", async () => {
    const sku = uniqueSku("BAD");
    await createVariants(ctx.db, [sku]);
    const cases: [unknown, number][] = [
      [{ sku, location_code: "main", delta: 0, kind: "receipt" }, 422],
      [{ sku, location_code: "main", delta: 1, kind: "sale" }, 422],
      [{ sku, location_code: "main", delta: -1, kind: "receipt" }, 422],
      [{ sku: "NO-SUCH-SKU", location_code: "main", delta: 1, kind: "receipt" }, 404],
      [{ sku, location_code: "nowhere", delta: 1, kind: "receipt" }, 404],
    ];
    for (const [body, status] of cases) {
      const response = await api().request("POST", "/v1/inventory/adjust", { as: "staff", body });
      expect({ body, status: response.status }).toEqual({ body, status });
    }
  });

  it("a transfer writes both movements in one transaction, or none", async () => {
    const sku = uniqueSku("XFER");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 10);
    const moved = await api().request("POST", "/v1/inventory/transfers", {
      as: "staff",
      body: { sku, from_location_code: "main", to_location_code: "north", quantity: 4 },
    });
    expect(moved.status).toBe(201);
    expect(moved.json.from).toMatchObject({ location_code: "main", on_hand: 6 });
    expect(moved.json.to).toMatchObject({ location_code: "north", on_hand: 4 });
    expect(moved.json.movements.map((m: { kind: string; quantity: number }) => [m.kind, m.quantity])).toEqual([
      ["transfer_out", -4],
      ["transfer_in", 4],
    ]);
    const tooMany = await api().request("POST", "/v1/inventory/transfers", {
      as: "staff",
      body: { sku, from_location_code: "north", to_location_code: "main", quantity: 5 },
    });
    expect(tooMany.status).toBe(409);
    expect(tooMany.json.shortages).toEqual([{ sku, location_code: "north", requested: 5, available: 4 }]);
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 6 });
    expect(await level(ctx.db, sku, "north")).toMatchObject({ on_hand: 4 });
    const same = await api().request("POST", "/v1/inventory/transfers", {
      as: "staff",
      body: { sku, from_location_code: "main", to_location_code: "main", quantity: 1 },
    });
    expect(same.status).toBe(422);
  });

  it("on_hand changes only through movements, and the ledger is append-only", async () => {
    const sku = uniqueSku("GUARD");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 3);
    await expect(
      ctx.db.query(
        `update public.stock_levels set on_hand = 99 where variant_id = (select id from public.product_variants where sku = $1)`,
        [sku],
      ),
    ).rejects.toMatchObject({ code: "P0F01" });
    await expect(
      ctx.db.query(
        "update public.stock_movements set quantity = 99 where variant_id = (select id from public.product_variants where sku = $1)",
        [sku],
      ),
    ).rejects.toMatchObject({ code: "P0F01" });
    await expect(
      ctx.db.query(
        "delete from public.stock_movements where variant_id = (select id from public.product_variants where sku = $1)",
        [sku],
      ),
    ).rejects.toMatchObject({ code: "P0F01" });
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 3 });
  });
});

describe(`status, history and the ledger check on ${engine}`, () => {
  it("status answers per location and in total; filters find low and out stock", async () => {
    const [a, b] = [uniqueSku("STA"), uniqueSku("STB")];
    await createVariants(ctx.db, [a, b]);
    await receive(ctx.db, a, "main", 7);
    await receive(ctx.db, a, "north", 3);
    const page = await api().request("GET", `/v1/inventory/status?sku=${a.toLowerCase()}`, { as: "viewer" });
    expect(page.status).toBe(200);
    // One shape with or without sku: a page.
    expect(page.json).toEqual({ data: [expect.any(Object)], next_cursor: null });
    const one = { json: page.json.data[0] };
    expect(one.json.sku).toBe(a);
    expect(one.json.total).toEqual({ on_hand: 10, reserved: 0, available: 10 });
    expect(one.json.locations).toEqual(
      expect.arrayContaining([
        { location_code: "main", on_hand: 7, reserved: 0, available: 7, reorder_point: 0 },
        { location_code: "north", on_hand: 3, reserved: 0, available: 3, reorder_point: 0 },
      ]),
    );
    const atNorth = await api().request("GET", `/v1/inventory/status?sku=${a}&location_code=north`, { as: "viewer" });
    expect(atNorth.json.data[0].locations).toHaveLength(1);
    // The total is the variant's stock everywhere: a filter chooses the levels shown, not the sum.
    expect(atNorth.json.data[0].total).toEqual({ on_hand: 10, reserved: 0, available: 10 });

    const out = await api().request("GET", "/v1/inventory/status?location_code=main&stock=out&limit=500", {
      as: "viewer",
    });
    const outSkus = out.json.data.map((row: { sku: string }) => row.sku);
    expect(outSkus).toContain(b);
    expect(outSkus).not.toContain(a);
    expect((await api().request("GET", "/v1/inventory/status?sku=NOPE-NOPE", { as: "viewer" })).status).toBe(404);

    const paged = await api().request("GET", "/v1/inventory/status?limit=1", { as: "viewer" });
    expect(paged.json.data).toHaveLength(1);
    const next = await api().request("GET", `/v1/inventory/status?limit=1&cursor=${paged.json.next_cursor}`, {
      as: "viewer",
    });
    expect(next.json.data[0].sku).not.toBe(paged.json.data[0].sku);
  });

  it("history lists the ledger newest first with a cursor", async () => {
    const sku = uniqueSku("HIST");
    await createVariants(ctx.db, [sku]);
    for (const quantity of [1, 2, 3]) await receive(ctx.db, sku, "main", quantity);
    const first = await api().request("GET", `/v1/inventory/history?sku=${sku}&location_code=main&limit=2`, {
      as: "viewer",
    });
    expect(first.status).toBe(200);
    expect(first.json.data.map((m: { quantity: number }) => m.quantity)).toEqual([3, 2]);
    const second = await api().request(
      "GET",
      `/v1/inventory/history?sku=${sku}&limit=2&cursor=${first.json.next_cursor}`,
      { as: "viewer" },
    );
    expect(second.json.data.map((m: { quantity: number }) => m.quantity)).toEqual([1]);
    expect(second.json.next_cursor).toBeNull();
  });

  it("verify finds nothing when the books balance and reports a level that does not", async () => {
    const clean = await api().request("POST", "/v1/inventory/verify", { as: "staff" });
    expect(clean.status).toBe(200);
    expect(clean.json.checked).toBeGreaterThan(0);
    expect(clean.json.mismatches).toEqual([]);

    const sku = uniqueSku("BROKEN");
    await createVariants(ctx.db, [sku]);
    // Corrupt one level behind the guard's back, as only the database owner could.
    await ctx.db.transaction(async (tx) => {
      await tx.query("alter table public.stock_levels disable trigger stock_levels_before_update_guard_on_hand");
      await tx.query(
        "update public.stock_levels set on_hand = 5 where variant_id = (select id from public.product_variants where sku = $1) and location_id = (select id from public.locations where code = 'main')",
        [sku],
      );
      await tx.query("alter table public.stock_levels enable trigger stock_levels_before_update_guard_on_hand");
    });
    const broken = await api().request("POST", "/v1/inventory/verify", { as: "staff" });
    expect(broken.json.mismatches).toEqual([
      { sku, location_code: "main", on_hand: 5, ledger_on_hand: 0, reserved: 0, held_by_reservations: 0 },
    ]);
    await receive(ctx.db, sku, "main", 5); // the ledger now says 5 too, on_hand 10: still wrong
    await ctx.db.transaction(async (tx) => {
      await tx.query("alter table public.stock_levels disable trigger stock_levels_before_update_guard_on_hand");
      await tx.query(
        "update public.stock_levels set on_hand = 5 where variant_id = (select id from public.product_variants where sku = $1) and location_id = (select id from public.locations where code = 'main')",
        [sku],
      );
      await tx.query("alter table public.stock_levels enable trigger stock_levels_before_update_guard_on_hand");
    });
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });
});

describe(`reservations on ${engine}`, () => {
  it("reserves by location priority, splitting a line, and answers the allocation", async () => {
    const sku = uniqueSku("RES");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 3); // priority 10
    await receive(ctx.db, sku, "north", 5); // priority 20
    await receive(ctx.db, sku, "store", 50); // priority 5 but not an online location
    const response = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 6 }], reference: { type: "cart", id: "cart-1" } },
    });
    expect(response.status).toBe(201);
    expect(response.json).toMatchObject({ status: "active", reference: { type: "cart", id: "cart-1" } });
    expect(response.json.items).toEqual([
      { sku, location_code: "main", quantity: 3 },
      { sku, location_code: "north", quantity: 3 },
    ]);
    const ttl = Date.parse(response.json.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(890_000);
    expect(ttl).toBeLessThan(910_000);
    expect(await level(ctx.db, sku, "north")).toEqual({ on_hand: 5, reserved: 3, available: 2 });

    const atStore = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 10, location_code: "store" }] },
    });
    expect(atStore.json.items).toEqual([{ sku, location_code: "store", quantity: 10 }]);

    const fetched = await api().request("GET", `/v1/inventory/reservations/${response.json.id}`, { as: "viewer" });
    expect(fetched.status).toBe(200);
    expect(fetched.json.items).toHaveLength(2);
  });

  it("holds nothing when any line is short, naming each short sku", async () => {
    const [a, b] = [uniqueSku("ALL"), uniqueSku("NONE")];
    await createVariants(ctx.db, [a, b]);
    await receive(ctx.db, a, "main", 10);
    await receive(ctx.db, b, "main", 1);
    await receive(ctx.db, b, "north", 1);
    const response = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: {
        items: [
          { sku: a, quantity: 4 },
          { sku: b, quantity: 3 },
        ],
      },
    });
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(response.json.type).toBe(`${PROBLEM}insufficient-stock`);
    expect(response.json.shortages).toEqual([{ sku: b, requested: 3, available: 2 }]);
    expect(await level(ctx.db, a, "main")).toEqual({ on_hand: 10, reserved: 0, available: 10 });
    expect(await level(ctx.db, b, "main")).toEqual({ on_hand: 1, reserved: 0, available: 1 });
    const { rows } = await ctx.db.query<{ n: number }>(
      "select count(*)::int as n from public.reservation_items i join public.product_variants v on v.id = i.variant_id where v.sku = $1",
      [a],
    );
    expect(rows[0]?.n).toBe(0);
  });

  it("unknown skus and locations are 422 naming the line", async () => {
    const response = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku: "NO-SUCH-SKU", quantity: 1 }] },
    });
    expect(response.status).toBe(422);
    expect(response.json.errors).toEqual([{ field: "body.items.0.sku", message: "no live variant has this sku" }]);
    const invalid = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku: "X", quantity: 0 }] },
    });
    expect(invalid.status).toBe(422);
  });

  it("release is idempotent and gives the units back; commit then refuses", async () => {
    const sku = uniqueSku("REL");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 5);
    const created = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 2 }] },
    });
    const path = `/v1/inventory/reservations/${created.json.id}`;
    for (let i = 0; i < 2; i++) {
      const released = await api().request("POST", `${path}/release`, { as: "staff" });
      expect(released.status).toBe(200);
      expect(released.json.status).toBe("released");
      expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 5, reserved: 0, available: 5 });
    }
    expect((await api().request("POST", `${path}/commit`, { as: "staff" })).status).toBe(409);
    expect((await eventsFor(ctx.db, "stock.changed", sku)).length).toBe(3);
  });

  it("commit is idempotent and turns the held units into sale movements", async () => {
    const sku = uniqueSku("COM");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 2);
    await receive(ctx.db, sku, "north", 2);
    const created = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 3 }], reference: { type: "cart", id: "cart-9" } },
    });
    const path = `/v1/inventory/reservations/${created.json.id}`;
    for (let i = 0; i < 2; i++) {
      const committed = await api().request("POST", `${path}/commit`, { as: "staff" });
      expect(committed.status).toBe(200);
      expect(committed.json.status).toBe("committed");
    }
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 0, reserved: 0, available: 0 });
    expect(await level(ctx.db, sku, "north")).toEqual({ on_hand: 1, reserved: 0, available: 1 });
    const sales = await ctx.db.query<{ quantity: number; reference_id: string }>(
      `select m.quantity, m.reference_id from public.stock_movements m join public.product_variants v on v.id = m.variant_id
       where v.sku = $1 and m.kind = 'sale' order by m.id`,
      [sku],
    );
    expect(sales.rows).toEqual([
      { quantity: -2, reference_id: "cart-9" },
      { quantity: -1, reference_id: "cart-9" },
    ]);
    expect((await api().request("POST", `${path}/release`, { as: "staff" })).status).toBe(409);
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("an Idempotency-Key makes a repeated reservation answer the first", async () => {
    const sku = uniqueSku("RKEY");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 5);
    const send = () =>
      api().request("POST", "/v1/inventory/reservations", {
        as: "staff",
        body: { items: [{ sku, quantity: 2 }] },
        headers: { "idempotency-key": `cart-${sku}` },
      });
    const first = await send();
    const second = await send();
    expect(second.json.id).toBe(first.json.id);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await level(ctx.db, sku, "main")).toMatchObject({ reserved: 2 });
  });

  it("the expiry job releases overdue reservations exactly once", async () => {
    const sku = uniqueSku("EXP");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 5);
    const created = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 4 }], ttl_seconds: 60 },
    });
    const live = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 1 }], ttl_seconds: 600 },
    });
    expect(await level(ctx.db, sku, "main")).toMatchObject({ reserved: 5 });
    await ctx.db.query("update public.reservations set expires_at = now() - interval '1 second' where id = $1", [
      created.json.id,
    ]);
    const { findJob } = await import("../packages/server/src/jobs/registry.ts");
    const job = findJob("inventory.expire_reservations");
    expect(job).toBeDefined();
    const runs = [await job?.run(ctx.db), await job?.run(ctx.db)];
    expect(runs.map((run) => run?.expired)).toEqual([1, 0]);
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 5, reserved: 1, available: 4 });
    const expired = await ctx.db.query<{ n: number }>(
      "select count(*)::int as n from private.events where topic = 'reservation.expired' and payload ->> 'id' = $1",
      [created.json.id],
    );
    expect(expired.rows[0]?.n).toBe(1);
    const fetched = await api().request("GET", `/v1/inventory/reservations/${created.json.id}`, { as: "viewer" });
    expect(fetched.json.status).toBe("expired");
    expect(
      (await api().request("POST", `/v1/inventory/reservations/${created.json.id}/commit`, { as: "staff" })).status,
    ).toBe(409);
    const stillLive = await api().request("GET", `/v1/inventory/reservations/${live.json.id}`, { as: "viewer" });
    expect(stillLive.json.status).toBe("active");
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });
});

describe(`events and reorder suggestions on ${engine}`, () => {
  it("stock.changed carries before and after; out and back_in fire on crossings", async () => {
    const sku = uniqueSku("EVT");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 2);
    const reserved = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 2 }] },
    });
    await api().request("POST", `/v1/inventory/reservations/${reserved.json.id}/release`, { as: "staff" });
    const changed = await eventsFor(ctx.db, "stock.changed", sku);
    expect(changed.map((event) => [event.before, event.after])).toEqual([
      [
        { on_hand: 0, reserved: 0, available: 0 },
        { on_hand: 2, reserved: 0, available: 2 },
      ],
      [
        { on_hand: 2, reserved: 0, available: 2 },
        { on_hand: 2, reserved: 2, available: 0 },
      ],
      [
        { on_hand: 2, reserved: 2, available: 0 },
        { on_hand: 2, reserved: 0, available: 2 },
      ],
    ]);
    expect((await eventsFor(ctx.db, "stock.out", sku)).length).toBe(1);
    expect((await eventsFor(ctx.db, "stock.back_in", sku)).length).toBe(2);
  });

  it("a reorder suggestion is created once per crossing, with stock.low and stock.reorder_needed", async () => {
    const sku = uniqueSku("REORD");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 10);
    await ctx.db.query(
      `update public.stock_levels set reorder_point = 5, reorder_quantity = 20
       where variant_id = (select id from public.product_variants where sku = $1)
         and location_id = (select id from public.locations where code = 'main')`,
      [sku],
    );
    const sell = (quantity: number) =>
      api().request("POST", "/v1/inventory/adjust", {
        as: "staff",
        body: { sku, location_code: "main", delta: -quantity, kind: "adjustment" },
      });
    await sell(4); // 6: above
    await sell(1); // 5: crossing
    await sell(1); // 4: still below, no new suggestion
    await sell(2); // 2
    let suggestions = await api().request("GET", "/v1/inventory/reorder-suggestions", { as: "viewer" });
    const mine = () => suggestions.json.data.filter((row: { sku: string }) => row.sku === sku);
    expect(mine()).toEqual([
      expect.objectContaining({
        sku,
        location_code: "main",
        suggested_quantity: 20,
        available_at_crossing: 5,
        available: 2,
      }),
    ]);
    expect((await eventsFor(ctx.db, "stock.reorder_needed", sku)).length).toBe(1);
    expect((await eventsFor(ctx.db, "stock.low", sku)).length).toBe(1);

    await receive(ctx.db, sku, "main", 10); // 12: back above, the suggestion resolves
    await sell(8); // 4: a new crossing, a new suggestion
    suggestions = await api().request("GET", "/v1/inventory/reorder-suggestions?status=all", { as: "viewer" });
    expect(mine().map((row: { status: string }) => row.status)).toEqual(["open", "resolved"]);
    expect((await eventsFor(ctx.db, "stock.reorder_needed", sku)).length).toBe(2);
  });
});
