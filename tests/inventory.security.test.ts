import { beforeAll, describe, expect, it } from "vitest";
import type { AppRole } from "../packages/server/src/http/auth.ts";
import type { DbClaims } from "../packages/server/src/platform/db/types.ts";
import { createTestApp, DEMO_USERS } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { createVariants, level, receive, uniqueSku } from "./helpers/inventory.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const staffClaims = (role: AppRole): DbClaims => ({ role: "authenticated", sub: DEMO_USERS[role], app_role: role });
const CUSTOMER: DbClaims = { role: "authenticated", sub: "00000000-0000-4000-8000-0000000000c1" };
const ANON: DbClaims = { role: "anon" };
const SKU = uniqueSku("SEC");
let variantId = "";
let mainId = "";

beforeAll(async () => {
  [variantId] = (await createVariants(ctx.db, [SKU])) as [string];
  await receive(ctx.db, SKU, "main", 50);
  const { rows } = await ctx.db.query<{ id: string }>("select id from public.locations where code = 'main'");
  mainId = rows[0]?.id as string;
});

const asUser = <T>(claims: DbClaims, sql: string, params: unknown[] = []) =>
  ctx.db.asUser(claims, (tx) => tx.query<T & Record<string, unknown>>(sql, params));

describe(`inventory API access by role on ${engine}`, () => {
  const reserve = { items: [{ sku: SKU, quantity: 1 }] };
  const adjust = { sku: SKU, location_code: "main", delta: 1, kind: "receipt" };
  const routes: [string, string, unknown, AppRole][] = [
    ["GET", "/v1/locations", undefined, "viewer"],
    ["POST", "/v1/locations", { code: "sec-loc", name: "x" }, "manager"],
    ["PATCH", "/v1/locations/main", { name: "Main warehouse" }, "manager"],
    ["POST", "/v1/inventory/adjust", adjust, "staff"],
    [
      "POST",
      "/v1/inventory/transfers",
      { sku: SKU, from_location_code: "main", to_location_code: "sec-loc", quantity: 1 },
      "staff",
    ],
    ["GET", `/v1/inventory/status?sku=${SKU}`, undefined, "viewer"],
    ["GET", `/v1/inventory/history?sku=${SKU}`, undefined, "viewer"],
    ["POST", "/v1/inventory/reservations", reserve, "staff"],
    ["GET", "/v1/inventory/reorder-suggestions", undefined, "viewer"],
    ["POST", "/v1/inventory/verify", undefined, "staff"],
    ["PATCH", "/v1/inventory/levels", { sku: SKU, location_code: "main", reorder_point: 2 }, "manager"],
  ];

  it.each(routes)(
    "%s %s refuses anonymous callers and roles below the minimum",
    async (method, path, body, minimum) => {
      expect((await api().request(method, path, { body })).status).toBe(401);
      const order: AppRole[] = ["owner", "admin", "manager", "staff", "viewer"];
      for (const role of order.slice(order.indexOf(minimum) + 1)) {
        const refused = await api().request(method, path, { as: role, body });
        expect({ role, status: refused.status }).toEqual({ role, status: 403 });
      }
      const allowed = await api().request(method, path, { as: minimum, body });
      expect({ minimum, status: allowed.status }).toEqual({ minimum, status: expect.any(Number) });
      expect(allowed.status).toBeLessThan(300);
    },
  );

  it("the service role reserves and releases", async () => {
    const { mintToken } = await import("../packages/local/src/tokens.ts");
    const { TEST_SECRET } = await import("./helpers/app.ts");
    const token = await mintToken({ secret: TEST_SECRET, role: "service_role" });
    const created = await api().request("POST", "/v1/inventory/reservations", {
      token,
      body: { items: [{ sku: SKU, quantity: 1 }] },
    });
    expect(created.status).toBe(201);
    const released = await api().request("POST", `/v1/inventory/reservations/${created.json.id}/release`, { token });
    expect(released.json.status).toBe("released");
  });
});

