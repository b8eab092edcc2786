-- Catalog helpers: URL-safe handles and the question "is this caller bound by the staff rules?".

-- A URL-safe handle from free text: lower case, common accents folded, runs of anything else
-- become one dash. Never empty.
create or replace function private.slugify(value text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select coalesce(
    nullif(
      btrim(
        left(
          regexp_replace(
            translate(replace(lower(coalesce(value, '')), 'ß', 'ss'), 'àáâãäåāçćčèéêëēěìíîïīñńòóôõöøōùúûüūýÿžš', 'aaaaaaaccceeeeeeiiiiinnoooooooouuuuuyyzs'),
            '[^a-z0-9]+', '-', 'g'
          ),
          180
        ),
        '-'
      ),
      ''
    ),
    'item'
  )
$$;
comment on function private.slugify(text) is
  'A URL-safe handle (a-z, 0-9, single dashes) from free text; ''item'' when nothing is left.';

-- The first free handle in `target` (a table with `id uuid` and unique `handle`): `base`, then
-- `base-2`, `base-3`, ... Reads every row whatever the caller may see: handles are unique globally.
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
  'The first unused handle base, base-2, base-3, ... in a catalog table (products, brands or categories).';

-- Clients reaching the tables through the Data API run as anon or authenticated and are bound by
-- the staff rules below; the service role, jobs and migrations are not.
create or replace function private.is_api_caller()
returns boolean
language sql
stable
set search_path = ''
as $$
  select current_user in ('anon', 'authenticated')
$$;
comment on function private.is_api_caller() is
  'True when the statement runs as anon or authenticated (a Data API or API caller bound by RLS and staff rules).';

grant execute on function private.slugify(text), private.free_handle(regclass, text, uuid), private.is_api_caller()
  to anon, authenticated, service_role;
