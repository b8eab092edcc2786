// Who may do what on the local Realtime server, decided by the database exactly as Supabase
// Realtime decides it: private channels by the policies on realtime.messages (with
// realtime.topic() set and the subscriber's claims), postgres_changes rows by each subscriber's
// row level security.
import type { Db, DbClaims, Queryable } from "../../../server/src/platform/db/types.ts";
import { ROLE_SQL, roleParams } from "../../../server/src/platform/db/types.ts";
import type { Change } from "./filters.ts";

export interface ChannelRights {
  read: boolean;
  /** Per extension: may this subscriber send broadcasts / track presence. */
  broadcast: boolean;
  presence: boolean;
}

class Rollback extends Error {}

/** Runs `work` in a transaction that is always rolled back (probes leave nothing behind). */
async function probe<T>(db: Db, work: (tx: Queryable) => Promise<T>): Promise<T> {
  let result: T | undefined;
  try {
    await db.transaction(async (tx) => {
      result = await work(tx);
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  return result as T;
}

/** The realtime.messages policies for `topic` (the channel name, without `realtime:`). */
export async function channelRights(db: Db, claims: DbClaims, topic: string): Promise<ChannelRights> {
  if (claims.role === "service_role") return { read: true, broadcast: true, presence: true };
  return probe(db, async (tx) => {
    // Supabase checks read access against messages the subscriber did not write: insert them as
    // the owner, then look at them through the subscriber's policies.
    const { rows } = await tx.query<{ id: string }>(
      "insert into realtime.messages (topic, extension, private, event) values ($1, 'broadcast', true, 'probe'), ($1, 'presence', true, 'probe') returning id",
      [topic],
    );
    await tx.query(ROLE_SQL, roleParams(claims));
    await tx.query("select set_config('realtime.topic', $1, true)", [topic]);
    const seen = await tx.query<{ extension: string }>(
      "select extension from realtime.messages where id = any($1::bigint[])",
      [rows.map((row) => row.id)],
    );
    const read = seen.rows.length > 0;
    const canWrite = async (extension: string) => {
      await tx.query("savepoint write_probe");
      try {
        await tx.query(
          "insert into realtime.messages (topic, extension, private, event) values ($1, $2, true, 'probe')",
          [topic, extension],
        );
        return true;
      } catch {
        await tx.query("rollback to savepoint write_probe");
        return false;
      }
    };
    return { read, broadcast: await canWrite("broadcast"), presence: await canWrite("presence") };
  });
}

export interface TableInfo {
  schema: string;
  table: string;
  columns: { name: string; type: string }[];
  key: { name: string; type: string }[];
  /** Selects which of a batch of keys ($1: jsonb array of key objects) the caller can see. */
  visibleSql: string;
}

/** Tables in the supabase_realtime publication, with their columns and primary key. */
export async function publishedTables(db: Db): Promise<Map<string, TableInfo>> {
  const { rows } = await db.query<{
    schema: string;
    table: string;
    columns: { name: string; type: string }[];
    key: { name: string; type: string }[] | null;
  }>(`
    select p.schemaname as schema, p.tablename as table,
      (select jsonb_agg(jsonb_build_object('name', a.attname, 'type', t.typname) order by a.attnum)
         from pg_attribute a join pg_type t on t.oid = a.atttypid
         where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
      (select jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) order by k.ord)
         from pg_index i cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
         where i.indrelid = c.oid and i.indisprimary) as key
    from pg_publication_tables p
    join pg_namespace n on n.nspname = p.schemaname
    join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
    where p.pubname = 'supabase_realtime'`);
  const tables = new Map<string, TableInfo>();
  for (const row of rows) {
    const key = row.key ?? [];
    const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;
    const matchKey = key.map(
      (column) => `t.${quoted(column.name)} = (k.value ->> '${column.name.replaceAll("'", "''")}')::${column.type}`,
    );
    const visibleSql = `select k.ordinality - 1 as index from jsonb_array_elements($1::jsonb) with ordinality k
      where exists (select 1 from ${quoted(row.schema)}.${quoted(row.table)} t where ${matchKey.join(" and ") || "false"})`;
    tables.set(`${row.schema}.${row.table}`, { ...row, key, visibleSql });
  }
  return tables;
}

/**
 * Which of `changes` (all of one table) a subscriber may see: the rows it could select now.
 * A deleted row can no longer be looked at: it goes to whoever may select from the table at all,
 * with only its primary key (as Supabase sends it).
 */
export async function visibleChanges(
  db: Db,
  claims: DbClaims,
  info: TableInfo,
  changes: Change[],
): Promise<Set<number>> {
  if (claims.role === "service_role") return new Set(changes.map((_, index) => index));
  return db.asUser(claims, async (tx) => {
    const visible = new Set<number>();
    const { rows: privilege } = await tx.query<{ allowed: boolean }>(
      "select has_table_privilege(current_user, format('%I.%I', $1::text, $2::text), 'select') as allowed",
      [info.schema, info.table],
    );
    if (!privilege[0]?.allowed) return visible;
    const live = changes.flatMap((change, index) => (change.type === "DELETE" ? [] : [{ index, change }]));
    if (live.length > 0) {
      const keys = live.map(({ change }) => change.record);
      const { rows } = await tx.query<{ index: string }>(info.visibleSql, [JSON.stringify(keys)]);
      for (const row of rows) {
        const item = live[Number(row.index)];
        if (item) visible.add(item.index);
      }
    }
    changes.forEach((change, index) => {
      if (change.type === "DELETE") visible.add(index);
    });
    return visible;
  });
}
