-- Staff roles (role-based access control, Supabase's documented pattern): a user's role lives in
-- public.user_roles, the custom access token hook copies it into the JWT claim `app_role`, and
-- policies read the claim. Customers have no row and no `app_role`.
create type public.app_role as enum ('owner', 'admin', 'manager', 'staff', 'viewer');
comment on type public.app_role is 'Staff roles, most powerful first: enum order is rank order.';

create table public.user_roles (
  user_id uuid primary key references auth.users (id) on delete cascade,
  app_role public.app_role not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.user_roles is 'The staff role of each PMS user; read by the custom access token hook.';

create trigger user_roles_before_update_set_updated_at
  before update on public.user_roles
  for each row execute function private.set_updated_at();
create trigger user_roles_after_write_audit
  after insert or update or delete on public.user_roles
  for each row execute function private.audit_row('user_id');

-- The caller's staff role from the verified JWT, or null. PL/pgSQL rather than SQL: a SQL function
-- with `set search_path` cannot be inlined and is planned again on every call (about 10x slower),
-- and every policy and API call asks this.
create or replace function private.app_role()
returns public.app_role
language plpgsql
stable
set search_path = ''
as $$
declare
  claim text := auth.jwt() ->> 'app_role';
begin
  if claim is null or not (claim = any (enum_range(null::public.app_role)::text[])) then
    return null;
  end if;
  return claim::public.app_role;
end;
$$;
comment on function private.app_role() is 'The caller''s app_role claim as public.app_role, null when absent or unknown.';

-- Whether the caller holds at least `minimum`; the service role holds every role.
create or replace function private.has_app_role(minimum public.app_role)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
declare
  claims jsonb := auth.jwt();
  claim text := claims ->> 'app_role';
begin
  if claims is null then
    return false;
  end if;
  if claims ->> 'role' = 'service_role' then
    return true;
  end if;
  if claim is null or not (claim = any (enum_range(null::public.app_role)::text[])) then
    return false;
  end if;
  return claim::public.app_role <= minimum;
end;
$$;
comment on function private.has_app_role(public.app_role) is 'True when the caller''s app_role ranks at or above minimum.';
grant execute on function private.app_role(), private.has_app_role(public.app_role) to anon, authenticated, service_role;

alter table public.user_roles enable row level security;
revoke all on public.user_roles from anon, authenticated;
grant select, insert, update, delete on public.user_roles to authenticated;
grant select on public.user_roles to supabase_auth_admin;

-- One select policy per role: the database advisors flag several permissive policies for the
-- same role and action (lint 0006_multiple_permissive_policies).
create policy "Users can read their own role and admins every role"
  on public.user_roles for select to authenticated
  using (user_id = (select auth.uid()) or (select private.has_app_role('admin')));
create policy "Admins can grant roles below owner"
  on public.user_roles for insert to authenticated
  with check ((select private.has_app_role('owner')) or ((select private.has_app_role('admin')) and app_role <> 'owner'));
create policy "Admins can change roles below owner"
  on public.user_roles for update to authenticated
  using ((select private.has_app_role('owner')) or ((select private.has_app_role('admin')) and app_role <> 'owner'))
  with check ((select private.has_app_role('owner')) or ((select private.has_app_role('admin')) and app_role <> 'owner'));
create policy "Admins can revoke roles below owner"
  on public.user_roles for delete to authenticated
  using ((select private.has_app_role('owner')) or ((select private.has_app_role('admin')) and app_role <> 'owner'));
create policy "The auth server reads roles for the token hook"
  on public.user_roles for select to supabase_auth_admin
  using (true);

-- Supabase custom access token hook: adds `app_role` to every access token it issues.
create or replace function public.custom_access_token_hook(event jsonb)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  claims jsonb := coalesce(event -> 'claims', '{}');
  role public.app_role;
begin
  select ur.app_role into role from public.user_roles ur where ur.user_id = (event ->> 'user_id')::uuid;
  if role is null then
    claims := claims - 'app_role';
  else
    claims := jsonb_set(claims, '{app_role}', to_jsonb(role::text));
  end if;
  return jsonb_set(event, '{claims}', claims);
end;
$$;
comment on function public.custom_access_token_hook(jsonb) is
  'Supabase Auth hook: copies the user''s role from public.user_roles into the app_role claim.';
grant usage on schema public to supabase_auth_admin;
revoke execute on function public.custom_access_token_hook(jsonb) from public, anon, authenticated;
grant execute on function public.custom_access_token_hook(jsonb) to supabase_auth_admin;
