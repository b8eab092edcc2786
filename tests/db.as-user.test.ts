import { describe, expect, it } from "vitest";
import { ROLE_TIMEOUTS } from "../packages/server/src/platform/db/types.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";

// Db.asUser opens its transaction with the role, claims and timeouts in one round trip (a script of
// escaped literals on Postgres): what the statements inside see must be exactly what was asked.
const ctx = useTestDatabase();

describe(`Db.asUser settings on ${engine}`, () => {
  it("the role, the claims (quotes, backslashes, unicode intact) and the subject reach the statements", async () => {
    const claims = {
      role: "authenticated" as const,
      sub: "00000000-0000-4000-8000-00000000beef",
      app_role: "staff",
      note: `it's a "quote" \\ back\\slash \\' and ünïcødé; select 1; --`,
    };
    const { rows } = await ctx.db.asUser(claims, (tx) =>
      tx.query<{ role: string; user: string; claims: unknown; sub: string }>(
        `select current_setting('role') as role, current_user as user,
                current_setting('request.jwt.claims')::jsonb as claims, current_setting('request.jwt.claim.sub') as sub`,
      ),
    );
    expect(rows[0]).toEqual({ role: "authenticated", user: "authenticated", claims, sub: claims.sub });
  });

  it("an anonymous caller has an empty subject, and the settings end with the transaction", async () => {
    const { rows } = await ctx.db.asUser({ role: "anon" }, (tx) =>
      tx.query<{ role: string; sub: string }>(
        "select current_setting('role') as role, current_setting('request.jwt.claim.sub') as sub",
      ),
    );
    expect(rows[0]).toEqual({ role: "anon", sub: "" });
    const after = await ctx.db.query<{ claims: string | null }>(
      "select nullif(current_setting('request.jwt.claims', true), '') as claims",
    );
    expect(after.rows[0]?.claims).toBeNull();
  });

  it.skipIf(!onPostgres)("the role's statement and lock timeouts apply inside", async () => {
    const { rows } = await ctx.db.asUser({ role: "anon" }, (tx) =>
      tx.query<{ statement: string; lock: string }>(
        `select (select setting from pg_settings where name = 'statement_timeout') as statement,
                (select setting from pg_settings where name = 'lock_timeout') as lock`,
      ),
    );
    expect(rows[0]).toEqual({
      statement: String(ROLE_TIMEOUTS.anon.statementMs),
      lock: String(ROLE_TIMEOUTS.anon.lockMs),
    });
  });

  it("a failed statement rolls the whole transaction back", async () => {
    await ctx.db.exec("create table if not exists public.as_user_probe (n int)");
    await expect(
      ctx.db.transaction(async (tx) => {
        await tx.query("insert into public.as_user_probe values (1)");
        await tx.query("select 1/0");
      }),
    ).rejects.toMatchObject({ code: "22012" });
    const { rows } = await ctx.db.query<{ n: number }>("select count(*)::int as n from public.as_user_probe");
    expect(rows[0]?.n).toBe(0);
  });
});
