import { describe, expect, it } from "vitest";
import type { DbClaims } from "../packages/server/src/platform/db/types.ts";
import { createTestApp, DEMO_USERS } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const claimsOf = (role: keyof typeof DEMO_USERS): DbClaims => ({
  role: "authenticated",
  sub: DEMO_USERS[role],
  app_role: role,
});
const NEW_USER = "00000000-0000-4000-8000-0000000000b1";

describe(`staff roles through the API on ${engine}`, () => {
  it("GET /me answers the caller and their role", async () => {
    const response = await api().request("GET", "/v1/me", { as: "staff" });
    expect(response.json).toEqual({ user_id: DEMO_USERS.staff, app_role: "staff" });
    expect((await api().request("GET", "/v1/me")).status).toBe(401);
  });

  it("an admin lists every role, paging with a cursor", async () => {
    const first = await api().request("GET", "/v1/users/roles?limit=3", { as: "admin" });
    expect(first.status).toBe(200);
    expect(first.json.data).toHaveLength(3);
    const second = await api().request("GET", `/v1/users/roles?limit=3&cursor=${first.json.next_cursor}`, {
      as: "admin",
    });
    expect(second.json.data.length).toBeGreaterThanOrEqual(2);
    expect(second.json.data.map((row: { user_id: string }) => row.user_id)).not.toContain(first.json.data[0].user_id);
    const all = [...first.json.data, ...second.json.data].map((row: { app_role: string }) => row.app_role);
    expect(all.slice(0, 5)).toEqual(["owner", "admin", "manager", "staff", "viewer"]);
  });

  it("an admin grants and revokes a role; the grant is audited", async () => {
    await ctx.db.query("insert into auth.users (id, email) values ($1, 'new@storekeep.local')", [NEW_USER]);
    const granted = await api().request("PUT", `/v1/users/${NEW_USER}/role`, {
      as: "admin",
      body: { app_role: "staff" },
    });
    expect(granted.status).toBe(200);
    expect(granted.json).toMatchObject({ user_id: NEW_USER, app_role: "staff" });
    const audit = await ctx.db.query(
      "select actor_id from private.audit_log where record_id = $1 and operation = 'INSERT'",
      [NEW_USER],
    );
    expect(audit.rows).toEqual([{ actor_id: DEMO_USERS.admin }]);

    expect((await api().request("DELETE", `/v1/users/${NEW_USER}/role`, { as: "admin" })).status).toBe(204);
    expect((await api().request("DELETE", `/v1/users/${NEW_USER}/role`, { as: "admin" })).status).toBe(404);
  });

  it("an unknown user is 404", async () => {
    const response = await api().request("PUT", "/v1/users/00000000-0000-4000-8000-0000000000ff/role", {
      as: "admin",
      body: { app_role: "staff" },
    });
    expect(response.status).toBe(404);
  });

  it("only an owner grants owner", async () => {
    await ctx.db.query("insert into auth.users (id) values ($1) on conflict do nothing", [NEW_USER]);
    const byAdmin = await api().request("PUT", `/v1/users/${NEW_USER}/role`, {
      as: "admin",
      body: { app_role: "owner" },
    });
    expect(byAdmin.status).toBe(403);
    const byOwner = await api().request("PUT", `/v1/users/${NEW_USER}/role`, {
      as: "owner",
      body: { app_role: "owner" },
    });
    expect(byOwner.status).toBe(200);
    const demote = await api().request("PUT", `/v1/users/${NEW_USER}/role`, {
      as: "admin",
      body: { app_role: "viewer" },
    });
    expect(demote.status).toBe(403);
    await ctx.db.query("delete from public.user_roles where user_id = $1", [NEW_USER]);
  });
});

describe(`row level security on public.user_roles, direct table access, on ${engine}`, () => {
  const visible = (claims: DbClaims) =>
    ctx.db.asUser(claims, async (tx) => (await tx.query("select user_id from public.user_roles")).rows.length);

  it("anon reads nothing", async () => {
    await expect(visible({ role: "anon" })).rejects.toMatchObject({ code: "42501" });
  });

  it("a staff member or viewer reads only their own row", async () => {
    expect(await visible(claimsOf("staff"))).toBe(1);
    expect(await visible(claimsOf("viewer"))).toBe(1);
  });

  it("an admin reads every row; the service role bypasses RLS", async () => {
    const total = Number((await ctx.db.query<{ n: string }>("select count(*) as n from public.user_roles")).rows[0]?.n);
    expect(await visible(claimsOf("admin"))).toBe(total);
    expect(await visible({ role: "service_role" })).toBe(total);
  });

  it("a staff member cannot promote themselves", async () => {
    const updated = await ctx.db.asUser(claimsOf("staff"), (tx) =>
      tx.query("update public.user_roles set app_role = 'owner' where user_id = $1", [DEMO_USERS.staff]),
    );
    expect(updated.rowCount).toBe(0);
    const { rows } = await ctx.db.query("select app_role from public.user_roles where user_id = $1", [
      DEMO_USERS.staff,
    ]);
    expect(rows).toEqual([{ app_role: "staff" }]);
  });

  it("private.has_app_role ranks roles and refuses unknown or missing ones", async () => {
    const check = (claims: DbClaims, minimum: string) =>
      ctx.db.asUser(claims, async (tx) => {
        const { rows } = await tx.query<{ ok: boolean }>("select private.has_app_role($1::public.app_role) as ok", [
          minimum,
        ]);
        return rows[0]?.ok;
      });
    expect(await check(claimsOf("manager"), "staff")).toBe(true);
    expect(await check(claimsOf("manager"), "manager")).toBe(true);
    expect(await check(claimsOf("manager"), "admin")).toBe(false);
    expect(await check({ role: "authenticated", sub: DEMO_USERS.staff, app_role: "god" }, "viewer")).toBe(false);
    expect(await check({ role: "authenticated", sub: DEMO_USERS.staff }, "viewer")).toBe(false);
    expect(await check({ role: "service_role" }, "owner")).toBe(true);
  });

  it("the custom access token hook adds app_role to the claims", async () => {
    const event = {
      user_id: DEMO_USERS.manager,
      claims: { sub: DEMO_USERS.manager, role: "authenticated", app_role: "forged" },
    };
    const { rows } = await ctx.db.query<{ result: { claims: Record<string, unknown> } }>(
      "select public.custom_access_token_hook($1::jsonb) as result",
      [JSON.stringify(event)],
    );
    expect(rows[0]?.result.claims.app_role).toBe("manager");
    const customer = { user_id: "00000000-0000-4000-8000-0000000000c1", claims: { app_role: "owner" } };
    const stripped = await ctx.db.query<{ result: { claims: Record<string, unknown> } }>(
      "select public.custom_access_token_hook($1::jsonb) as result",
      [JSON.stringify(customer)],
    );
    expect(stripped.rows[0]?.result.claims).toEqual({});
  });
});
