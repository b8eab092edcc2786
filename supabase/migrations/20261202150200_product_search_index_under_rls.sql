-- A product search under row level security could not use the search index: `@@` is not
-- leakproof, so Postgres may evaluate it only after the products' policies, row by row, and drove
-- the search from another index instead (a category's 15,000 products read for 169 matches: 10x
-- the bare query on 35k products). This function runs the index search as its owner and applies
-- the same visibility as those policies; a signed-in caller's list starts from the ids it returns,
-- and the caller's own policies still apply to every row the list reads. Anonymous callers may
-- execute no security definer function (tests/privileges): their lists keep the plain match.
create or replace function private.products_matching(q tsquery)
returns setof uuid
language sql
stable
rows 100
security definer
set search_path = ''
as $$
  select p.id
  from public.products p
  where p.search @@ q
    and ((select private.db_role() not in ('anon', 'authenticated') or private.has_app_role('viewer'))
         or (p.status = 'published' and p.deleted_at is null))
$$;
comment on function private.products_matching(tsquery) is
  'Ids of the products whose search document matches q among those the caller may read (the products'' policies), through the search index.';
revoke execute on function private.products_matching(tsquery) from public;
grant execute on function private.products_matching(tsquery) to authenticated, service_role;
