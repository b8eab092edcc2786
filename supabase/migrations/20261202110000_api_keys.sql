-- API keys for servers of other systems (the PMS back office, suppliers, ERPs, marketplaces).
--
-- A key is `sk_live_…` or `sk_test_…` plus 43 base64url characters (244 random bits). Only its
-- SHA-256 is kept: a random secret that long needs no slow hash, and a lookup by hash is one index
-- probe. Its signing secret (`sks_…`, for X-Request-Signature) must be kept as is: the server
-- recomputes the HMAC with it. Both are shown once, by the function that makes them.
--
-- A key acts as its creator with at most its role cap: the API's claims carry
-- app_role = the lesser of the cap and the creator's current role, so a key never does more than
-- a user could, and a creator who loses their role takes their keys' power with them.
-- Everything lives in `private`: no client reads or writes a key except through these functions.

-- The scopes a key may hold; each API route names the one it needs (http/scopes.ts mirrors this).
create or replace function private.api_key_scopes()
returns text[]
language sql
immutable
set search_path = ''
as $$
  select array[
    'catalog:read', 'catalog:write',
    'inventory:read', 'inventory:write',
    'orders:read', 'orders:write',
    'webhooks:manage', 'sync:read', 'users:manage', 'api_keys:manage'
  ]
$$;
comment on function private.api_key_scopes() is 'Every scope an API key may hold.';

create table private.api_keys (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 100),
  environment text not null check (environment in ('live', 'test')),
  -- The first 16 characters of the key (`sk_live_ab12cd34`): enough for a person to tell keys apart.
  prefix text not null check (prefix ~ '^sk_(live|test)_[A-Za-z0-9_-]{8}$'),
  secret_hash text not null unique check (secret_hash ~ '^[0-9a-f]{64}$'),
  signing_secret text not null check (signing_secret ~ '^sks_[A-Za-z0-9_-]{43}$'),
  scopes text[] not null check (cardinality(scopes) between 1 and 20 and scopes <@ private.api_key_scopes()),
  role_cap public.app_role not null,
  -- No foreign key: a deleted user's keys stay on record (and, with no role left, act as nobody).
  created_by uuid,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  last_used_address text check (length(last_used_address) <= 100),
  revoked_at timestamptz,
  rotated_from uuid unique references private.api_keys (id),
  -- Set when the key was rotated: it keeps working until then, its successor from the start.
  overlap_ends_at timestamptz,
  constraint api_keys_expiry_after_creation check (expires_at is null or expires_at > created_at)
);
comment on table private.api_keys is
  'API keys: SHA-256 of the secret, signing secret, scopes, role cap, usage and rotation. Never exposed.';
create index api_keys_created_idx on private.api_keys (created_at, id);
alter table private.api_keys enable row level security;

