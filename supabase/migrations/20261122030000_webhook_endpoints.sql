-- Outbound webhook endpoints: where events are sent, which topics each one wants, and the
-- signing secrets (Standard Webhooks `whsec_...`). Endpoints are managed by admins through the
-- API or the Data API alike; secrets never leave `private` except once, when they are created.

create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  url text not null check (url ~ '^https?://[^/?#@[:space:]]+' and length(url) <= 2000),
  description text not null default '' check (length(description) <= 1000),
  -- Topic patterns: an exact topic, a prefix wildcard such as `stock.*`, or `*` for everything.
  topics text[] not null check (
    cardinality(topics) between 1 and 100
    and array_to_string(topics, ',') ~ '^(\*|[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?)(,(\*|[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?))*$'
  ),
  enabled boolean not null default true,
  -- Extra request headers, a flat object of strings (the API refuses reserved names).
  headers jsonb not null default '{}' check (jsonb_typeof(headers) = 'object'),
  -- At most this many delivery attempts start per second; null means no limit.
  rate_limit_per_second integer check (rate_limit_per_second between 1 and 10000),
  -- Set at the first failed attempt after a success, cleared by the next success.
  failing_since timestamptz,
  disabled_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.webhook_endpoints is
  'Receivers of outbound webhooks: url, subscribed topic patterns, custom headers, rate limit and health.';

create trigger webhook_endpoints_before_update_set_updated_at
  before update on public.webhook_endpoints
  for each row execute function private.set_updated_at();
-- Re-enabling an endpoint starts its health afresh.
create or replace function private.reset_webhook_endpoint_health()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.enabled and not old.enabled then
    new.failing_since := null;
    new.disabled_reason := null;
  end if;
  return new;
end;
$$;
comment on function private.reset_webhook_endpoint_health() is
  'Trigger (before update on webhook_endpoints): clears failing_since and disabled_reason when re-enabled.';
create trigger webhook_endpoints_before_update_reset_health
  before update on public.webhook_endpoints
  for each row execute function private.reset_webhook_endpoint_health();
create trigger webhook_endpoints_after_write_audit
  after insert or update or delete on public.webhook_endpoints
  for each row execute function private.audit_row();

alter table public.webhook_endpoints enable row level security;
revoke all on public.webhook_endpoints from anon, authenticated;
grant select, delete on public.webhook_endpoints to authenticated;
-- Health columns (failing_since, disabled_reason) are written by the dispatcher only.
grant insert (url, description, topics, enabled, headers, rate_limit_per_second)
  on public.webhook_endpoints to authenticated;
grant update (url, description, topics, enabled, headers, rate_limit_per_second, disabled_reason)
  on public.webhook_endpoints to authenticated;

create policy "Admins can read webhook endpoints"
  on public.webhook_endpoints for select to authenticated
  using ((select private.has_app_role('admin')));
create policy "Admins can register webhook endpoints"
  on public.webhook_endpoints for insert to authenticated
  with check ((select private.has_app_role('admin')));
create policy "Admins can change webhook endpoints"
  on public.webhook_endpoints for update to authenticated
  using ((select private.has_app_role('admin')))
  with check ((select private.has_app_role('admin')));
create policy "Admins can remove webhook endpoints"
  on public.webhook_endpoints for delete to authenticated
  using ((select private.has_app_role('admin')));

