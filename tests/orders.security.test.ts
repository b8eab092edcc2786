import { beforeAll, describe, expect, it } from "vitest";
import type { AppRole } from "../packages/server/src/http/auth.ts";
import type { DbClaims } from "../packages/server/src/platform/db/types.ts";
import { createTestApp, DEMO_USERS } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { receive, uniqueSku } from "./helpers/inventory.ts";
import { createSellableVariants, customer } from "./helpers/orders.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const staffClaims = (role: AppRole): DbClaims => ({ role: "authenticated", sub: DEMO_USERS[role], app_role: role });
const CUSTOMER: DbClaims = { role: "authenticated", sub: "00000000-0000-4000-8000-0000000000c1" };
const ANON: DbClaims = { role: "anon" };
const SKU = uniqueSku("ORD-SEC");
let orderId = "";

const asUser = <T>(claims: DbClaims, sql: string, params: unknown[] = []) =>
  ctx.db.asUser(claims, (tx) => tx.query<T & Record<string, unknown>>(sql, params));

beforeAll(async () => {
  await createSellableVariants(ctx.db, [SKU]);
  await receive(ctx.db, SKU, "main", 100);
  orderId = (
    await api().request("POST", "/v1/orders", { as: "staff", body: { items: [{ sku: SKU, quantity: 1 }], customer } })
  ).json.id;
});

describe(`orders API access by role on ${engine}`, () => {
  const ROLES: AppRole[] = ["owner", "admin", "manager", "staff", "viewer"];
  const routes: [string, () => string, unknown, AppRole][] = [
    ["GET", () => "/v1/orders", undefined, "viewer"],
    ["GET", () => `/v1/orders/${orderId}`, undefined, "viewer"],
    ["POST", () => "/v1/orders", { items: [{ sku: SKU, quantity: 1 }], customer }, "staff"],
    ["POST", () => `/v1/orders/${orderId}/status`, { status: "paid" }, "staff"],
  ];

  it.each(routes)(
    "%s %s refuses anonymous callers and roles below the minimum",
    async (method, path, body, minimum) => {
      expect((await api().request(method, path(), { body })).status).toBe(401);
      for (const role of ROLES.slice(ROLES.indexOf(minimum) + 1)) {
        expect({ role, status: (await api().request(method, path(), { as: role, body })).status }).toEqual({
          role,
          status: 403,
        });
      }
      expect((await api().request(method, path(), { as: minimum, body })).status).toBeLessThan(300);
    },
  );
});

describe(`order tables through direct access (as PostgREST would) on ${engine}`, () => {
  const tables = ["orders", "order_lines", "order_status_history"];

  it("viewers and up read orders; customers see none; anon has no access", async () => {
    for (const table of tables) {
      const { rows } = await asUser<{ n: number }>(
        staffClaims("viewer"),
        `select count(*)::int as n from public.${table}`,
      );
      expect({ table, n: rows[0]?.n }).toEqual({ table, n: expect.any(Number) });
      expect(rows[0]?.n).toBeGreaterThan(0);
      const hidden = await asUser<{ n: number }>(CUSTOMER, `select count(*)::int as n from public.${table}`);
      expect({ table, n: hidden.rows[0]?.n }).toEqual({ table, n: 0 });
      await expect(asUser(ANON, `select * from public.${table}`)).rejects.toMatchObject({ code: "42501" });
    }
  });

  it("nobody writes orders directly: status, totals and lines change only through the order functions", async () => {
    for (const role of ["staff", "owner"] as const) {
      const claims = staffClaims(role);
      await expect(
        asUser(claims, "update public.orders set status = 'shipped' where id = $1", [orderId]),
      ).rejects.toMatchObject({ code: "42501" });
      await expect(
        asUser(claims, "update public.order_lines set unit_price_amount = 0 where order_id = $1", [orderId]),
      ).rejects.toMatchObject({ code: "42501" });
      await expect(
        asUser(
          claims,
          `insert into public.order_lines (order_id, line_no, variant_id, sku, title, quantity, unit_price_amount)
           select order_id, 99, variant_id, sku, title, 1, 0 from public.order_lines where order_id = $1 limit 1`,
          [orderId],
        ),
      ).rejects.toMatchObject({ code: "42501" });
      await expect(asUser(claims, "delete from public.orders where id = $1", [orderId])).rejects.toMatchObject({
        code: "42501",
      });
      await expect(
        asUser(
          claims,
          "select private.order_record_transition(o, 'shipped', null, 'api') from public.orders o where o.id = $1",
          [orderId],
        ),
      ).rejects.toMatchObject({ code: "42501" });
    }
  });

  it("the order functions check the caller's role; anon cannot run them at all", async () => {
    const order = JSON.stringify({ items: [{ sku: SKU, quantity: 1 }], customer });
    await expect(asUser(staffClaims("viewer"), "select private.place_order($1::jsonb)", [order])).rejects.toMatchObject(
      {
        code: "P0F01",
      },
    );
    await expect(asUser(CUSTOMER, "select private.get_order($1)", [orderId])).rejects.toMatchObject({ code: "P0F01" });
    await expect(asUser(CUSTOMER, "select private.set_order_status($1, 'cancelled')", [orderId])).rejects.toMatchObject(
      { code: "P0F01" },
    );
    await expect(asUser(ANON, "select private.place_order($1::jsonb)", [order])).rejects.toMatchObject({
      code: "42501",
    });
    // Only the service role (inbound webhooks) names another source than `api`.
    await expect(
      asUser(staffClaims("owner"), "select private.order_transition($1, 'paid', 'webhook:pms-order')", [orderId]),
    ).rejects.toMatchObject({ code: "42501" });
  });
});
