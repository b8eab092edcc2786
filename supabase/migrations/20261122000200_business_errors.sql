-- Business errors. SQL functions and triggers refuse a business rule with our own SQLSTATE in
-- class P0 (P0001-P0004 are PL/pgSQL's own; P0A00-P0Z99 are Storekeep's) and a JSON DETAIL a
-- client can act on. The HTTP layer maps each code through one table (http/sql-errors.ts):
--
--   P0N01  not found                     404
--   P0F01  forbidden by a business rule  403
--   P0V01  invalid value                 422
--   P0C01  conflicting state             409
--   P0C02  stale version                 409
--   P0S01  insufficient stock            409
--   P0P01  precondition failed           412

create or replace function private.raise_business_error(code text, message text, detail jsonb default '{}')
returns void
language plpgsql
set search_path = ''
as $$
begin
  if code !~ '^P0[A-Z][0-9]{2}$' then
    raise exception 'business error codes are P0 + letter + two digits, got %', code;
  end if;
  raise exception using errcode = code, message = message, detail = coalesce(detail, '{}')::text;
end;
$$;
comment on function private.raise_business_error(text, text, jsonb) is
  'Raises a Storekeep business error: our SQLSTATE (class P0) with a machine-readable JSON detail.';
grant execute on function private.raise_business_error(text, text, jsonb) to anon, authenticated, service_role;