-- Whether `topic` matches any of `patterns` (`*`, an exact topic, or `prefix.*`).
create or replace function private.webhook_topic_matches(patterns text[], topic text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select exists (
    select 1 from unnest(patterns) as p
    where p = '*'
       or p = topic
       or (right(p, 2) = '.*' and left(topic, length(p) - 1) = left(p, length(p) - 1))
  )
$$;
comment on function private.webhook_topic_matches(text[], text) is
  'True when topic matches one of the patterns: `*`, the exact topic, or a `prefix.*` wildcard.';

-- Signing secrets. An endpoint normally has one; after a rotation the old one keeps signing
-- until `expires_at` (the overlap), so receivers can switch without missing a delivery.
create table private.webhook_secrets (
  id bigint generated always as identity primary key,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  secret text not null check (secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
  created_at timestamptz not null default now(),
  expires_at timestamptz
);
comment on table private.webhook_secrets is
  'Standard Webhooks signing secrets per endpoint; a rotated-out secret signs until expires_at.';
create index webhook_secrets_endpoint_idx on private.webhook_secrets (endpoint_id, created_at desc);
alter table private.webhook_secrets enable row level security;

-- A fresh `whsec_` secret: 32 bytes from two v4 UUIDs (244 bits from the server's strong random
-- source; no pgcrypto needed, so it works on every Postgres we run on).
create or replace function private.new_webhook_secret()
returns text
language sql
volatile
set search_path = ''
as $$
  select 'whsec_' || encode(
    decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'),
    'base64'
  )
$$;
comment on function private.new_webhook_secret() is 'A new random Standard Webhooks secret (whsec_ + base64 of 32 bytes).';

-- Every endpoint is born with a secret, whichever way it was created.
create or replace function private.create_webhook_secret()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into private.webhook_secrets (endpoint_id, secret) values (new.id, private.new_webhook_secret());
  return null;
end;
$$;
comment on function private.create_webhook_secret() is
  'Trigger (after insert on webhook_endpoints): gives the new endpoint its first signing secret.';
create trigger webhook_endpoints_after_insert_create_secret
  after insert on public.webhook_endpoints
  for each row execute function private.create_webhook_secret();

-- The newest secret of an endpoint the caller may see (admins only, through RLS on the endpoint).
create or replace function private.current_webhook_secret(endpoint uuid)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  found text;
begin
  if not (select private.has_app_role('admin')) then
    perform private.raise_business_error('P0F01', 'only admins may read webhook secrets', '{}');
  end if;
  select s.secret into found
  from private.webhook_secrets s
  where s.endpoint_id = endpoint and (s.expires_at is null or s.expires_at > now())
  order by s.created_at desc, s.id desc
  limit 1;
  if found is null then
    perform private.raise_business_error('P0N01', 'no such webhook endpoint', jsonb_build_object('endpoint_id', endpoint));
  end if;
  return found;
end;
$$;
comment on function private.current_webhook_secret(uuid) is
  'The newest active signing secret of an endpoint; admins only (shown once, right after creation).';

-- Rotation: a new secret signs from now on; the previous ones keep signing for `overlap`.
create or replace function private.rotate_webhook_secret(endpoint uuid, overlap interval default interval '24 hours')
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  fresh text := private.new_webhook_secret();
begin
  if not (select private.has_app_role('admin')) then
    perform private.raise_business_error('P0F01', 'only admins may rotate webhook secrets', '{}');
  end if;
  if overlap < interval '0' or overlap > interval '7 days' then
    perform private.raise_business_error('P0V01', 'the overlap must be between 0 and 7 days',
      jsonb_build_object('field', 'overlap_seconds'));
  end if;
  perform 1 from public.webhook_endpoints e where e.id = endpoint for update;
  if not found then
    perform private.raise_business_error('P0N01', 'no such webhook endpoint', jsonb_build_object('endpoint_id', endpoint));
  end if;
  -- Secrets that stopped signing long ago are of no use to anyone.
  delete from private.webhook_secrets s where s.endpoint_id = endpoint and s.expires_at < now() - interval '7 days';
  update private.webhook_secrets s
  set expires_at = least(coalesce(s.expires_at, 'infinity'::timestamptz), now() + overlap)
  where s.endpoint_id = endpoint and (s.expires_at is null or s.expires_at > now());
  insert into private.webhook_secrets (endpoint_id, secret) values (endpoint, fresh);
  return fresh;
end;
$$;
comment on function private.rotate_webhook_secret(uuid, interval) is
  'Issues a new signing secret for an endpoint; older secrets keep signing until now() + overlap. Admins only.';

grant execute on function private.current_webhook_secret(uuid), private.rotate_webhook_secret(uuid, interval)
  to authenticated, service_role;
