-- The private schema: helpers, the outbox, the audit log and job state. The Data API never
-- exposes it; API roles get usage only so RLS policies can call the few helpers granted to them.
create schema if not exists private;
comment on schema private is 'Storekeep internals: never exposed through the Data API.';
revoke all on schema private from public;
grant usage on schema private to anon, authenticated, service_role;

-- Least privilege for functions: nothing is executable by default; each callable function is
-- granted explicitly in the migration that creates it.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from anon, authenticated;
alter default privileges in schema private revoke execute on functions from anon, authenticated, service_role;
