-- Least privilege for the API roles on relations. The platform's default privileges give anon,
-- authenticated and service_role ALL on every new table and sequence in public. On a sequence that
-- includes UPDATE, i.e. setval(): anyone could push stock_movements_id_seq to its maximum (every
-- later movement, shipment and order fails) or back to 1 (duplicate keys), and setval survives a
-- rollback. Identity columns draw their values without any right on the sequence, so the API roles
-- need none. On a table, TRUNCATE bypasses row level security and delete triggers, and TRIGGER,
-- REFERENCES (and MAINTAIN, PostgreSQL 17+: LOCK TABLE, VACUUM) are never needed by a request.
-- tests/privileges.test.ts holds the allow-list every object's rights are compared with.

do $$
declare
  maintain text := case when current_setting('server_version_num')::integer >= 170000 then ', maintain' else '' end;
  object record;
begin
  for object in
    select c.oid::regclass as name, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('public', 'private') and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
  loop
    if object.relkind = 'S' then
      execute format('revoke all on sequence %s from public, anon, authenticated, service_role', object.name);
    else
      execute format('revoke truncate, references, trigger%s on %s from public, anon, authenticated, service_role',
        maintain, object.name);
    end if;
  end loop;

  -- The same for what later migrations create (defaults of the role that runs migrations).
  alter default privileges in schema public revoke all on sequences from public, anon, authenticated, service_role;
  execute format('alter default privileges in schema public revoke truncate, references, trigger%s on tables '
    'from public, anon, authenticated, service_role', maintain);
end
$$;
