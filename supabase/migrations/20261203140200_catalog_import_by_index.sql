-- Import chunks at index speed. Run as the caller, under row level security, a lookup whose
-- condition holds a function that is not leakproof (`->>`, `lower`) cannot use an index, so each
-- chunk hashed the whole products and variants tables, slower as the catalog grew. Handles are
-- now taken out of the JSON first (a plain text comparison uses the index) and SKUs looked up by
-- a staff-only definer function, as handles already are (product_handles_taken); a clean chunk
-- is handed on without being rebuilt.

create or replace function private.sku_owners(skus text[])
returns table (sku text, product_id uuid, deleted_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_app_role('staff');
  -- A lookup by index per SKU (`limit 1`, the index is unique, keeps it from becoming a scan of the table).
  return query select s.sku, v.product_id, v.deleted_at
    from unnest(skus) as s(sku)
    cross join lateral (select v.product_id, v.deleted_at from public.product_variants v where lower(v.sku) = s.sku limit 1) v;
end;
$$;
comment on function private.sku_owners(text[]) is 'The product and deletion of each taken SKU among skus (lower case), for staff and up.';

create or replace function private.catalog_import_problems(items jsonb)
returns table (ord integer, field text, message text, sqlstate text)
language sql
stable
set search_path = ''
as $$
  with line as materialized (
    select e.ord::integer as ord, e.i, e.i ->> 'handle' as handle from jsonb_array_elements(items) with ordinality as e(i, ord)
  ),
  item as materialized (
    select line.ord, line.i, p.id as product_id, p.status, p.publish_at, p.deleted_at
      from line left join public.products p on p.handle = line.handle
  ),
  variant as materialized (
    select item.ord, item.product_id, (vv.vord - 1)::integer as n, vv.v, lower(vv.v ->> 'sku') as sku
      from item, jsonb_array_elements(coalesce(nullif(item.i -> 'variants', 'null'), '[]')) with ordinality as vv(v, vord)
  ),
  owner as materialized (
    select o.* from private.sku_owners(array(select variant.sku from variant)) o
  ),
  restricted as (
    select private.is_api_caller() and not private.has_app_role('manager') as yes
  )
  select item.ord, 'handle', format('the handle %s belongs to a deleted product', item.i ->> 'handle'), 'P0C01'
    from item where item.deleted_at is not null
  union all
  select item.ord, 'brand', format('unknown brand %s', item.i ->> 'brand'), 'P0V01'
    from item
   where coalesce(item.i ->> 'brand', '') <> ''
     and not exists (select 1 from public.brands b where b.handle = item.i ->> 'brand')
  union all
  select item.ord, 'category', format('unknown category %s', item.i ->> 'category'), 'P0V01'
    from item
   where coalesce(item.i ->> 'category', '') <> ''
     and not exists (select 1 from public.categories c where c.handle = item.i ->> 'category')
  union all
  select item.ord, case when item.i ? 'status' then 'status' else 'publish_at' end,
         'only managers publish, schedule, archive or delete products', 'P0F01'
    from item, restricted
   where restricted.yes
     and case when item.product_id is null
              then coalesce(item.i ->> 'status', 'draft') <> 'draft' or item.i ->> 'publish_at' is not null
              else (item.i ? 'status' and item.i ->> 'status' is distinct from item.status)
                or (item.i ? 'publish_at' and (item.i ->> 'publish_at')::timestamptz is distinct from item.publish_at) end
  union all
  select variant.ord, format('variants.%s.sku', variant.n),
         case when pv.product_id is distinct from variant.product_id
              then format('the SKU %s belongs to another product', variant.v ->> 'sku')
              else format('the SKU %s belongs to a deleted variant', variant.v ->> 'sku') end,
         'P0C01'
    from variant join owner pv on pv.sku = variant.sku
   where pv.product_id is distinct from variant.product_id or pv.deleted_at is not null
  union all
  select variant.ord, format('variants.%s.compare_at_amount', variant.n), 'must be above price_amount', 'P0V01'
    from variant
   where (variant.v ->> 'compare_at_amount')::bigint <= (variant.v ->> 'price_amount')::bigint
  union all
  select variant.ord, 'variants', 'a product''s variants share one currency', 'P0V01'
    from variant group by variant.ord having count(distinct variant.v ->> 'currency') > 1
$$;
comment on function private.catalog_import_problems(jsonb) is
  'The lines of an import chunk (product items, in order) that would fail, found in one pass: item ordinal, field, message, SQLSTATE.';

create or replace function private.catalog_upsert_products(items jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  fresh jsonb;
  stored jsonb;
begin
  with line as materialized (
    select e.ord, e.i, e.i ->> 'handle' as handle from jsonb_array_elements(items) with ordinality as e(i, ord)
  )
  select coalesce(jsonb_agg(line.i order by line.ord) filter (where p.id is null), '[]'),
         coalesce(jsonb_agg(line.i || jsonb_build_object('id', p.id) order by p.handle) filter (where p.id is not null), '[]')
    into fresh, stored
    from line left join public.products p on p.handle = line.handle;
  if jsonb_array_length(fresh) > 0 then
    perform private.catalog_insert_products(fresh);
  end if;
  if jsonb_array_length(stored) = 0 then
    return;
  end if;

  -- The product's fields the line gives (a status last, once its variants are in place).
  update public.products p set
    title = coalesce(i ->> 'title', p.title),
    description = coalesce(i ->> 'description', p.description),
    brand_id = case when i ? 'brand_id' then (i ->> 'brand_id')::uuid
                    when i ? 'brand' then (select b.id from public.brands b where b.handle = i ->> 'brand')
                    else p.brand_id end,
    category_id = case when i ? 'category_id' then (i ->> 'category_id')::uuid
                       when i ? 'category' then (select c.id from public.categories c where c.handle = i ->> 'category')
                       else p.category_id end,
    attributes = coalesce(nullif(i -> 'attributes', 'null'), p.attributes)
    from jsonb_array_elements(stored) as e(i)
   where p.id = (i ->> 'id')::uuid;

  -- Its variants by SKU: the ones it has are updated, new ones added after them.
  update public.product_variants pv set
    title = coalesce(v ->> 'title', pv.title),
    options = coalesce(nullif(v -> 'options', 'null'), pv.options),
    price_amount = coalesce((v ->> 'price_amount')::integer, pv.price_amount),
    currency = coalesce(v ->> 'currency', pv.currency),
    compare_at_amount = case when v ? 'compare_at_amount' then (v ->> 'compare_at_amount')::integer else pv.compare_at_amount end,
    barcode = case when v ? 'barcode' then v ->> 'barcode' else pv.barcode end,
    weight_grams = case when v ? 'weight_grams' then (v ->> 'weight_grams')::integer else pv.weight_grams end,
    position = coalesce((v ->> 'position')::integer, pv.position)
    from jsonb_array_elements(stored) as e(i),
         jsonb_array_elements(coalesce(nullif(i -> 'variants', 'null'), '[]')) as vv(v)
   where pv.product_id = (i ->> 'id')::uuid and lower(pv.sku) = lower(v ->> 'sku') and pv.deleted_at is null;

  insert into public.product_variants
    (product_id, sku, title, options, price_amount, currency, compare_at_amount, barcode, weight_grams, position)
  select (i ->> 'id')::uuid, v ->> 'sku', coalesce(v ->> 'title', ''), coalesce(nullif(v -> 'options', 'null'), '{}'),
         (v ->> 'price_amount')::integer, v ->> 'currency', (v ->> 'compare_at_amount')::integer, v ->> 'barcode',
         (v ->> 'weight_grams')::integer, (v ->> 'position')::integer
    from jsonb_array_elements(stored) with ordinality as e(i, ord),
         jsonb_array_elements(coalesce(nullif(i -> 'variants', 'null'), '[]')) with ordinality as vv(v, vord)
   where not exists (select 1 from public.product_variants pv where lower(pv.sku) = lower(v ->> 'sku'))
   order by ord, vord;

  update public.products p set
    status = coalesce(i ->> 'status', p.status),
    publish_at = case when i ? 'publish_at' then (i ->> 'publish_at')::timestamptz else p.publish_at end
    from jsonb_array_elements(stored) as e(i)
   where p.id = (i ->> 'id')::uuid and (i ? 'status' or i ? 'publish_at');
end;
$$;
comment on function private.catalog_upsert_products(jsonb) is
  'Creates the products of items whose handle is new and updates the stored ones (given fields, variants by SKU), as the caller.';

-- One chunk of a product import, as the job's user: the lines the checks refuse are recorded,
-- the rest written set-based in one go; should that fail, row by row, each in a subtransaction.
create or replace function private.catalog_import_chunk(job_id uuid, max_rows integer default 1000)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  lines integer[];
  items jsonb;
  refused integer[];
  failures jsonb;
  done integer := 0;
  ord integer;
  err_state text;
  err_message text;
  err_detail text;
  err_field text;
begin
  perform pg_advisory_xact_lock(hashtextextended('storekeep.catalog_import', 0));
  select coalesce(array_agg(t.line order by t.line), '{}'), coalesce(jsonb_agg(t.data order by t.line), '[]')
    into lines, items from private.import_take(job_id, max_rows) t;
  if cardinality(lines) = 0 then
    return jsonb_build_object('done', 0, 'failed', 0, 'taken', 0);
  end if;

  select coalesce(array_agg(p.ord order by p.ord), '{}'),
         coalesce(jsonb_agg(jsonb_build_object('line', lines[p.ord], 'field', p.field, 'message', p.field || ': ' || p.message,
                    'sqlstate', p.sqlstate) order by p.ord), '[]')
    into refused, failures
    from (select distinct on (x.ord) x.* from private.catalog_import_problems(items) x order by x.ord, x.field) p;
  if cardinality(refused) > 0 then
    select coalesce(jsonb_agg(e.i order by e.o), '[]') into items
      from jsonb_array_elements(items) with ordinality as e(i, o) where e.o <> all (refused);
    lines := array(select l from unnest(lines) with ordinality as x(l, o) where x.o <> all (refused) order by x.o);
  end if;

  begin
    perform private.catalog_upsert_products(items);
    done := jsonb_array_length(items);
  exception when others then
    for ord in 1 .. cardinality(lines) loop
      begin
        perform private.catalog_upsert_products(jsonb_build_array(items -> (ord - 1)));
        done := done + 1;
      exception when others then
        get stacked diagnostics err_state = returned_sqlstate, err_message = message_text, err_detail = pg_exception_detail;
        err_field := null;
        if err_detail like '{%' then
          begin
            err_field := err_detail::jsonb ->> 'field';
          exception when others then
            err_field := null;
          end;
        end if;
        failures := failures || jsonb_strip_nulls(jsonb_build_object('line', lines[ord], 'message', err_message,
          'sqlstate', err_state, 'field', err_field, 'detail', nullif(err_detail, '')));
      end;
    end loop;
  end;
  perform private.job_record(job_id, done, jsonb_array_length(failures), failures);
  return jsonb_build_object('done', done, 'failed', jsonb_array_length(failures), 'taken', done + jsonb_array_length(failures));
end;
$$;
comment on function private.catalog_import_chunk(uuid, integer) is
  'Imports (creates or updates) up to max_rows staged rows of a job as the caller; records progress; returns counts for the chunk.';

revoke execute on function private.sku_owners(text[]) from public, anon;
grant execute on function private.sku_owners(text[]) to authenticated, service_role;
