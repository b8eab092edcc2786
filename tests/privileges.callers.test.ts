import { beforeAll, describe, expect, it } from "vitest";
import type { AppRole } from "../packages/server/src/http/auth.ts";
import type { DbClaims, Queryable } from "../packages/server/src/platform/db/types.ts";
import { DEMO_USERS } from "./helpers/app.ts";
import { claimsOf } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// Who the database believes the caller is, in every shape a session can take: a role set from a
// verified JWT with its claims, a role with no claims at all, and a role whose claims say more
// than the role itself (a `service_role` claim on an authenticated session).
const ctx = useTestDatabase();
const CUSTOMER: DbClaims = { role: "authenticated", sub: "00000000-0000-4000-8000-0000000000c2" };

type Caller = { name: string; run: <T>(work: (tx: Queryable) => Promise<T>) => Promise<T> };
const as = (claims: DbClaims): Caller => ({ name: JSON.stringify(claims), run: (work) => ctx.db.asUser(claims, work) });
/** A database role with no request.jwt.claims at all (a pooled session, a job, a misconfigured proxy). */
const bare = (role: "anon" | "authenticated" | "service_role"): Caller => ({
  name: `${role} without claims`,
  run: (work) =>
    ctx.db.transaction(async (tx) => {
      await tx.query("select set_config('role', $1, true)", [role]);
      return work(tx);
    }),
});
/** An authenticated session whose claims carry `role: service_role` (as anyone could set them). */
const claimingService = (appRole?: AppRole): Caller => ({
  name: `authenticated claiming service_role${appRole ? ` (${appRole})` : ""}`,
  run: (work) =>
    ctx.db.transaction(async (tx) => {
      const claims = { role: "service_role", sub: CUSTOMER.sub, ...(appRole ? { app_role: appRole } : {}) };
      await tx.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", [
        JSON.stringify(claims),
      ]);
      return work(tx);
    }),
});

const one = async <T>(caller: Caller, sql: string, params: unknown[] = []) =>
  caller.run(async (tx) => (await tx.query<{ v: T }>(sql, params)).rows[0]?.v);

describe(`handle lookups answer only staff on ${engine}`, () => {
  const draft = `secret-launch-${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    await ctx.db.query("insert into public.products (handle, title) values ($1, 'Unannounced')", [draft]);
  });
  const freeHandle = `select private.free_handle('public.products', $1, null) as v`;
  const taken = "select private.product_handles_taken(array[$1]) as v";

  it("anon may not call them at all", async () => {
    for (const sql of [freeHandle, taken]) {
      await expect(one(as({ role: "anon" }), sql, [draft])).rejects.toMatchObject({ code: "42501" });
    }
  });

  it("customers and viewers are refused; staff learn the handle is taken", async () => {
    for (const caller of [as(CUSTOMER), as(claimsOf("viewer")), bare("authenticated"), claimingService()]) {
      for (const sql of [freeHandle, taken]) {
        await expect(one(caller, sql, [draft]), caller.name).rejects.toMatchObject({ code: "P0F01" });
      }
    }
    expect(await one(as(claimsOf("staff")), freeHandle, [draft])).toBe(`${draft}-2`);
    expect(await one(as(claimsOf("staff")), taken, [draft])).toEqual([draft]);
    expect(await one(as({ role: "service_role" }), taken, [draft])).toEqual([draft]);
  });

  it("staff still create products whose handles are made unique by the rules trigger", async () => {
    const title = `Handle probe ${Math.random().toString(36).slice(2, 8)}`;
    const insert = "insert into public.products (title) values ($1) returning handle as v";
    const first = await one<string>(as(claimsOf("staff")), insert, [title]);
    const second = await one<string>(as(claimsOf("staff")), insert, [title]);
    expect(second).toBe(`${first}-2`);
  });
});

describe(`has_app_role trusts the database role, not a role claim, on ${engine}`, () => {
  const hasOwner = "select private.has_app_role('owner') as v";

  it("a service_role claim on an authenticated session counts for nothing", async () => {
    expect(await one(claimingService(), hasOwner)).toBe(false);
    expect(await one(claimingService("viewer"), hasOwner)).toBe(false);
    expect(await one(claimingService("viewer"), "select private.has_app_role('viewer') as v")).toBe(true);
    await expect(
      one(claimingService(), "select private.adjust_stock('NO-SUCH', 'main', 1, 'receipt') as v"),
    ).rejects.toMatchObject({ code: "P0F01" });
    await expect(
      one(claimingService(), "insert into public.brands (name) values ('Forged brand') returning id as v"),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^(42501|P0F01)$/) });
  });

  it("the service role itself (the database role) holds every role, with or without claims", async () => {
    expect(await one(as({ role: "service_role" }), hasOwner)).toBe(true);
    expect(await one(bare("service_role"), hasOwner)).toBe(true);
  });

  it("no claims, no role: anon and authenticated sessions without claims hold nothing", async () => {
    for (const caller of [bare("anon"), bare("authenticated")]) {
      expect(await one(caller, "select private.has_app_role('viewer') as v"), caller.name).toBe(false);
    }
  });
});

describe(`jobs belong to who started them, failing closed, on ${engine}`, () => {
  let job = "";
  beforeAll(async () => {
    job = (await one<string>(as(claimsOf("staff")), "select private.job_start('catalog.import', 1) as v")) as string;
  });

  it("an authenticated session without claims owns no job and cannot stage, take or record", async () => {
    const caller = bare("authenticated");
    expect(await one(caller, "select private.job_owned($1) as v", [job])).toBe(false);
    expect(await one(caller, "select private.job_status($1) as v", [job])).toBeNull();
    for (const sql of [
      `select private.import_stage($1, '[{"line": 2, "data": {"title": "Injected"}}]') as v`,
      "select count(*) as v from private.import_take($1, 10)",
      "select private.job_record($1, 1, 0, '[]') as v",
    ]) {
      await expect(one(caller, sql, [job]), sql).rejects.toMatchObject({ code: "P0N01" });
    }
  });

  it("another staff member, a customer and a forged service claim do not own it; its starter, a manager and the service role do", async () => {
    const owned = (caller: Caller) => one<boolean>(caller, "select private.job_owned($1) as v", [job]);
    const otherStaff: DbClaims = { role: "authenticated", sub: DEMO_USERS.viewer, app_role: "staff" };
    for (const caller of [as(otherStaff), as(CUSTOMER), claimingService()]) {
      expect(await owned(caller), caller.name).toBe(false);
    }
    for (const caller of [as(claimsOf("staff")), as(claimsOf("manager")), as({ role: "service_role" })]) {
      expect(await owned(caller), caller.name).toBe(true);
    }
  });
});
