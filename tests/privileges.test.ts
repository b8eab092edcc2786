import { describe, expect, it } from "vitest";
import type { Queryable } from "../packages/server/src/platform/db/types.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { API_ROLES, apiGrants, type Grants } from "./helpers/privileges.ts";

// The privilege audit: every table, view, sequence and function in `public` and `private` on which
// anon, authenticated or service_role holds any right, with exactly those rights. A new object
// with rights, or new rights on an old one, fails until it is added here: grant in the migration
// what the object needs, then copy the line the failure prints (keep the list sorted; one line per
// object). Objects on which no API role holds anything are not listed.
//   Words: select insert update delete truncate references trigger maintain (tables, views),
//   `insert(a, b)` (a right on those columns only), usage select update (sequences), execute.
// biome-ignore format: one line per object, so parallel additions do not touch each other's lines
const ALLOWED: Record<string, Grants> = {
  "function private.adjust_stock(text, text, integer, text, text, text, text, text)": { authenticated: "execute", service_role: "execute" },
  "function private.api_key_authenticate(text, text)": { service_role: "execute" },
  "function private.api_key_create(text, text, text[], public.app_role, timestamp with time zone)": { authenticated: "execute", service_role: "execute" },
  "function private.api_key_get(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.api_key_list(timestamp with time zone, uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.api_key_revoke(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.api_key_rotate(uuid, interval, timestamp with time zone)": { authenticated: "execute", service_role: "execute" },
  "function private.api_key_warnings(interval, interval, interval)": { service_role: "execute" },
  "function private.app_role()": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.cache_generation(text[], uuid, text)": { service_role: "execute" },
  "function private.catalog_add_variant(uuid, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_bulk(jsonb, boolean)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_create_product(jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_delete_product(uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_delete_variant(uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_import_chunk(uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_import_problems(jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_insert_products(jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_publish_due(timestamp with time zone, integer)": { service_role: "execute" },
  "function private.catalog_set_product_status(uuid, text, timestamp with time zone, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_update_product(uuid, integer, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_update_variant(uuid, integer, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.catalog_upsert_products(jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.check_stock_ledger()": { authenticated: "execute", service_role: "execute" },
  "function private.claim_inbound_webhook(text, text, jsonb)": { service_role: "execute" },
  "function private.close_reorder_suggestion(uuid, text)": { authenticated: "execute", service_role: "execute" },
  "function private.commit_reservation(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.count_stock(text, text, integer, text, text, text, text)": { authenticated: "execute", service_role: "execute" },
  "function private.current_webhook_secret(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.db_role()": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.emit_api_key_alerts(interval, interval, interval)": { service_role: "execute" },
  "function private.expire_reservations(integer)": { service_role: "execute" },
  "function private.free_handle(regclass, text, uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.get_order(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.get_reservation(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.get_stock_movement(bigint)": { authenticated: "execute", service_role: "execute" },
  "function private.get_stock_transfer(text)": { authenticated: "execute", service_role: "execute" },
  "function private.has_app_role(public.app_role)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.idempotency_begin(text, text, text)": { authenticated: "execute", service_role: "execute" },
  "function private.idempotency_caller()": { authenticated: "execute", service_role: "execute" },
  "function private.idempotency_finish(text, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.idempotency_peek(text, text, text)": { authenticated: "execute", service_role: "execute" },
  "function private.image_delete(uuid, uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.image_record(uuid, text, jsonb, jsonb, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.image_reorder(uuid, uuid[])": { authenticated: "execute", service_role: "execute" },
  "function private.image_reserve_upload(uuid, uuid, text, interval)": { authenticated: "execute", service_role: "execute" },
  "function private.image_restore(uuid, uuid, integer, bigint)": { authenticated: "execute", service_role: "execute" },
  "function private.image_update(uuid, uuid, integer, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.image_upload_pending(uuid, text)": { authenticated: "execute", service_role: "execute" },
  "function private.import_close(uuid, integer, integer, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.import_discard(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.import_discard_abandoned(interval)": { service_role: "execute" },
  "function private.import_open()": { authenticated: "execute", service_role: "execute" },
  "function private.import_stage(uuid, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.import_take(uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.is_api_caller()": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.job_owned(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.job_record(uuid, integer, integer, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.job_start(text, integer, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.job_status(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.list_orders(text, text, timestamp with time zone, uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.list_reorder_suggestions(text, timestamp with time zone, uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.metrics_snapshot()": { service_role: "execute" },
  "function private.order_transition(uuid, text, text, text, jsonb, integer)": { service_role: "execute" },
  "function private.place_order(jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.product_handles_taken(text[])": { authenticated: "execute", service_role: "execute" },
  "function private.product_has_live_variant(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.product_image_json(public.product_images)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.product_image_versions_json(uuid, uuid)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.product_images_json(uuid)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.product_json(public.products)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.product_json_by_id(uuid)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.product_search_document(uuid, text, text, uuid, uuid)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.product_write_missed(uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.products_matching(tsquery)": { authenticated: "execute", service_role: "execute" },
  "function private.raise_business_error(text, text, jsonb)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.record_job_run(text, integer, boolean, integer, text)": { service_role: "execute" },
  "function private.record_ledger_check()": { service_role: "execute" },
  "function private.release_reservation(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.replay_webhook_events(uuid, timestamp with time zone, timestamp with time zone)": { authenticated: "execute", service_role: "execute" },
  "function private.reserve_stock(jsonb, integer, text, text, text)": { authenticated: "execute", service_role: "execute" },
  "function private.retry_webhook_delivery(bigint)": { authenticated: "execute", service_role: "execute" },
  "function private.rotate_webhook_secret(uuid, interval)": { authenticated: "execute", service_role: "execute" },
  "function private.rows_breaking(text, regclass, jsonb)": { authenticated: "execute", service_role: "execute" },
  "function private.search_compact(text)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.search_document(text, text, text, uuid, uuid)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.search_document_labelled(text, text, text, text)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.search_labels(uuid, uuid)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.search_query(text)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.send_test_webhook(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.set_level_policy(text, text, integer, integer, boolean)": { authenticated: "execute", service_role: "execute" },
  "function private.set_order_status(uuid, text, text, jsonb, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.sku_owners(text[])": { authenticated: "execute", service_role: "execute" },
  "function private.slugify(text)": { anon: "execute", authenticated: "execute", service_role: "execute" },
  "function private.stock_history(text, text, bigint, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.stock_status(text, text, text, text, integer)": { authenticated: "execute", service_role: "execute" },
  "function private.sync_changes(text, text[], integer)": { authenticated: "execute", service_role: "execute" },
  "function private.sync_status(text, text[])": { authenticated: "execute", service_role: "execute" },
  "function private.transfer_stock(text, text, text, integer, text, text)": { authenticated: "execute", service_role: "execute" },
  "function private.user_exists(uuid)": { authenticated: "execute", service_role: "execute" },
  "function private.variant_write_missed(uuid, integer)": { authenticated: "execute", service_role: "execute" },
  "function public.custom_access_token_hook(jsonb)": { service_role: "execute" },
  "table private.inbound_webhook_messages": { service_role: "select insert update" },
  "table private.webhook_attempts": { authenticated: "select" },
  "table private.webhook_deliveries": { authenticated: "select" },
  "table public.brands": { anon: "select", authenticated: "select insert update delete", service_role: "select insert update delete" },
  "table public.categories": { anon: "select", authenticated: "select insert update delete", service_role: "select insert update delete" },
  "table public.locations": { authenticated: "select insert update", service_role: "select insert update" },
  "table public.order_lines": { authenticated: "select", service_role: "select" },
  "table public.order_status_history": { authenticated: "select", service_role: "select" },
  "table public.orders": { authenticated: "select", service_role: "select" },
  "table public.product_image_versions": { anon: "select", authenticated: "select", service_role: "select" },
  "table public.product_images": { anon: "select", authenticated: "select", service_role: "select" },
  "table public.product_variants": { anon: "select", authenticated: "select insert update delete", service_role: "select insert update delete" },
  "table public.products": { anon: "select", authenticated: "select insert update delete", service_role: "select insert update delete" },
  "table public.reorder_suggestions": { authenticated: "select", service_role: "select" },
  "table public.reservation_items": { authenticated: "select", service_role: "select" },
  "table public.reservations": { authenticated: "select", service_role: "select" },
  "table public.stock_levels": { authenticated: "select update(reorder_point, reorder_quantity, allow_backorder)", service_role: "select update(reorder_point, reorder_quantity, allow_backorder)" },
  "table public.stock_movements": { authenticated: "select", service_role: "select" },
  "table public.user_roles": { authenticated: "select insert update delete", service_role: "select insert update delete" },
  "table public.webhook_endpoints": { authenticated: "select delete insert(url, description, topics, enabled, headers, rate_limit_per_second) update(url, description, topics, enabled, headers, rate_limit_per_second, disabled_reason)", service_role: "select insert update delete" },
};

// Rules no allow-list entry can waive: each names a class of hole found once.
// Functions that read the JWT's `role` claim; trust must come from the database role
// (private.db_role(), set from the verified JWT), never from the claim.
const READS_ROLE_CLAIM: Record<string, string> = {
  "private.audit_row()": "labels the audit row's actor; decides nothing",
  "private.audit_rows()": "labels the audit rows' actor; decides nothing",
  "private.idempotency_caller()": "scopes idempotency keys per caller; a key answers only its own scope",
};

// Security definer functions an API role may execute that do not themselves ask who the caller is
// (require_app_role, has_app_role, job_owned, auth.uid() or auth.jwt()), with why that is safe.
const DEFINER_WITHOUT_CALLER_CHECK: Record<string, string> = {
  "private.idempotency_begin(text,text,text)": "keys are scoped by private.idempotency_caller()",
  "private.idempotency_finish(text,jsonb)": "keys are scoped by private.idempotency_caller()",
  "private.idempotency_peek(text,text,text)": "keys are scoped by private.idempotency_caller()",
  "private.set_order_status(uuid,text,text,jsonb,integer)": "calls private.order_transition, which checks the role",
};

const ctx = useTestDatabase();
const inTransaction = <T>(work: (tx: Queryable) => Promise<T>) => ctx.db.transaction(work);

function line(object: string, grants: Grants): string {
  const parts = API_ROLES.filter((role) => grants[role]).map((role) => `${role}: ${JSON.stringify(grants[role])}`);
  return `  ${JSON.stringify(object)}: { ${parts.join(", ")} },`;
}

describe(`privilege audit on ${engine}`, () => {
  it("every right an API role holds in public and private is on the allow-list, and nothing more", async () => {
    const actual = await inTransaction((tx) => apiGrants(tx));
    const problems: string[] = [];
    for (const object of Object.keys(actual).sort()) {
      const allowed = ALLOWED[object];
      const granted = actual[object] as Grants;
      if (!allowed)
        problems.push(`new: add to ALLOWED in tests/privileges.test.ts (or revoke):\n${line(object, granted)}`);
      else if (line(object, allowed) !== line(object, granted))
        problems.push(`changed: replace in ALLOWED\n${line(object, allowed)}\n  with\n${line(object, granted)}`);
    }
    for (const object of Object.keys(ALLOWED).sort()) {
      if (!actual[object])
        problems.push(`gone or without rights: remove from ALLOWED\n${line(object, ALLOWED[object] as Grants)}`);
    }
    expect(problems, `\n${problems.join("\n\n")}\n`).toEqual([]);
  });

  it("keeps ALLOWED sorted, so parallel additions do not collide", () => {
    const keys = Object.keys(ALLOWED);
    expect(keys).toEqual([...keys].sort());
  });

  it("no API role holds any right on a sequence, nor TRUNCATE, REFERENCES, TRIGGER or MAINTAIN anywhere", async () => {
    const actual = await inTransaction((tx) => apiGrants(tx));
    const offending = Object.entries(actual).flatMap(([object, grants]) =>
      API_ROLES.filter((role) => {
        const words = (grants[role] ?? "").split(" ");
        return object.startsWith("sequence ")
          ? words.some(Boolean)
          : words.some((w) => /^(truncate|references|trigger|maintain)/.test(w));
      }).map((role) => `${object}: ${role} ${grants[role]}`),
    );
    expect(offending).toEqual([]);
  });

  it("every relation anon or authenticated may touch enforces row level security", async () => {
    const { rows } = await ctx.db.query<{ name: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('public', 'private') and c.relkind in ('r', 'p', 'v', 'm', 'f')
         and (has_table_privilege('anon', c.oid, 'select, insert, update, delete')
              or has_table_privilege('authenticated', c.oid, 'select, insert, update, delete')
              or has_any_column_privilege('anon', c.oid, 'select, insert, update')
              or has_any_column_privilege('authenticated', c.oid, 'select, insert, update'))
         and not (c.relkind in ('r', 'p') and c.relrowsecurity)
         and not (c.relkind = 'v' and coalesce(c.reloptions::text[] && array['security_invoker=true', 'security_invoker=on'], false))
       order by 1`,
    );
    expect(rows.map((row) => row.name)).toEqual([]);
  });

  it("anon executes no security definer function", async () => {
    const { rows } = await ctx.db.query<{ name: string }>(
      `select p.oid::regprocedure::text as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('public', 'private') and p.prosecdef and has_function_privilege('anon', p.oid, 'execute')
       order by 1`,
    );
    expect(rows.map((row) => row.name)).toEqual([]);
  });

  it("every security definer function an API role executes asks who the caller is (or says why not)", async () => {
    const { rows } = await ctx.db.query<{ name: string }>(
      `select p.oid::regprocedure::text as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('public', 'private') and p.prosecdef
         and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute'))
         and p.prosrc !~ '(require_app_role|has_app_role|job_owned|auth\\.uid\\(\\)|auth\\.jwt\\(\\))'
       order by 1`,
    );
    expect(rows.map((row) => row.name)).toEqual(Object.keys(DEFINER_WITHOUT_CALLER_CHECK).sort());
  });

  it("no function decides by the JWT's role claim (only those listed, which decide nothing)", async () => {
    const { rows } = await ctx.db.query<{ name: string }>(
      `select p.oid::regprocedure::text as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('public', 'private') and p.prosrc ~ '(auth\\.role\\(\\)|->>\\s*''role'')'
       order by 1`,
    );
    expect(rows.map((row) => row.name)).toEqual(Object.keys(READS_ROLE_CLAIM).sort());
  });
});

describe(`sequences on ${engine}`, () => {
  it("no API role can move, read or draw from any sequence (setval would stop every movement and order)", async () => {
    const { rows } = await ctx.db.query<{ name: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('public', 'private') and c.relkind = 'S' order by 1`,
    );
    expect(rows.map((row) => row.name)).toEqual(
      expect.arrayContaining(["public.order_status_history_id_seq", "public.stock_movements_id_seq"]),
    );
    for (const { name } of rows) {
      for (const role of API_ROLES) {
        for (const sql of [
          `select setval('${name}', 9223372036854775807)`,
          `select nextval('${name}')`,
          `select last_value from ${name}`,
        ]) {
          const attempt = ctx.db.asUser({ role }, (tx) => tx.query(sql));
          await expect(attempt, `${role}: ${sql}`).rejects.toMatchObject({ code: "42501" });
        }
      }
    }
  });
});

describe(`default privileges for what later migrations create, on ${engine}`, () => {
  it("a new sequence gives the API roles nothing, a new table no TRUNCATE, a new function no EXECUTE", async () => {
    const created = await ctx.db
      .transaction(async (tx) => {
        await tx.exec(`
          create sequence public.audit_probe_seq;
          create sequence private.audit_probe_seq;
          create table public.audit_probe (id bigint generated always as identity primary key, n serial);
          create table private.audit_probe (id bigint generated always as identity primary key);
          create function public.audit_probe() returns int language sql as 'select 1';
          create function private.audit_probe() returns int language sql as 'select 1';
        `);
        const grants = await apiGrants(tx);
        throw Object.assign(new Error("rollback"), { grants });
      })
      .catch((error: { grants?: Record<string, Grants> }) => {
        if (!error.grants) throw error;
        return error.grants;
      });
    const probes = Object.fromEntries(Object.entries(created).filter(([object]) => object.includes("audit_probe")));
    expect(probes).toEqual({
      // Supabase's defaults for tables in public stay (RLS decides), without the rights no request needs.
      "table public.audit_probe": {
        anon: "select insert update delete",
        authenticated: "select insert update delete",
        service_role: "select insert update delete",
      },
      // Functions in public stay executable by the service role only (the platform's default, minus anon and authenticated).
      "function public.audit_probe()": { service_role: "execute" },
    });
  });
});
