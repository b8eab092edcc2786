import { describe, expect, it } from "vitest";
import { createTestApp, DEMO_USERS } from "./helpers/app.ts";
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

// Idempotent transfers, versioned location changes, level settings and closing reorder
// suggestions by hand: happy paths, errors and who may do what.
const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const PROBLEM = "https://storekeep.dev/problems/";

describe(`idempotent transfers on ${engine}`, () => {
  it("the same idempotency key twice moves stock once and answers the first transfer", async () => {
    const sku = uniqueSku("XIDEM");
    await createVariants(ctx.db, [sku]);
    await createLocation(ctx.db, "idem-east", { priority: 10 }); // ahead of main: the in leg is written first
    await receive(ctx.db, sku, "main", 10);
    const body = {
      sku,
      from_location_code: "main",
      to_location_code: "idem-east",
      quantity: 3,
      idempotency_key: `xfer-${sku}`,
    };
    const first = await api().request("POST", "/v1/inventory/transfers", { as: "staff", body });
    const second = await api().request("POST", "/v1/inventory/transfers", { as: "staff", body });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.json.transfer_id).toBe(first.json.transfer_id);
    expect(second.json.movements.map((m: { id: number }) => m.id)).toEqual(
      first.json.movements.map((m: { id: number }) => m.id),
    );
    expect(second.json.replayed).toBeUndefined();
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 7 });
    expect(await level(ctx.db, sku, "idem-east")).toMatchObject({ on_hand: 3 });
    const { rows } = await ctx.db.query<{ n: number }>(
      "select count(*)::int as n from public.stock_movements where reference_id = $1",
      [first.json.transfer_id],
    );
    expect(rows[0]?.n).toBe(2);
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("a key reused for a different transfer or already used by an adjustment is 409 and moves nothing", async () => {
    const sku = uniqueSku("XKEY");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 10);
    const key = `k-${sku}`;
    const body = { sku, from_location_code: "main", to_location_code: "north", quantity: 2, idempotency_key: key };
    await createLocation(ctx.db, "north", { priority: 20 });
    expect((await api().request("POST", "/v1/inventory/transfers", { as: "staff", body })).status).toBe(201);
    const different = await api().request("POST", "/v1/inventory/transfers", {
      as: "staff",
      body: { ...body, quantity: 5 },
    });
    expect(different.status).toBe(409);
    expect(different.json.type).toBe(`${PROBLEM}conflict`);
    const backwards = await api().request("POST", "/v1/inventory/transfers", {
      as: "staff",
      body: { ...body, from_location_code: "north", to_location_code: "main" },
    });
    expect(backwards.status).toBe(409);

    const adjustKey = `adj-${sku}`;
    const adjusted = await api().request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: { sku, location_code: "main", delta: 1, kind: "receipt", idempotency_key: adjustKey },
    });
    expect(adjusted.status).toBe(201);
    const clash = await api().request("POST", "/v1/inventory/transfers", {
      as: "staff",
      body: { ...body, idempotency_key: adjustKey },
    });
    expect(clash.status).toBe(409);
    expect(await level(ctx.db, sku, "main")).toMatchObject({ on_hand: 9 });
    expect(await level(ctx.db, sku, "north")).toMatchObject({ on_hand: 2 });
    expect(await ledgerMismatches(ctx.db)).toEqual([]);
  });

  it("refuses an invalid key", async () => {
    const sku = uniqueSku("XBAD");
    await createVariants(ctx.db, [sku]);
    const response = await api().request("POST", "/v1/inventory/transfers", {
      as: "staff",
      body: { sku, from_location_code: "main", to_location_code: "north", quantity: 1, idempotency_key: "" },
    });
    expect(response.status).toBe(422);
    expect(response.json.errors.map((error: { field: string }) => error.field)).toContain("body.idempotency_key");
  });
});

