import { describe, expect, it, vi } from "vitest";
import { listMigrations, migrate } from "../packages/local/src/migrate.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();

describe(`migrations on ${engine}`, () => {
  it("records every migration in the Supabase CLI's history table", async () => {
    const expected = (await listMigrations()).map((migration) => migration.version);
    const { rows } = await ctx.db.query<{ version: string; name: string }>(
      "select version, name from supabase_migrations.schema_migrations order by version",
    );
    expect(rows.map((row) => row.version)).toEqual(expected);
    expect(rows.every((row) => row.name.length > 0)).toBe(true);
  });

  it("re-running applies nothing and changes no schema object", async () => {
    const snapshot = () =>
      ctx.db.query(`select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
                    where n.nspname in ('public', 'private', 'auth') order by 1, 2`);
    const before = await snapshot();
    const result = await migrate(ctx.db, { seed: true });
    expect(result).toEqual({ shimApplied: false, applied: [], seeded: true });
    expect(await snapshot()).toEqual(before);
  });

  it("SQL parameters are bare names: no function in public or private takes a p_-prefixed one", async () => {
    const { rows } = await ctx.db.query<{ fn: string }>(
      `select p.oid::regprocedure::text as fn
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('public', 'private')
         and exists (select 1 from unnest(p.proargnames) as a(name) where a.name like 'p\\_%')`,
    );
    expect(rows.map((row) => row.fn)).toEqual([]);
  });

  it("the shim's auth.uid(), auth.role() and auth.jwt() read request.jwt.claims", async () => {
    const sub = "00000000-0000-4000-8000-0000000000aa";
    const { rows } = await ctx.db.asUser({ role: "authenticated", sub, app_role: "staff" }, (tx) =>
      tx.query<{ uid: string; role: string; app_role: string; current_role: string }>(
        "select auth.uid() as uid, auth.role() as role, auth.jwt() ->> 'app_role' as app_role, current_user as current_role",
      ),
    );
    expect(rows[0]).toEqual({ uid: sub, role: "authenticated", app_role: "staff", current_role: "authenticated" });
  });

  it("leaves nothing of an as-user transaction behind on the connection", async () => {
    await ctx.db.asUser({ role: "anon" }, (tx) => tx.query("select 1"));
    const { rows } = await ctx.db.query<{ claims: string | null; role: string }>(
      "select nullif(current_setting('request.jwt.claims', true), '') as claims, current_user as role",
    );
    expect(rows[0]).toEqual({ claims: null, role: "postgres" });
  });
});

describe(`database security on ${engine}`, () => {
  it("every table in public has row level security enabled", async () => {
    const { rows } = await ctx.db.query<{ table: string }>(
      `select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity`,
    );
    expect(rows).toEqual([]);
  });

  it("every security definer function pins search_path to ''", async () => {
    const { rows } = await ctx.db.query<{ fn: string }>(
      `select p.oid::regprocedure::text as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('public', 'private') and p.prosecdef
         and not coalesce(p.proconfig @> array['search_path=""'], false)`,
    );
    expect(rows).toEqual([]);
  });

  it("API roles cannot read private tables", async () => {
    for (const role of ["anon", "authenticated"] as const) {
      await expect(ctx.db.asUser({ role }, (tx) => tx.query("select * from private.events"))).rejects.toMatchObject({
        code: "42501",
      });
    }
  });

  it("functions in public are executable by anon or authenticated only where granted on purpose", async () => {
    // The Data API exposes public functions as rpc(); each one callable by clients is listed here.
    const clientCallable: string[] = [];
    const { rows } = await ctx.db.query<{ fn: string }>(
      `select p.oid::regprocedure::text as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'public' and (has_function_privilege('anon', p.oid, 'execute')
         or has_function_privilege('authenticated', p.oid, 'execute'))
       order by 1`,
    );
    expect(rows.map((row) => row.fn)).toEqual(clientCallable);
  });
});

describe(`outbox on ${engine}`, () => {
  it("emit_event writes in the caller's transaction and rolls back with it", async () => {
    const count = async () =>
      Number(
        (await ctx.db.query<{ n: string }>("select count(*) as n from private.events where topic = 'test.rollback'"))
          .rows[0]?.n,
      );
    await expect(
      ctx.db.transaction(async (tx) => {
        await tx.query("select private.emit_event('test.rollback', '{}')");
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await count()).toBe(0);
    await ctx.db.transaction((tx) => tx.query("select private.emit_event('test.rollback', '{\"n\": 1}')"));
    expect(await count()).toBe(1);
  });

  it("events_after reads committed events in order from a cursor", async () => {
    await ctx.db.query("select private.emit_event('test.cursor', jsonb_build_object('n', 1))");
    await ctx.db.query("select private.emit_event('test.cursor', jsonb_build_object('n', 2))");
    // An event is readable once no older transaction is still in flight anywhere in the cluster
    // (xids are cluster-wide), so other suites' open transactions may hold it back for a moment.
    const rows = await vi.waitFor(
      async () => {
        const { rows } = await ctx.db.query<{ id: string; transaction_id: string; payload: { n: number } }>(
          "select id, transaction_id::text, payload from private.events_after('0'::xid8, 0) where topic = 'test.cursor'",
        );
        expect(rows.map((row) => row.payload.n)).toEqual([1, 2]);
        return rows;
      },
      { timeout: 15_000, interval: 50 },
    );
    const first = rows[0];
    const after = await ctx.db.query<{ payload: { n: number } }>(
      "select payload from private.events_after($1::xid8, $2) where topic = 'test.cursor'",
      [first?.transaction_id, first?.id],
    );
    expect(after.rows.map((row) => row.payload.n)).toEqual([2]);
  });

  it("rejects a malformed topic", async () => {
    await expect(ctx.db.query("select private.emit_event('NoDots', '{}')")).rejects.toMatchObject({ code: "23514" });
  });
});

describe(`audit trail on ${engine}`, () => {
  it("records old and new row with the acting user", async () => {
    const owner = "00000000-0000-4000-8000-000000000001";
    const viewer = "00000000-0000-4000-8000-000000000005";
    await ctx.db.asUser({ role: "authenticated", sub: owner, app_role: "owner" }, (tx) =>
      tx.query("update public.user_roles set app_role = 'staff' where user_id = $1", [viewer]),
    );
    const { rows } = await ctx.db.query<{
      operation: string;
      old_role: string;
      new_role: string;
      actor_id: string;
      actor_role: string;
    }>(
      `select operation, old_row ->> 'app_role' as old_role, new_row ->> 'app_role' as new_role, actor_id::text, actor_role
       from private.audit_log where table_name = 'public.user_roles' and record_id = $1
       order by id desc limit 1`,
      [viewer],
    );
    expect(rows[0]).toEqual({
      operation: "UPDATE",
      old_role: "viewer",
      new_role: "staff",
      actor_id: owner,
      actor_role: "owner",
    });
    await ctx.db.query("update public.user_roles set app_role = 'viewer' where user_id = $1", [viewer]);
  });
});
