-- Some requests span several transactions and a call outside the database (an image upload puts
-- its bytes at the provider between reserving and recording). Their last transaction claims the
-- Idempotency-Key as usual (private.idempotency_begin); this lets them ask first, without claiming,
-- whether the key already has an answer, so a repeat answers at once and uploads nothing.
create or replace function private.idempotency_peek(key text, operation text, request_hash text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  earlier private.idempotent_requests;
begin
  select * into earlier from private.idempotent_requests r
  where r.caller = private.idempotency_caller() and r.key = idempotency_peek.key;
  if not found then
    return null;
  end if;
  if earlier.operation <> idempotency_peek.operation or earlier.request_hash <> idempotency_peek.request_hash then
    perform private.raise_business_error('P0C01', 'this Idempotency-Key was used for a different request',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'header.idempotency-key', 'message', 'already used for another request'))));
  end if;
  return earlier.response;
end;
$$;
comment on function private.idempotency_peek(text, text, text) is
  'The first response to the caller''s Idempotency-Key, or null when it has none yet (claims nothing); P0C01 when the key was used for another request.';

revoke execute on function private.idempotency_peek(text, text, text) from public, anon;
grant execute on function private.idempotency_peek(text, text, text) to authenticated, service_role;