describe(`versioned location changes on ${engine}`, () => {
  it("If-Match or version must name the current version; a stale one is 409 with the current state", async () => {
    const created = await api().request("POST", "/v1/locations", {
      as: "manager",
      body: { code: "ver-1", name: "Versioned" },
    });
    expect(created.status).toBe(201);
    expect(created.json.version).toBe(1);
    expect(created.headers.get("etag")).toBe('"1"');

    const changed = await api().request("PATCH", "/v1/locations/ver-1", {
      as: "manager",
      headers: { "if-match": '"1"' },
      body: { name: "Versioned twice" },
    });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ name: "Versioned twice", version: 2 });
    expect(changed.headers.get("etag")).toBe('"2"');

    const stale = await api().request("PATCH", "/v1/locations/ver-1", {
      as: "manager",
      headers: { "If-Match": '"1"' },
      body: { name: "Lost update" },
    });
    expect(stale.status).toBe(409);
    expect(stale.headers.get("content-type")).toContain("application/problem+json");
    expect(stale.json.type).toBe(`${PROBLEM}version-conflict`);
    expect(stale.json.expected_version).toBe(1);
    expect(stale.json.current).toMatchObject({ code: "ver-1", name: "Versioned twice", version: 2 });

    const byBody = await api().request("PATCH", "/v1/locations/ver-1", {
      as: "manager",
      body: { priority: 9, version: 2 },
    });
    expect(byBody.status).toBe(200);
    expect(byBody.json).toMatchObject({ priority: 9, version: 3 });
    const staleBody = await api().request("PATCH", "/v1/locations/ver-1", {
      as: "manager",
      body: { priority: 8, version: 2 },
    });
    expect(staleBody.status).toBe(409);
    expect(staleBody.json.current).toMatchObject({ priority: 9, version: 3 });

    // An empty patch with the current version changes nothing and answers the location.
    const unchanged = await api().request("PATCH", "/v1/locations/ver-1", {
      as: "manager",
      headers: { "if-match": "3" },
      body: {},
    });
    expect(unchanged.status).toBe(200);
    expect(unchanged.json.version).toBe(3);
    // Without If-Match or version the change applies (last writer wins, as before).
    const blind = await api().request("PATCH", "/v1/locations/ver-1", { as: "manager", body: { active: false } });
    expect(blind.json).toMatchObject({ active: false, version: 4 });
  });

  it("refuses a malformed If-Match, one that disagrees with version, and unknown locations", async () => {
    const malformed = await api().request("PATCH", "/v1/locations/main", {
      as: "manager",
      headers: { "if-match": "yesterday" },
      body: { name: "x" },
    });
    expect(malformed.status).toBe(422);
    const disagree = await api().request("PATCH", "/v1/locations/main", {
      as: "manager",
      headers: { "if-match": '"1"' },
      body: { name: "x", version: 2 },
    });
    expect(disagree.status).toBe(422);
    const unknown = await api().request("PATCH", "/v1/locations/nowhere", {
      as: "manager",
      headers: { "if-match": '"1"' },
      body: { name: "x" },
    });
    expect(unknown.status).toBe(404);
    const staff = await api().request("PATCH", "/v1/locations/main", { as: "staff", body: { name: "x" } });
    expect(staff.status).toBe(403);
  });
});

