-- An import chunk of new products only (the first import of a catalog) is handed to
-- catalog_insert_products as it came, instead of being split and rebuilt first.

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
  select coalesce(jsonb_agg(line.i || jsonb_build_object('id', p.id) order by p.handle), '[]')
    into stored
    from line join public.products p on p.handle = line.handle;
  if jsonb_array_length(stored) = 0 then
    -- Every product is new (an import of a new catalog): handed on as it came.
    if jsonb_array_length(items) > 0 then
      perform private.catalog_insert_products(items);
    end if;
    return;
  end if;
  with line as materialized (
    select e.ord, e.i, e.i ->> 'handle' as handle from jsonb_array_elements(items) with ordinality as e(i, ord)
  )
  select coalesce(jsonb_agg(line.i order by line.ord), '[]') into fresh
    from line where not exists (select 1 from public.products p where p.handle = line.handle);
  if jsonb_array_length(fresh) > 0 then
    perform private.catalog_insert_products(fresh);
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
