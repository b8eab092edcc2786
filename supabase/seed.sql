-- Local demo data (applied by `npm start` and `supabase db reset`; never by a production push).
-- Re-running it changes nothing.

-- Demo staff users; `npm start` prints an access token for each.
insert into auth.users (id, email)
values
  ('00000000-0000-4000-8000-000000000001', 'owner@storekeep.local'),
  ('00000000-0000-4000-8000-000000000002', 'admin@storekeep.local'),
  ('00000000-0000-4000-8000-000000000003', 'manager@storekeep.local'),
  ('00000000-0000-4000-8000-000000000004', 'staff@storekeep.local'),
  ('00000000-0000-4000-8000-000000000005', 'viewer@storekeep.local')
on conflict (id) do nothing;

insert into public.user_roles (user_id, app_role)
values
  ('00000000-0000-4000-8000-000000000001', 'owner'),
  ('00000000-0000-4000-8000-000000000002', 'admin'),
  ('00000000-0000-4000-8000-000000000003', 'manager'),
  ('00000000-0000-4000-8000-000000000004', 'staff'),
  ('00000000-0000-4000-8000-000000000005', 'viewer')
on conflict (user_id) do nothing;
