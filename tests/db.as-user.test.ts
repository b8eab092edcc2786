import { describe, expect, it } from "vitest";
import { type DbClaims, ROLE_TIMEOUTS } from "../packages/server/src/platform/db/types.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";

// Db.asUser opens its transaction with the role, claims and timeouts sent ahead of its first statement
// (pipelined on Postgres), and Db.queryAsUser sends begin, settings, statement and commit at once:
// what the statements inside see must be exactly what was asked, and each transaction stays whole.
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
    const one = await ctx.db.queryAsUser<{ statement: string; lock: string }>(
      { role: "anon" },
      `select (select setting from pg_settings where name = 'statement_timeout') as statement,
              (select setting from pg_settings where name = 'lock_timeout') as lock`,
    );
    expect(one.rows[0]).toEqual(rows[0]);
    // In force for the statement itself, not only visible to it.
    await expect(ctx.db.queryAsUser({ role: "anon" }, "select pg_sleep(10)")).rejects.toMatchObject({
      code: "57014",
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

  it("queryAsUser: one statement as the caller, its settings gone after it, concurrent callers apart", async () => {
    const subs = Array.from({ length: 40 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
    const answers = await Promise.all(
      subs.map((sub, i) =>
        ctx.db.queryAsUser<{ role: string; sub: string; app_role: string; n: number }>(
          { role: i % 2 ? "authenticated" : "anon", sub, app_role: `r${i}` },
          `select current_user as role, current_setting('request.jwt.claim.sub') as sub,
                  current_setting('request.jwt.claims')::jsonb->>'app_role' as app_role, $1::int as n`,
          [i],
        ),
      ),
    );
    answers.forEach(({ rows }, i) => {
      expect(rows[0]).toEqual({ role: i % 2 ? "authenticated" : "anon", sub: subs[i], app_role: `r${i}`, n: i });
    });
    const after = await ctx.db.query<{ role: string; claims: string | null }>(
      "select current_user as role, nullif(current_setting('request.jwt.claims', true), '') as claims",
    );
    expect(after.rows[0]).toEqual({ role: "postgres", claims: null });
  });

  it("queryAsUser: RLS and grants apply, and a failed statement leaves nothing behind", async () => {
    await expect(ctx.db.queryAsUser({ role: "anon" }, "select count(*) from private.events")).rejects.toMatchObject({
      code: "42501",
    });
    await ctx.db.exec(
      "create table if not exists public.as_user_writes (n int); grant insert, select on public.as_user_writes to authenticated",
    );
    const claims = { role: "authenticated" as const, sub: "00000000-0000-4000-8000-00000000beef" };
    await expect(
      ctx.db.queryAsUser(
        claims,
        "with written as (insert into public.as_user_writes values (1) returning n) select n / 0 from written",
      ),
    ).rejects.toMatchObject({ code: "22012" });
    const written = await ctx.db.queryAsUser<{ n: number }>(
      claims,
      "insert into public.as_user_writes values (2) returning n",
    );
    expect(written).toEqual({ rows: [{ n: 2 }], rowCount: 1 });
    const { rows } = await ctx.db.query<{ n: number }>("select n from public.as_user_writes order by n");
    expect(rows).toEqual([{ n: 2 }]);
  });

  it("a setting the server refuses is the error the caller sees, not the aborted statements behind it", async () => {
    const nobody = { role: "no_such_role" } as unknown as DbClaims;
    await expect(ctx.db.queryAsUser(nobody, "select 1")).rejects.toMatchObject({ code: "22023" });
    await expect(ctx.db.asUser(nobody, (tx) => tx.query("select 1"))).rejects.toMatchObject({ code: "22023" });
    // The connections are fine afterwards.
    expect((await ctx.db.asUser({ role: "anon" }, (tx) => tx.query("select 1 as one"))).rows).toEqual([{ one: 1 }]);
  });

  it("a transaction's statements after the first still see the settings, and a failure inside rolls it all back", async () => {
    await ctx.db.exec(
      "create table if not exists public.as_user_steps (n int); grant insert on public.as_user_steps to authenticated",
    );
    const claims = { role: "authenticated" as const, sub: "00000000-0000-4000-8000-00000000cafe" };
    const seen = await ctx.db.asUser(claims, async (tx) => {
      await tx.query("insert into public.as_user_steps values (1)");
      const { rows } = await tx.query<{ sub: string; role: string }>(
        "select current_setting('request.jwt.claim.sub') as sub, current_user as role",
      );
      return rows[0];
    });
    expect(seen).toEqual({ sub: claims.sub, role: "authenticated" });
    await expect(
      ctx.db.asUser(claims, async (tx) => {
        await tx.query("insert into public.as_user_steps values (2)");
        await tx.query("select 1/0");
      }),
    ).rejects.toMatchObject({ code: "22012" });
    const { rows } = await ctx.db.query<{ n: number }>("select n from public.as_user_steps order by n");
    expect(rows).toEqual([{ n: 1 }]);
  });
});
