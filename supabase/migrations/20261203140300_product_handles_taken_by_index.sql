-- private.product_handles_taken looked up an import chunk's thousand handles with `= any(...)`,
-- which the planner answers with a scan of every product: each chunk slower as the catalog grew.
-- One lookup by index per handle instead (`limit 1` keeps it from becoming a join again).

create or replace function private.product_handles_taken(handles text[])
returns text[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_app_role('staff');
  return array(
    select p.handle
      from (select distinct h.handle from unnest(handles) as h(handle)) h
      cross join lateral (select p.handle from public.products p where p.handle = h.handle limit 1) p);
end;
$$;
comment on function private.product_handles_taken(text[]) is 'The given handles that a product already holds; staff and up.';