describe(`inventory tables through direct access (as PostgREST would) on ${engine}`, () => {
  const tables = [
    "locations",
    "stock_levels",
    "stock_movements",
    "reservations",
    "reservation_items",
    "reorder_suggestions",
  ];

  it("viewers and up read every inventory table; customers see nothing; anon has no access", async () => {
    for (const table of tables) {
      for (const role of ["viewer", "staff", "owner"] as const) {
        const { rows } = await asUser(staffClaims(role), `select count(*)::int as n from public.${table}`);
        if (["locations", "stock_levels", "stock_movements"].includes(table)) expect(rows[0]?.n).toBeGreaterThan(0);
      }
      const customer = await asUser<{ n: number }>(CUSTOMER, `select count(*)::int as n from public.${table}`);
      expect({ table, n: customer.rows[0]?.n }).toEqual({ table, n: 0 });
      await expect(asUser(ANON, `select * from public.${table}`)).rejects.toMatchObject({ code: "42501" });
    }
  });

  const insertMovement = (claims: DbClaims, kind: string, quantity: number) =>
    asUser(
      claims,
      "insert into public.stock_movements (variant_id, location_id, kind, quantity) values ($1, $2, $3, $4)",
      [variantId, mainId, kind, quantity],
    );

  it("nobody inserts movements directly, whatever the kind: manual movements go through adjust_stock", async () => {
    const before = await level(ctx.db, SKU, "main");
    for (const claims of [staffClaims("owner"), staffClaims("staff"), staffClaims("viewer"), CUSTOMER, ANON]) {
      for (const [kind, quantity] of [
        ["receipt", 3],
        ["return", 1],
        ["sale", -1],
        ["transfer_out", -1],
      ] as const) {
        await expect(
          insertMovement(claims, kind, quantity),
          `${claims.app_role ?? claims.role} ${kind}`,
        ).rejects.toMatchObject({
          code: "42501",
        });
      }
    }
    await expect(
      asUser(
        { role: "service_role" },
        "insert into public.stock_movements (variant_id, location_id, kind, quantity) values ($1, $2, 'receipt', 1)",
        [variantId, mainId],
      ),
    ).rejects.toMatchObject({ code: "42501" });
    const adjusted = await asUser<{ v: { level: { on_hand: number } } }>(
      staffClaims("staff"),
      "select private.adjust_stock($1, 'main', 3, 'receipt') as v",
      [SKU],
    );
    expect(adjusted.rows[0]?.v.level.on_hand).toBe((before?.on_hand ?? 0) + 3);
    const { rows } = await ctx.db.query<{ actor_id: string }>(
      "select actor_id from public.stock_movements where variant_id = $1 order by id desc limit 1",
      [variantId],
    );
    expect(rows[0]?.actor_id).toBe(DEMO_USERS.staff);
  });

  it("a manual movement cannot pass for an order's return, a transfer leg or a reservation's sale", async () => {
    const before = await level(ctx.db, SKU, "main");
    const orderId = "00000000-0000-4000-8000-00000000beef";
    for (const type of ["order", "transfer", "reservation"]) {
      await expect(
        asUser(staffClaims("owner"), "select private.adjust_stock($1, 'main', 1, 'return', null, $2, $3)", [
          SKU,
          type,
          orderId,
        ]),
      ).rejects.toMatchObject({ code: "P0V01" });
      // Whichever function writes it: the ledger itself refuses the forged reference.
      await expect(
        asUser(staffClaims("owner"), "select private.count_stock($1, 'main', 500, null, $2, $3)", [SKU, type, orderId]),
      ).rejects.toMatchObject({ code: "P0V01" });
      await expect(
        ctx.db.query(
          "insert into public.stock_movements (variant_id, location_id, kind, quantity, reference_type, reference_id) values ($1, $2, 'return', 1, $3, $4)",
          [variantId, mainId, type, orderId],
        ),
      ).rejects.toMatchObject({ code: "P0V01" });
      const response = await api().request("POST", "/v1/inventory/adjust", {
        as: "owner",
        body: { sku: SKU, location_code: "main", delta: 1, kind: "return", reference: { type, id: orderId } },
      });
      expect({ type, status: response.status }).toEqual({ type, status: 422 });
      expect(response.json.errors?.[0]?.field).toMatch(/reference/);
    }
    const ok = await api().request("POST", "/v1/inventory/adjust", {
      as: "staff",
      body: {
        sku: SKU,
        location_code: "main",
        delta: 1,
        kind: "receipt",
        reference: { type: "purchase_order", id: "PO-7" },
      },
    });
    expect(ok.status, ok.text).toBe(201);
    expect((await level(ctx.db, SKU, "main"))?.on_hand).toBe((before?.on_hand ?? 0) + 1);
  });

  it("only the ledger trigger moves on_hand: a trigger chain at any depth is refused", async () => {
    // The old guard trusted trigger depth 2; any trigger that updates a level sits there too.
    const attempt = ctx.db.transaction(async (tx) => {
      await tx.exec(`
        create temporary table ledger_probe (n int);
        create function pg_temp.ledger_probe_bump() returns trigger language plpgsql as $$
        begin
          update public.stock_levels set on_hand = on_hand + 1000 where variant_id = '${variantId}';
          return new;
        end $$;
        create trigger ledger_probe_after_insert after insert on ledger_probe
          for each row execute function pg_temp.ledger_probe_bump();
      `);
      await tx.query("insert into ledger_probe values (1)");
    });
    await expect(attempt).rejects.toMatchObject({ code: "P0F01" });
  });

  it("nobody writes on_hand, reserved or reservations directly", async () => {
    for (const role of ["staff", "owner"] as const) {
      await expect(
        asUser(staffClaims(role), "update public.stock_levels set on_hand = 999 where variant_id = $1", [variantId]),
      ).rejects.toMatchObject({ code: "42501" });
      await expect(
        asUser(staffClaims(role), "update public.stock_levels set reserved = 0 where variant_id = $1", [variantId]),
      ).rejects.toMatchObject({ code: "42501" });
      await expect(
        asUser(staffClaims(role), "insert into public.reservations (expires_at) values (now() + interval '1 hour')"),
      ).rejects.toMatchObject({ code: "42501" });
      await expect(
        asUser(staffClaims(role), "delete from public.stock_movements where variant_id = $1", [variantId]),
      ).rejects.toMatchObject({ code: "42501" });
    }
  });

  it("managers and up set reorder points; staff's update touches no row", async () => {
    const byStaff = await asUser(
      staffClaims("staff"),
      "update public.stock_levels set reorder_point = 3 where variant_id = $1",
      [variantId],
    );
    expect(byStaff.rowCount).toBe(0);
    const byManager = await asUser(
      staffClaims("manager"),
      "update public.stock_levels set reorder_point = 3 where variant_id = $1 and location_id = $2",
      [variantId, mainId],
    );
    expect(byManager.rowCount).toBe(1);
  });

  it("the stock functions check the caller's role; anon cannot run them at all", async () => {
    const items = JSON.stringify([{ sku: SKU, quantity: 1 }]);
    await expect(
      asUser(staffClaims("viewer"), "select private.reserve_stock($1::jsonb)", [items]),
    ).rejects.toMatchObject({
      code: "P0F01",
    });
    await expect(asUser(CUSTOMER, "select private.reserve_stock($1::jsonb)", [items])).rejects.toMatchObject({
      code: "P0F01",
    });
    await expect(asUser(ANON, "select private.reserve_stock($1::jsonb)", [items])).rejects.toMatchObject({
      code: "42501",
    });
    await expect(
      asUser(staffClaims("viewer"), "select private.adjust_stock($1, 'main', 1, 'receipt')", [SKU]),
    ).rejects.toMatchObject({ code: "P0F01" });
    await expect(asUser(CUSTOMER, "select private.stock_status($1)", [SKU])).rejects.toMatchObject({ code: "P0F01" });
    await expect(asUser(staffClaims("owner"), "select private.expire_reservations()")).rejects.toMatchObject({
      code: "42501",
    });
    const { rows } = await asUser<{ result: { id: string } }>(
      staffClaims("staff"),
      "select private.reserve_stock($1::jsonb) as result",
      [items],
    );
    expect(rows[0]?.result.id).toEqual(expect.any(String));
  });
});
