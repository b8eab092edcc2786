-- Inventory locations: the warehouses and shops that hold stock. Reservations allocate from
-- active locations in priority order (lower first, then id); a reservation line that names no
-- location is served only by locations that fulfil online orders.

-- Inventory helpers used by every inventory function.
create or replace function private.require_app_role(minimum public.app_role)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  -- API roles (anon, authenticated) must carry an app_role of at least `minimum` in their JWT;
  -- any other database role that was granted EXECUTE (service_role, the owner, pg_cron) is a
  -- trusted backend. `role` is the GUC that PostgREST and Db.asUser set; a security definer
  -- function does not change it, so it names the caller even inside one.
  if current_setting('role') in ('anon', 'authenticated') and not private.has_app_role(minimum) then
    perform private.raise_business_error('P0F01', format('this needs role %s or above', minimum),
      jsonb_build_object('required_role', minimum));
  end if;
end;
$$;
comment on function private.require_app_role(public.app_role) is
  'Refuses (P0F01) an API caller whose app_role ranks below minimum; trusted database roles pass.';

create or replace function private.iso(at timestamptz)
returns text
language sql
immutable
set search_path = ''
as $$
  select to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
comment on function private.iso(timestamptz) is 'A timestamp as ISO 8601 UTC with milliseconds, as the API prints it.';

create table public.locations (
  id uuid primary key default gen_random_uuid(),
  code text not null unique check (code ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  name text not null check (length(btrim(name)) between 1 and 200),
  type text not null default 'warehouse' check (type in ('warehouse', 'shop')),
  address text check (address is null or length(address) <= 1000),
  latitude double precision check (latitude between -90 and 90),
  longitude double precision check (longitude between -180 and 180),
  active boolean not null default true,
  priority integer not null default 100 check (priority between 0 and 1000000),
  fulfils_online boolean not null default true,
  version integer not null default 1 check (version >= 1),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((latitude is null) = (longitude is null))
);
comment on table public.locations is
  'Warehouses and shops holding stock; priority orders allocation (lower first), fulfils_online opens a location to lines that name none.';
create index locations_allocation_idx on public.locations (priority, id) where active;

-- Optimistic concurrency: every change bumps the version a client read (If-Match / `version`).
create or replace function private.locations_bump_version()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.version := old.version + 1;
  return new;
end;
$$;
comment on function private.locations_bump_version() is 'Trigger: a changed location gets the next version, whatever the statement said.';

create trigger locations_before_update_bump_version
  before update on public.locations
  for each row execute function private.locations_bump_version();
create trigger locations_before_update_set_updated_at
  before update on public.locations
  for each row execute function private.set_updated_at();
create trigger locations_after_write_audit
  after insert or update or delete on public.locations
  for each row execute function private.audit_row('id');

alter table public.locations enable row level security;
revoke all on public.locations from anon, authenticated, service_role;
grant select, insert, update on public.locations to authenticated, service_role;

create policy "Viewers and up can read locations"
  on public.locations for select to authenticated
  using ((select private.has_app_role('viewer')));
create policy "Managers and up can add locations"
  on public.locations for insert to authenticated
  with check ((select private.has_app_role('manager')));
create policy "Managers and up can change locations"
  on public.locations for update to authenticated
  using ((select private.has_app_role('manager')))
  with check ((select private.has_app_role('manager')));