describe(`level settings on ${engine}`, () => {
  it("a manager sets reorder point, quantity and backorders; the next crossing uses them", async () => {
    const sku = uniqueSku("POL");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 10);
    const set = await api().request("PATCH", "/v1/inventory/levels", {
      as: "manager",
      body: { sku: sku.toLowerCase(), location_code: "MAIN", reorder_point: 4, reorder_quantity: 12 },
    });
    expect(set.status).toBe(200);
    expect(set.json).toEqual({
      sku,
      location_code: "main",
      on_hand: 10,
      reserved: 0,
      available: 10,
      reorder_point: 4,
      reorder_quantity: 12,
      allow_backorder: false,
    });
    const partial = await api().request("PATCH", "/v1/inventory/levels", {
      as: "manager",
      body: { sku, location_code: "main", allow_backorder: true },
    });
    expect(partial.json).toMatchObject({ reorder_point: 4, reorder_quantity: 12, allow_backorder: true });

    // Backorders: reserve beyond on_hand, then turning them off is refused.
    const over = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 15, location_code: "main" }] },
    });
    expect(over.status).toBe(201);
    const off = await api().request("PATCH", "/v1/inventory/levels", {
      as: "manager",
      body: { sku, location_code: "main", allow_backorder: false },
    });
    expect(off.status).toBe(409);
    expect(off.json.type).toBe(`${PROBLEM}conflict`);
    expect(off.json.level).toMatchObject({ on_hand: 10, reserved: 15, allow_backorder: true });
    const suggestions = await api().request("GET", "/v1/inventory/reorder-suggestions", { as: "viewer" });
    expect(suggestions.json.data.filter((row: { sku: string }) => row.sku === sku)).toEqual([
      expect.objectContaining({ reorder_point: 4, suggested_quantity: 12, status: "open" }),
    ]);
  });

  it("a policy that makes a level low opens a suggestion at once; one that lifts it resolves it", async () => {
    const sku = uniqueSku("POLLOW");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 3);
    const setPolicy = async (body: Record<string, unknown>) => {
      const response = await api().request("PATCH", "/v1/inventory/levels", {
        as: "manager",
        body: { sku, location_code: "main", ...body },
      });
      expect(response.status).toBe(200);
    };
    const suggestions = async () =>
      (await api().request("GET", "/v1/inventory/reorder-suggestions?status=all", { as: "viewer" })).json.data
        .filter((row: { sku: string }) => row.sku === sku)
        .map((row: { status: string; reorder_point: number; available_at_crossing: number }) => [
          row.status,
          row.reorder_point,
          row.available_at_crossing,
        ]);

    // 3 available, the point raised to 10: low now, not at the next sale.
    await setPolicy({ reorder_point: 10, reorder_quantity: 25 });
    expect(await suggestions()).toEqual([["open", 10, 3]]);
    expect((await eventsFor(ctx.db, "stock.low", sku)).map((event) => event.reorder_point)).toEqual([10]);
    expect((await eventsFor(ctx.db, "stock.reorder_needed", sku)).length).toBe(1);
    expect(await eventsFor(ctx.db, "stock.changed", sku)).toHaveLength(1); // the receipt only

    // Changing the quantity while low keeps the one open suggestion.
    await setPolicy({ reorder_quantity: 30 });
    expect(await suggestions()).toEqual([["open", 10, 3]]);
    expect((await eventsFor(ctx.db, "stock.reorder_needed", sku)).length).toBe(1);

    // The point lowered below what is available: no longer low, the suggestion resolves itself.
    await setPolicy({ reorder_point: 2 });
    expect(await suggestions()).toEqual([["resolved", 10, 3]]);

    // Out of stock with no policy, then a quantity set: a suggestion even though nothing moved.
    const empty = uniqueSku("POLOUT");
    await createVariants(ctx.db, [empty]);
    await api().request("PATCH", "/v1/inventory/levels", {
      as: "manager",
      body: { sku: empty, location_code: "main", reorder_quantity: 5 },
    });
    const opened = await api().request("GET", "/v1/inventory/reorder-suggestions", { as: "viewer" });
    expect(opened.json.data.filter((row: { sku: string }) => row.sku === empty)).toEqual([
      expect.objectContaining({ status: "open", reorder_point: 0, suggested_quantity: 5, available: 0 }),
    ]);
    expect(await eventsFor(ctx.db, "stock.low", empty)).toEqual([]);
  });

  it("refuses empty and invalid settings, unknown skus and callers below manager", async () => {
    const sku = uniqueSku("POLBAD");
    await createVariants(ctx.db, [sku]);
    const cases: [unknown, number][] = [
      [{ sku, location_code: "main" }, 422],
      [{ sku, location_code: "main", reorder_point: -1 }, 422],
      [{ sku, location_code: "main", reorder_quantity: 1.5 }, 422],
      [{ sku, location_code: "main", reorder_point: 1, extra: true }, 422],
      [{ sku: "NO-SUCH-SKU", location_code: "main", reorder_point: 1 }, 404],
      [{ sku, location_code: "nowhere", reorder_point: 1 }, 404],
    ];
    for (const [body, status] of cases) {
      const response = await api().request("PATCH", "/v1/inventory/levels", { as: "manager", body });
      expect({ body, status: response.status }).toEqual({ body, status });
    }
    const staff = await api().request("PATCH", "/v1/inventory/levels", {
      as: "staff",
      body: { sku, location_code: "main", reorder_point: 1 },
    });
    expect(staff.status).toBe(403);
    // Direct SQL as staff is refused by the function too, not only by the route.
    await expect(
      ctx.db.asUser({ role: "authenticated", sub: DEMO_USERS.staff, app_role: "staff" }, (tx) =>
        tx.query("select private.set_level_policy($1, 'main', 1)", [sku]),
      ),
    ).rejects.toMatchObject({ code: "P0F01" });
  });
});

describe(`reservation items and their levels on ${engine}`, () => {
  it("a level that reservation items name cannot be deleted, even after the hold is released", async () => {
    const sku = uniqueSku("HELD");
    const [variantId] = await createVariants(ctx.db, [sku]);
    await api().request("PATCH", "/v1/inventory/levels", {
      as: "manager",
      body: { sku, location_code: "main", allow_backorder: true },
    });
    const held = await api().request("POST", "/v1/inventory/reservations", {
      as: "staff",
      body: { items: [{ sku, quantity: 2, location_code: "main" }] },
    });
    expect(held.status).toBe(201);
    await api().request("POST", `/v1/inventory/reservations/${held.json.id}/release`, { as: "staff" });
    await expect(ctx.db.query("delete from public.product_variants where id = $1", [variantId])).rejects.toMatchObject({
      code: "23503",
    });
    expect(await level(ctx.db, sku, "main")).toEqual({ on_hand: 0, reserved: 0, available: 0 });
    // A level no item names goes with its variant, as before.
    const [free] = await createVariants(ctx.db, [uniqueSku("FREE")]);
    await ctx.db.query("delete from public.product_variants where id = $1", [free]);
    const { rows } = await ctx.db.query<{ n: number }>(
      "select count(*)::int as n from public.stock_levels where variant_id = $1",
      [free],
    );
    expect(rows[0]?.n).toBe(0);
  });
});

