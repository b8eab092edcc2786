import type { Queryable } from "../../packages/server/src/platform/db/types.ts";

/** The roles the Data API (PostgREST) and our API run requests as. */
export const API_ROLES = ["anon", "authenticated", "service_role"] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** What each API role may do to one object, as words: `{ authenticated: "select insert(code, name)" }`. */
export type Grants = Partial<Record<ApiRole, string>>;

const TABLE_PRIVILEGES = ["select", "insert", "update", "delete", "truncate", "references", "trigger", "maintain"];
const COLUMN_PRIVILEGES = ["select", "insert", "update", "references"];
const SEQUENCE_PRIVILEGES = ["usage", "select", "update"];

// Effective rights (has_*_privilege counts grants to PUBLIC and through role membership) of the API
// roles on every relation and function in public and private. Column grants are listed only where
// the role lacks the same right on the whole table.
const SQL = `
with roles(role) as (select unnest($1::text[])),
rel as (
  select c.oid, n.nspname, c.relname, c.relkind,
         case c.relkind when 'S' then 'sequence' when 'v' then 'view' when 'm' then 'materialized view'
                        when 'f' then 'foreign table' else 'table' end as kind
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('public', 'private') and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
)
select format('%s %I.%I', rel.kind, rel.nspname, rel.relname) as object, r.role,
       case when rel.relkind = 'S' then
         array(select p from unnest($3::text[]) p where has_sequence_privilege(r.role, rel.oid, p))
       else
         array(select p from unnest($2::text[]) p where has_table_privilege(r.role, rel.oid, p))
         || array(select format('%s(%s)', p, string_agg(quote_ident(a.attname), ', ' order by a.attnum))
                  from unnest($4::text[]) p, pg_attribute a
                  where a.attrelid = rel.oid and a.attnum > 0 and not a.attisdropped
                    and not has_table_privilege(r.role, rel.oid, p)
                    and has_column_privilege(r.role, rel.oid, a.attnum, p)
                  group by p order by p)
       end as privileges
from rel cross join roles r
union all
select format('function %I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)), r.role,
       case when has_function_privilege(r.role, p.oid, 'execute') then array['execute'] else array[]::text[] end
from pg_proc p join pg_namespace n on n.oid = p.pronamespace cross join roles r
where n.nspname in ('public', 'private')
`;

/**
 * Every object in public and private that an API role holds a right on, with those rights. Runs in
 * the caller's transaction when given one; names are printed with an empty search_path, so every
 * type outside pg_catalog is schema-qualified.
 */
export async function apiGrants(db: Queryable): Promise<Record<string, Grants>> {
  await db.query("select set_config('search_path', '', true)");
  const version = await db.query<{ v: number }>("select current_setting('server_version_num')::int as v");
  // MAINTAIN exists from PostgreSQL 17 (PGlite); asking 15 about it is an error.
  const tablePrivileges = TABLE_PRIVILEGES.filter((p) => p !== "maintain" || (version.rows[0]?.v ?? 0) >= 170000);
  const { rows } = await db.query<{ object: string; role: ApiRole; privileges: string[] }>(SQL, [
    API_ROLES,
    tablePrivileges,
    SEQUENCE_PRIVILEGES,
    COLUMN_PRIVILEGES,
  ]);
  const grants: Record<string, Grants> = {};
  for (const row of rows) {
    if (row.privileges.length === 0) continue;
    grants[row.object] ??= {};
    (grants[row.object] as Grants)[row.role] = row.privileges.join(" ");
  }
  return grants;
}