-- 32 random bytes (two v4 uuids: 244 random bits) as unpadded base64url.
create or replace function private.api_key_random()
returns text
language sql
volatile
set search_path = ''
as $$
  select rtrim(translate(encode(
    decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64'), '+/', '-_'), '=')
$$;
comment on function private.api_key_random() is '43 base64url characters of fresh randomness for a key or signing secret.';

create or replace function private.api_key_hash(secret text)
returns text
language sql
immutable
set search_path = ''
as $$
  select encode(sha256(convert_to(secret, 'UTF8')), 'hex')
$$;
comment on function private.api_key_hash(text) is 'Hex SHA-256 of a key: what private.api_keys keeps instead of the key.';

-- The state a key is in at `at`: what the list shows and what authentication refuses.
create or replace function private.api_key_status(k private.api_keys, at timestamptz default now())
returns text
language sql
stable
set search_path = ''
as $$
  select case
    when k.revoked_at is not null then 'revoked'
    when k.expires_at is not null and k.expires_at <= at then 'expired'
    when k.overlap_ends_at is not null and k.overlap_ends_at <= at then 'rotated'
    when k.overlap_ends_at is not null then 'overlap'
    else 'active'
  end
$$;
comment on function private.api_key_status(private.api_keys, timestamptz) is
  'active, overlap (rotated, still working), rotated (overlap over), expired or revoked.';

-- What the API answers about a key: never its hash or signing secret.
create or replace function private.api_key_json(k private.api_keys)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', k.id, 'name', k.name, 'prefix', k.prefix, 'environment', k.environment,
    'scopes', to_jsonb(k.scopes), 'role_cap', k.role_cap, 'status', private.api_key_status(k),
    'created_by', k.created_by, 'created_at', k.created_at, 'expires_at', k.expires_at,
    'last_used_at', k.last_used_at, 'last_used_address', k.last_used_address,
    'revoked_at', k.revoked_at, 'rotated_from', k.rotated_from,
    'rotated_to', (select s.id from private.api_keys s where s.rotated_from = k.id),
    'overlap_ends_at', k.overlap_ends_at)
$$;
comment on function private.api_key_json(private.api_keys) is 'The public face of a key (no secret, hash or signing secret).';

-- Who may manage keys: admins and up. A key calling (its claims carry api_key_id) may only hand on
-- scopes it holds itself; the role cap rule below already holds it to its own role.
create or replace function private.api_key_require_manager(p_scopes text[], p_role_cap public.app_role)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
  claims jsonb := auth.jwt();
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  if not private.has_app_role(p_role_cap) then
    perform private.raise_business_error('P0F01', 'a key''s role cap cannot exceed the caller''s own role',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'role_cap', 'message', 'above the caller''s role', 'code', 'forbidden'))));
  end if;
  if claims ? 'api_key_id' and not (p_scopes <@ array(select jsonb_array_elements_text(claims -> 'scopes'))) then
    perform private.raise_business_error('P0F01', 'an API key can only hand on scopes it holds itself',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'scopes', 'message', 'beyond the calling key''s scopes', 'code', 'forbidden'))));
  end if;
end;
$$;
comment on function private.api_key_require_manager(text[], public.app_role) is
  'Raises P0F01 unless the caller may issue a key with these scopes and role cap.';

-- Issues a key: its row, with the key and signing secret returned this once.
create or replace function private.api_key_issue(
  p_name text,
  p_environment text,
  p_scopes text[],
  p_role_cap public.app_role,
  p_expires_at timestamptz,
  p_rotated_from uuid
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  secret text := 'sk_' || p_environment || '_' || private.api_key_random();
  signing text := 'sks_' || private.api_key_random();
  k private.api_keys;
begin
  insert into private.api_keys
    (name, environment, prefix, secret_hash, signing_secret, scopes, role_cap, created_by, expires_at, rotated_from)
  values (btrim(p_name), p_environment, left(secret, 16), private.api_key_hash(secret), signing,
          array(select distinct s from unnest(p_scopes) s order by s), p_role_cap, auth.uid(), p_expires_at,
          p_rotated_from)
  returning * into k;
  return private.api_key_json(k) || jsonb_build_object('secret', secret, 'signing_secret', signing);
end;
$$;
comment on function private.api_key_issue(text, text, text[], public.app_role, timestamptz, uuid) is
  'Inserts a key and returns it with its secret and signing secret (the only time they are returned).';

create or replace function private.api_key_create(
  p_name text,
  p_environment text,
  p_scopes text[],
  p_role_cap public.app_role,
  p_expires_at timestamptz default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  perform private.api_key_require_manager(p_scopes, p_role_cap);
  if p_expires_at is not null and p_expires_at <= now() then
    perform private.raise_business_error('P0V01', 'expires_at must be in the future',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'expires_at', 'message', 'must be in the future'))));
  end if;
  return private.api_key_issue(p_name, p_environment, p_scopes, p_role_cap, p_expires_at, null);
end;
$$;
comment on function private.api_key_create(text, text, text[], public.app_role, timestamptz) is
  'Creates an API key (admins and up; role cap at most the caller''s role). Returns the secrets once.';

