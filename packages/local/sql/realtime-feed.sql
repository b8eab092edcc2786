-- The local Realtime server's feed of postgres_changes (local stack only, never on Supabase, where
-- Realtime reads the WAL). Every table in the supabase_realtime publication gets a row trigger that
-- appends the change to storekeep_local.changes: one insert per row, no NOTIFY (one NOTIFY per
-- transaction serialises commits); the server polls the table. Whole rows, whatever their size.
-- Applied after every migration run (idempotent), so a table added to the publication is picked up.
create schema if not exists storekeep_local;
revoke all on schema storekeep_local from public;

create table if not exists storekeep_local.changes (
  id bigint generated always as identity primary key,
  transaction_id xid8 not null default pg_current_xact_id(),
  schema_name text not null,
  table_name text not null,
  type text not null,
  record jsonb,
  old_record jsonb,
  commit_timestamp timestamptz not null default now()
);
create index if not exists changes_position_idx on storekeep_local.changes (transaction_id, id);

-- Trigger arguments are the table's primary key columns: old_record carries only those, as
-- Supabase does for a table with the default replica identity.
create or replace function storekeep_local.capture_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  old_key jsonb;
begin
  if tg_op <> 'INSERT' then
    select jsonb_object_agg(k, to_jsonb(old) -> k) into old_key from unnest(tg_argv) as k;
  end if;
  insert into storekeep_local.changes (schema_name, table_name, type, record, old_record)
  values (tg_table_schema, tg_table_name, tg_op,
          case when tg_op = 'DELETE' then null else to_jsonb(new) end, old_key);
  return null;
end;
$$;

create or replace function storekeep_local.watch_publication()
returns void
language plpgsql
set search_path = ''
as $$
declare
  t record;
  key_columns text;
begin
  for t in
    select p.schemaname, p.tablename, c.oid
    from pg_catalog.pg_publication_tables p
    join pg_catalog.pg_class c on c.relname = p.tablename
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace and n.nspname = p.schemaname
    where p.pubname = 'supabase_realtime'
      and not exists (select 1 from pg_catalog.pg_trigger tr where tr.tgrelid = c.oid and tr.tgname = 'realtime_local_capture')
  loop
    select string_agg(quote_literal(a.attname), ', ' order by k.ord) into key_columns
    from pg_catalog.pg_index i
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
    where i.indrelid = t.oid and i.indisprimary;
    execute format(
      'create trigger realtime_local_capture after insert or update or delete on %I.%I for each row execute function storekeep_local.capture_change(%s)',
      t.schemaname, t.tablename, coalesce(key_columns, ''));
  end loop;
end;
$$;

select storekeep_local.watch_publication();
