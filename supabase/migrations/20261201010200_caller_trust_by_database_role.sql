-- Trust comes from the database role a request runs as, never from a claim alone. PostgREST and
-- Db.asUser pick the role from the verified JWT (`set local role`), so the role is what the
-- platform vouched for; a `role` claim inside request.jwt.claims is just text anyone holding the
-- session could have set.

-- The database role the statement runs as: the `role` setting (unchanged inside security definer
-- functions, unlike current_user), or the login role when none was set.
create or replace function private.db_role()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(current_setting('role'), 'none'), session_user)::text
$$;
comment on function private.db_role() is
  'The database role the caller runs as (the role set by PostgREST or Db.asUser, else the login role), also inside security definer functions.';

-- Whether the caller holds at least `minimum`. The service role holds every role, but only when
-- the database role is the service role: a `service_role` claim on an authenticated session
-- counts for nothing.
create or replace function private.has_app_role(minimum public.app_role)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
declare
  claim text;
begin
  -- private.db_role() inlined: every policy asks this.
  if coalesce(nullif(current_setting('role'), 'none'), session_user::text) = 'service_role' then
    return true;
  end if;
  claim := auth.jwt() ->> 'app_role';
  if claim is null or not (claim = any (enum_range(null::public.app_role)::text[])) then
    return false;
  end if;
  return claim::public.app_role <= minimum;
end;
$$;
comment on function private.has_app_role(public.app_role) is
  'True when the caller''s app_role ranks at or above minimum, or the database role is the service role.';

-- A job is the caller's when they started it or are a manager. Trusted backends (any database role
-- other than anon and authenticated: the service role, the owner, workers) see every job. An API
-- role without claims owns nothing: it fails closed.
create or replace function private.job_owned(job_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from private.background_jobs j
    where j.id = job_id
      and (private.db_role() not in ('anon', 'authenticated')
           or j.created_by = auth.uid()
           or private.has_app_role('manager'))
  )
$$;
comment on function private.job_owned(uuid) is
  'Whether the caller started the job or is a manager; trusted database roles own every job; no claims, no job.';

revoke execute on function private.db_role() from public;
grant execute on function private.db_role(), private.has_app_role(public.app_role) to anon, authenticated, service_role;
revoke execute on function private.job_owned(uuid) from public, anon;
grant execute on function private.job_owned(uuid) to authenticated, service_role;