-- Rotation: a successor with the same name, scopes and cap; the old key keeps working until
-- now() + overlap, then authentication refuses it. A key is rotated once (rotate its successor next).
create or replace function private.api_key_rotate(p_id uuid, p_overlap interval, p_expires_at timestamptz default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  k private.api_keys;
begin
  if p_overlap < interval '0' or p_overlap > interval '30 days' then
    perform private.raise_business_error('P0V01', 'the overlap must be between 0 seconds and 30 days',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'overlap_seconds', 'message', 'between 0 and 2592000'))));
  end if;
  if p_expires_at is not null and p_expires_at <= now() then
    perform private.raise_business_error('P0V01', 'expires_at must be in the future',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'expires_at', 'message', 'must be in the future'))));
  end if;
  -- Admins first: nobody else learns whether a key exists.
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  select * into k from private.api_keys a where a.id = p_id for update;
  if not found then
    perform private.raise_business_error('P0N01', 'no such API key', jsonb_build_object('api_key_id', p_id));
  end if;
  perform private.api_key_require_manager(k.scopes, k.role_cap);
  if private.api_key_status(k) <> 'active' then
    perform private.raise_business_error('P0C01',
      format('this key is %s: only an active key can be rotated', private.api_key_status(k)),
      jsonb_build_object('status', private.api_key_status(k)));
  end if;
  update private.api_keys a set overlap_ends_at = now() + p_overlap where a.id = p_id;
  return private.api_key_issue(k.name, k.environment, k.scopes, k.role_cap, p_expires_at, k.id);
end;
$$;
comment on function private.api_key_rotate(uuid, interval, timestamptz) is
  'Issues the successor of an active key; the old one works until now() + overlap. Admins and up.';

-- Revocation takes effect at once, overlap or not. Any admin may revoke any key (it only takes
-- power away); revoking twice changes nothing.
create or replace function private.api_key_revoke(p_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  update private.api_keys a set revoked_at = coalesce(a.revoked_at, now()) where a.id = p_id;
  if not found then
    perform private.raise_business_error('P0N01', 'no such API key', jsonb_build_object('api_key_id', p_id));
  end if;
end;
$$;
comment on function private.api_key_revoke(uuid) is 'Revokes a key at once (admins and up).';

create or replace function private.api_key_get(p_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found_key jsonb;
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  select private.api_key_json(a) into found_key from private.api_keys a where a.id = p_id;
  if found_key is null then
    perform private.raise_business_error('P0N01', 'no such API key', jsonb_build_object('api_key_id', p_id));
  end if;
  return found_key;
end;
$$;
comment on function private.api_key_get(uuid) is 'One key without its secrets (admins and up).';

-- A page of keys, oldest first, after the cursor (created_at, id).
create or replace function private.api_key_list(p_after_created timestamptz, p_after_id uuid, p_limit integer)
returns setof jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  return query
    select private.api_key_json(a) from private.api_keys a
    where p_after_created is null or (a.created_at, a.id) > (p_after_created, p_after_id)
    order by a.created_at, a.id
    limit least(greatest(p_limit, 1), 201);
end;
$$;
comment on function private.api_key_list(timestamptz, uuid, integer) is 'Keys after a cursor, without secrets (admins and up).';

-- Authentication: the key with this hash, whether it may act now, and as whom. Records the use
-- (time and address) at most once a minute per key, so a busy key does not write on every request.
-- The server calls it before it knows any caller: granted to no API role.
create or replace function private.api_key_authenticate(p_secret_hash text, p_address text)
returns table (
  id uuid,
  status text,
  scopes text[],
  app_role public.app_role,
  created_by uuid,
  signing_secret text
)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  k private.api_keys;
  acting public.app_role;
begin
  select * into k from private.api_keys a where a.secret_hash = p_secret_hash;
  if not found then
    return;
  end if;
  if k.created_by is null then
    acting := k.role_cap;  -- issued by the service role
  else
    select greatest(k.role_cap, r.app_role) into acting from public.user_roles r where r.user_id = k.created_by;
  end if;
  if private.api_key_status(k) in ('active', 'overlap') and acting is not null
     and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute') then
    update private.api_keys a set last_used_at = now(), last_used_address = left(p_address, 100) where a.id = k.id;
  end if;
  return query select k.id, private.api_key_status(k), k.scopes, acting, k.created_by, k.signing_secret;
end;
$$;
comment on function private.api_key_authenticate(text, text) is
  'Looks a key up by its hash: status, scopes, the role it acts with (cap bounded by its creator''s role) and signing secret.';

grant execute on function
  private.api_key_create(text, text, text[], public.app_role, timestamptz),
  private.api_key_rotate(uuid, interval, timestamptz),
  private.api_key_revoke(uuid),
  private.api_key_get(uuid),
  private.api_key_list(timestamptz, uuid, integer)
  to authenticated, service_role;
grant execute on function private.api_key_authenticate(text, text) to service_role;
