-- Import upserts by handle and SKU, and checks its lines set-based.
--
-- A product line whose handle names a stored product updates it: the fields the line gives
-- overwrite, the others keep their values. Its variants are matched by SKU (case-insensitive): a
-- SKU of that product is updated the same way, a new SKU is added to it. A line without a handle,
-- or with a handle no product has, creates a product as before. A line is all or nothing: the
-- product with every variant it names, or, when any part fails, nothing of it.
--
-- The checks that would fail a line (unknown brand or category, a SKU of another product, a price
-- rule, a status only managers may set) are made for the whole chunk in one pass before writing,
-- so a bad line no longer sends its chunk row by row; only what the checks cannot foresee does.
-- Imports take turns chunk by chunk (one advisory lock), so two imports naming the same handle
-- or SKU never race: the second sees the first's product and updates it.

create or replace function private.catalog_import_problems(items jsonb)
returns table (ord integer, field text, message text, sqlstate text)
language sql
stable
set search_path = ''
as $$
  with item as (
    select e.ord::integer as ord, e.i, p.id as product_id, p.status, p.publish_at, p.deleted_at
      from jsonb_array_elements(items) with ordinality as e(i, ord)
      left join public.products p on p.handle = e.i ->> 'handle'
  ),
  variant as (
    select item.ord, item.product_id, (vv.vord - 1)::integer as n, vv.v
      from item, jsonb_array_elements(coalesce(nullif(item.i -> 'variants', 'null'), '[]')) with ordinality as vv(v, vord)
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
              then format('the SKU %s belongs to another product', pv.sku)
              else format('the SKU %s belongs to a deleted variant', pv.sku) end,
         'P0C01'
    from variant join public.product_variants pv on lower(pv.sku) = lower(variant.v ->> 'sku')
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
  select coalesce(jsonb_agg(e.i order by e.ord) filter (where p.id is null), '[]'),
         coalesce(jsonb_agg(e.i || jsonb_build_object('id', p.id) order by p.handle) filter (where p.id is not null), '[]')
    into fresh, stored
    from jsonb_array_elements(items) with ordinality as e(i, ord)
    left join public.products p on p.handle = e.i ->> 'handle';
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
  taken jsonb;
  good jsonb;
  item jsonb;
  done integer := 0;
  failures jsonb;
  err_state text;
  err_message text;
  err_detail text;
  err_field text;
begin
  perform pg_advisory_xact_lock(hashtextextended('storekeep.catalog_import', 0));
  select coalesce(jsonb_agg(jsonb_build_object('line', t.line, 'data', t.data) order by t.line), '[]')
    into taken from private.import_take(job_id, max_rows) t;
  if jsonb_array_length(taken) = 0 then
    return jsonb_build_object('done', 0, 'failed', 0, 'taken', 0);
  end if;

  with problem as (
    select distinct on (p.ord) p.ord, p.field, p.message, p.sqlstate
      from private.catalog_import_problems((select jsonb_agg(t -> 'data' order by o) from jsonb_array_elements(taken) with ordinality x(t, o))) p
     order by p.ord, p.field
  )
  select coalesce(jsonb_agg(jsonb_build_object('line', (t ->> 'line')::integer, 'field', problem.field,
                    'message', problem.field || ': ' || problem.message, 'sqlstate', problem.sqlstate) order by o)
                    filter (where problem.ord is not null), '[]'),
         coalesce(jsonb_agg(t order by o) filter (where problem.ord is null), '[]')
    into failures, good
    from jsonb_array_elements(taken) with ordinality as x(t, o)
    left join problem on problem.ord = x.o;

  begin
    perform private.catalog_upsert_products((select coalesce(jsonb_agg(t -> 'data' order by o), '[]')
                                               from jsonb_array_elements(good) with ordinality x(t, o)));
    done := jsonb_array_length(good);
  exception when others then
    for item in select t from jsonb_array_elements(good) with ordinality x(t, o) order by o loop
      begin
        perform private.catalog_upsert_products(jsonb_build_array(item -> 'data'));
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
        failures := failures || jsonb_strip_nulls(jsonb_build_object('line', (item ->> 'line')::integer, 'message', err_message,
          'sqlstate', err_state, 'field', err_field, 'detail', nullif(err_detail, '')));
      end;
    end loop;
  end;
  perform private.job_record(job_id, done, jsonb_array_length(failures), failures);
  return jsonb_build_object('done', done, 'failed', jsonb_array_length(failures), 'taken', jsonb_array_length(taken));
end;
$$;
comment on function private.catalog_import_chunk(uuid, integer) is
  'Imports (creates or updates) up to max_rows staged rows of a job as the caller; records progress; returns counts for the chunk.';

revoke execute on function private.catalog_import_problems(jsonb), private.catalog_upsert_products(jsonb) from public, anon;
grant execute on function private.catalog_import_problems(jsonb), private.catalog_upsert_products(jsonb) to authenticated, service_role;