describe(`closing reorder suggestions on ${engine}`, () => {
  async function openSuggestion(): Promise<{ sku: string; id: string }> {
    const sku = uniqueSku("SUG");
    await createVariants(ctx.db, [sku]);
    await receive(ctx.db, sku, "main", 10);
    await api().request("PATCH", "/v1/inventory/levels", {
      as: "manager",
      body: { sku, location_code: "main", reorder_point: 5, reorder_quantity: 20 },
    });
    await api().request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: { sku, location_code: "main", delta: -6, kind: "adjustment" },
    });
    const list = await api().request("GET", "/v1/inventory/reorder-suggestions", { as: "viewer" });
    const row = list.json.data.find((each: { sku: string }) => each.sku === sku);
    return { sku, id: row.id };
  }

  it("resolve closes a suggestion once; the next crossing opens a new one", async () => {
    const { sku, id } = await openSuggestion();
    const resolved = await api().request("POST", `/v1/inventory/reorder-suggestions/${id}/resolve`, { as: "staff" });
    expect(resolved.status).toBe(200);
    expect(resolved.json).toMatchObject({ id, sku, status: "resolved", available: 4 });
    expect(resolved.json.resolved_at).toEqual(expect.any(String));
    const again = await api().request("POST", `/v1/inventory/reorder-suggestions/${id}/resolve`, { as: "staff" });
    expect(again.status).toBe(200);
    expect(again.json.resolved_at).toBe(resolved.json.resolved_at);
    const dismiss = await api().request("POST", `/v1/inventory/reorder-suggestions/${id}/dismiss`, { as: "staff" });
    expect(dismiss.status).toBe(409);
    expect(dismiss.json.suggestion).toMatchObject({ id, status: "resolved" });

    // Back above the point and down again: a new crossing, a new open suggestion.
    await receive(ctx.db, sku, "main", 10);
    await api().request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: { sku, location_code: "main", delta: -10, kind: "adjustment" },
    });
    const open = await api().request("GET", "/v1/inventory/reorder-suggestions", { as: "viewer" });
    expect(open.json.data.filter((row: { sku: string }) => row.sku === sku)).toHaveLength(1);
  });

  it("dismiss closes a suggestion; listing by status finds it; unknown ids and viewers are refused", async () => {
    const { sku, id } = await openSuggestion();
    expect(
      (await api().request("POST", `/v1/inventory/reorder-suggestions/${id}/dismiss`, { as: "viewer" })).status,
    ).toBe(403);
    expect((await api().request("POST", `/v1/inventory/reorder-suggestions/${id}/dismiss`)).status).toBe(401);
    const dismissed = await api().request("POST", `/v1/inventory/reorder-suggestions/${id}/dismiss`, {
      as: "staff",
    });
    expect(dismissed.status).toBe(200);
    expect(dismissed.json.status).toBe("dismissed");
    const listed = await api().request("GET", "/v1/inventory/reorder-suggestions?status=dismissed", { as: "viewer" });
    expect(listed.json.data.map((row: { sku: string }) => row.sku)).toContain(sku);
    const resolve = await api().request("POST", `/v1/inventory/reorder-suggestions/${id}/resolve`, { as: "staff" });
    expect(resolve.status).toBe(409);
    const unknown = await api().request(
      "POST",
      "/v1/inventory/reorder-suggestions/00000000-0000-4000-8000-000000000000/resolve",
      { as: "staff" },
    );
    expect(unknown.status).toBe(404);
    const malformed = await api().request("POST", "/v1/inventory/reorder-suggestions/not-a-uuid/resolve", {
      as: "staff",
    });
    expect(malformed.status).toBe(422);
  });
});

describe(`the OpenAPI document on ${engine}`, () => {
  it("answers 200 and describes the new inventory routes with a lower-case if-match", async () => {
    const response = await api().request("GET", "/v1/openapi.json");
    expect(response.status).toBe(200);
    const paths = response.json.paths as Record<string, Record<string, { parameters?: { name: string }[] }>>;
    expect(paths["/api/v1/inventory/levels"]?.patch).toBeDefined();
    expect(paths["/api/v1/inventory/reorder-suggestions/{id}/resolve"]?.post).toBeDefined();
    expect(paths["/api/v1/inventory/reorder-suggestions/{id}/dismiss"]?.post).toBeDefined();
    const patchLocation = paths["/api/v1/locations/{code}"]?.patch;
    expect(patchLocation?.parameters?.map((parameter) => parameter.name)).toContain("if-match");
  });
});
