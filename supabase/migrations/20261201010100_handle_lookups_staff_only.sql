-- Handle lookups read every product, published or not, so they answer only staff: an anonymous
-- caller or a customer asking whether `secret-launch` is taken learns that a draft exists.
-- Both stay executable by authenticated because the catalog rules trigger and
-- private.catalog_insert_products run as the caller; trusted roles (service role, owner) pass.

create or replace function private.free_handle(target regclass, base text, self uuid)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  candidate text := base;
  suffix integer := 1;
  me uuid := coalesce(self, '00000000-0000-0000-0000-000000000000'::uuid);
begin
  perform private.require_app_role('staff');
  -- Static statements per table (plans are cached); volatile, so rows written earlier in the
  -- same statement are seen.
  loop
    exit when case target
      when 'public.products'::regclass then
        not exists (select 1 from public.products t where t.handle = candidate and t.id <> me)
      when 'public.brands'::regclass then
        not exists (select 1 from public.brands t where t.handle = candidate and t.id <> me)
      when 'public.categories'::regclass then
        not exists (select 1 from public.categories t where t.handle = candidate and t.id <> me)
      else private.raise_business_error('P0V01', 'free_handle does not serve ' || target::text, '{}') is null
    end;
    suffix := suffix + 1;
    candidate := base || '-' || suffix;
  end loop;
  return candidate;
end;
$$;
comment on function private.free_handle(regclass, text, uuid) is
  'The first unused handle base, base-2, base-3, ... in a catalog table (products, brands or categories); staff and up.';

create or replace function private.product_handles_taken(handles text[])
returns text[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_app_role('staff');
  return (select coalesce(array_agg(p.handle), '{}') from public.products p where p.handle = any (handles));
end;
$$;
comment on function private.product_handles_taken(text[]) is 'The given handles that a product already holds; staff and up.';

revoke execute on function private.free_handle(regclass, text, uuid), private.product_handles_taken(text[])
  from public, anon;
grant execute on function private.free_handle(regclass, text, uuid), private.product_handles_taken(text[])
  to authenticated, service_role;
