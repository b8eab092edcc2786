-- Admins assign roles to users they cannot read directly (auth.users is not exposed).
create or replace function private.user_exists(user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select private.has_app_role('admin') and exists (select 1 from auth.users u where u.id = user_id)
$$;
comment on function private.user_exists(uuid) is
  'Whether a user exists; answers only admins (and the service role), false for everyone else.';
grant execute on function private.user_exists(uuid) to authenticated, service_role;
