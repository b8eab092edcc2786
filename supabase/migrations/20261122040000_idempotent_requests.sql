-- Idempotent creation (API convention: creating requests take `Idempotency-Key`). The first request
-- with a key records its response in the same transaction as its write; a repeat from the same
-- caller gets that response back and writes nothing. Two concurrent repeats serialise on the
-- primary key: the second waits for the first to commit (or roll back, and then goes ahead itself).
create table private.idempotent_requests (
  caller text not null,
  key text not null check (length(key) between 1 and 200),
  operation text not null,
  request_hash text not null,
  response jsonb,
  created_at timestamptz not null default now(),
  primary key (caller, key)
);
comment on table private.idempotent_requests is
  'First responses of creating requests by (caller, Idempotency-Key); kept 24 hours.';
create index idempotent_requests_created_idx on private.idempotent_requests (created_at);
alter table private.idempotent_requests enable row level security;

-- The caller a key belongs to: the user, else the database role (service role, anon).
create or replace function private.idempotency_caller()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(auth.uid()::text, auth.role(), current_user)
$$;
comment on function private.idempotency_caller() is 'Whose Idempotency-Key namespace a request uses.';

-- Starts an idempotent request: null when it is new (go ahead, then call idempotency_finish), else
-- the first response. The same key for another operation or body is a conflict (P0C01).
create or replace function private.idempotency_begin(p_key text, p_operation text, p_request_hash text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_caller text := private.idempotency_caller();
  earlier private.idempotent_requests;
begin
  insert into private.idempotent_requests (caller, key, operation, request_hash)
  values (v_caller, p_key, p_operation, p_request_hash)
  on conflict (caller, key) do nothing;
  if found then
    return null;
  end if;
  select * into earlier from private.idempotent_requests r where r.caller = v_caller and r.key = p_key;
  if earlier.operation <> p_operation or earlier.request_hash <> p_request_hash then
    perform private.raise_business_error('P0C01', 'this Idempotency-Key was used for a different request',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'header.idempotency-key', 'message', 'already used for another request'))));
  end if;
  return earlier.response;
end;
$$;
comment on function private.idempotency_begin(text, text, text) is
  'Claims an Idempotency-Key for the caller: null when new, the first response when repeated, P0C01 when reused for another request.';

create or replace function private.idempotency_finish(p_key text, p_response jsonb)
returns void
language sql
security definer
set search_path = ''
as $$
  update private.idempotent_requests r set response = p_response
  where r.caller = private.idempotency_caller() and r.key = p_key
$$;
comment on function private.idempotency_finish(text, jsonb) is 'Records the response of the request that claimed the key.';

create or replace function private.prune_idempotent_requests(retention interval default interval '24 hours')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  deleted integer;
begin
  delete from private.idempotent_requests r where r.created_at < now() - retention;
  get diagnostics deleted = row_count;
  return deleted;
end;
$$;
comment on function private.prune_idempotent_requests(interval) is 'Forgets idempotency keys older than retention; returns how many.';

grant execute on function private.idempotency_caller(), private.idempotency_begin(text, text, text),
  private.idempotency_finish(text, jsonb) to authenticated, service_role;

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('storekeep-prune-idempotent-requests', '23 * * * *', 'select private.prune_idempotent_requests()');
  end if;
end
$$;
