-- Which of the rows a request wrote broke a constraint. The database reports the constraint's name
-- but not the row (with row level security it never shows a failing row), and a request may write
-- many rows (a product's variants, a bulk). This asks the constraint itself: a check's own
-- expression over each row given, or a unique index's own key against the stored rows and the
-- other rows given. Only for answering errors: it runs with the caller's rights and writes nothing.
create or replace function private.rows_breaking(p_constraint text, p_table regclass, p_rows jsonb)
returns integer[]
language plpgsql
stable
set search_path = ''
as $$
declare
  v_check text;
  v_keys text;
  v_predicate text;
  result integer[];
begin
  if jsonb_typeof(p_rows) is distinct from 'array' then
    return '{}';
  end if;
  select pg_catalog.pg_get_expr(c.conbin, c.conrelid) into v_check
  from pg_catalog.pg_constraint c
  where c.conrelid = p_table and c.conname = p_constraint and c.contype = 'c';
  if v_check is not null then
    execute format(
      'select coalesce(array_agg(r.ordinality - 1 order by r.ordinality), ''{}'')
       from jsonb_populate_recordset(null::%s, $1) with ordinality as r where (%s) is false',
      p_table, v_check)
    into result using p_rows;
    return result;
  end if;

  select (select string_agg(pg_catalog.pg_get_indexdef(i.indexrelid, k, true), ', ' order by k)
            from generate_series(1, i.indnkeyatts) as k),
         coalesce(pg_catalog.pg_get_expr(i.indpred, i.indrelid), 'true')
  into v_keys, v_predicate
  from pg_catalog.pg_index i
  join pg_catalog.pg_class ic on ic.oid = i.indexrelid
  where i.indrelid = p_table and ic.relname = p_constraint and i.indisunique;
  if v_keys is not null then
    execute format(
      'with given as (
         select g.ordinality, row(%1$s) as k from jsonb_populate_recordset(null::%2$s, $1) with ordinality as g where %3$s)
       select coalesce(array_agg(given.ordinality - 1 order by given.ordinality), ''{}'') from given
       where given.k in (select row(%1$s) from %2$s where %3$s)
          or exists (select 1 from given earlier where earlier.k = given.k and earlier.ordinality < given.ordinality)',
      v_keys, p_table, v_predicate)
    into result using p_rows;
    return result;
  end if;
  return '{}';
end;
$$;
comment on function private.rows_breaking(text, regclass, jsonb) is
  'Indexes (from 0) of the given rows that break a check constraint or unique index of the table, evaluated by the database; for error answers.';
revoke execute on function private.rows_breaking(text, regclass, jsonb) from public, anon;
grant execute on function private.rows_breaking(text, regclass, jsonb) to authenticated, service_role;
