-- Catalog operations the API calls, each one statement of intent run as the caller (security
-- invoker): row level security and the rules triggers decide, these only compose the writes and
-- say precisely why one did not happen (not found, stale version).

-- A product as the API returns it: the row (without its search document) and its live variants.
create or replace function private.product_json(p public.products)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select (to_jsonb(p) - 'search') || jsonb_build_object('variants', coalesce(
    (select jsonb_agg(to_jsonb(v) order by v.position, v.created_at, v.id)
       from public.product_variants v where v.product_id = p.id and v.deleted_at is null),
    '[]'::jsonb))
$$;
comment on function private.product_json(public.products) is 'A product with its live variants as JSON (what the API returns).';

create or replace function private.product_json_by_id(product_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select private.product_json(p) from public.products p where p.id = product_id
$$;
comment on function private.product_json_by_id(uuid) is 'private.product_json of the product with this id, null when the caller cannot see it.';

-- Why a write on one product matched no row: it is gone (404) or its version moved on (409, with
-- the current product in the problem so the client can merge and retry).
create or replace function private.product_write_missed(product_id uuid, expected_version integer)
returns void
language plpgsql
set search_path = ''
as $$
declare
  current public.products;
begin
  select * into current from public.products p where p.id = product_id;
  if not found or current.deleted_at is not null then
    perform private.raise_business_error('P0N01', 'no such product', jsonb_build_object('id', product_id));
  end if;
  if expected_version is not null and current.version <> expected_version then
    perform private.raise_business_error('P0C02', 'the product was changed since version ' || expected_version,
      jsonb_build_object('expected_version', expected_version, 'current', private.product_json(current)));
  end if;
  perform private.raise_business_error('P0F01', 'the caller may not change this product', jsonb_build_object('id', product_id));
end;
$$;
comment on function private.product_write_missed(uuid, integer) is
  'Raises why a product write matched nothing: not found (P0N01), stale version (P0C02) or not allowed (P0F01).';

-- Which of these handles a product already holds, whatever the caller may see (handles are unique
-- across every product, as private.free_handle knows).
create or replace function private.product_handles_taken(handles text[])
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(p.handle), '{}') from public.products p where p.handle = any (handles)
$$;
comment on function private.product_handles_taken(text[]) is 'The given handles that a product already holds.';

-- Creates products with their variants, set-based: `items` is a JSON array of product objects
-- ({title, handle?, description?, brand_id? | brand?, category_id? | category?, attributes?,
-- status?, publish_at?, variants: [...]}); brand and category may be given by handle. Products are
-- written as drafts, then variants, then any requested status or schedule, so the publishing rules
-- see the variants. Returns the new ids in input order.
create or replace function private.catalog_insert_products(items jsonb)
returns uuid[]
language plpgsql
set search_path = ''
as $$
declare
  missing jsonb;
  labels jsonb; -- search labels by 'brand_id/category_id'
begin
  if jsonb_typeof(items) is distinct from 'array' then
    perform private.raise_business_error('P0V01', 'items must be a JSON array', '{}');
  end if;
  -- Give every item its id and resolve brand and category handles.
  select jsonb_agg(
           i || jsonb_build_object(
             'id', gen_random_uuid(),
             'brand_id', coalesce(i ->> 'brand_id', (select b.id::text from public.brands b where b.handle = i ->> 'brand')),
             'category_id', coalesce(i ->> 'category_id', (select c.id::text from public.categories c where c.handle = i ->> 'category')))
           order by ord)
    into items
    from jsonb_array_elements(items) with ordinality as e(i, ord);

  select jsonb_agg(jsonb_build_object('field', f.field, 'handle', f.handle)) into missing
    from jsonb_array_elements(items) i,
         lateral (values ('brand', i ->> 'brand', i ->> 'brand_id'), ('category', i ->> 'category', i ->> 'category_id'))
           as f(field, handle, resolved)
   where coalesce(f.handle, '') <> '' and f.resolved is null;
  if missing is not null then
    perform private.raise_business_error('P0V01', 'unknown ' || (missing -> 0 ->> 'field') || ' ' || (missing -> 0 ->> 'handle'),
      jsonb_build_object('field', missing -> 0 ->> 'field', 'missing', missing));
  end if;

  -- Handles from titles, set-based where nothing can collide: a title's slug goes in as the handle
  -- when no stored product, no other item's handle or slug, and no `<other slug>-<n>` the rules
  -- trigger could generate for another item holds it. Every other missing handle is left to the
  -- trigger (private.free_handle, which sees the rows inserted before it in the statement).
  -- (jsonb objects serve as hash sets: the planner cannot know how many items there are.)
  with e as materialized (
    select x.ord, x.i, case when coalesce(btrim(x.i ->> 'handle'), '') = '' then private.slugify(x.i ->> 'title') end as slug
      from jsonb_array_elements(items) with ordinality as x(i, ord)
  ),
  sets as materialized (
    select coalesce(jsonb_object_agg(e.slug, true) filter (where e.slug is not null), '{}') as slugs,
           coalesce(jsonb_object_agg(e.i ->> 'handle', true) filter (where e.slug is null), '{}') as given,
           (select coalesce(jsonb_object_agg(t, true), '{}')
              from unnest(private.product_handles_taken(array(select g.slug from e g where g.slug is not null))) t) as taken
      from e
  )
  select jsonb_agg(case when s.slug is not null and s.uses = 1 and not sets.taken ? s.slug and not sets.given ? s.slug
                          and not (s.stripped <> s.slug and sets.slugs ? s.stripped)
                        then s.i || jsonb_build_object('handle', s.slug) else s.i end order by s.ord)
    into items
    from (select e.ord, e.i, e.slug, regexp_replace(e.slug, '-[0-9]+$', '') as stripped,
                 count(*) over (partition by e.slug) as uses
            from e) s,
         sets;

  -- Each product's search document is computed once, here, from its input with its SKUs; the
  -- search triggers skip their own pass while the flag is on (transaction-local, and undone with
  -- any subtransaction that fails).
  select coalesce(jsonb_object_agg(k.key, private.search_labels(k.brand_id, k.category_id)), '{}') into labels
    from (select distinct coalesce(i ->> 'brand_id', '') || '/' || coalesce(i ->> 'category_id', '') as key,
                 (i ->> 'brand_id')::uuid as brand_id, (i ->> 'category_id')::uuid as category_id
            from jsonb_array_elements(items) i) k;
  perform set_config('storekeep.search_precomputed', 'on', true);
  insert into public.products (id, handle, title, description, brand_id, category_id, attributes, search)
  select (i ->> 'id')::uuid, nullif(i ->> 'handle', ''), i ->> 'title', coalesce(i ->> 'description', ''),
         (i ->> 'brand_id')::uuid, (i ->> 'category_id')::uuid, coalesce(nullif(i -> 'attributes', 'null'), '{}'),
         private.search_document_labelled(i ->> 'title', coalesce(i ->> 'description', ''),
           (select string_agg(v ->> 'sku', ' ') from jsonb_array_elements(coalesce(nullif(i -> 'variants', 'null'), '[]')) v),
           labels ->> (coalesce(i ->> 'brand_id', '') || '/' || coalesce(i ->> 'category_id', '')))
    from jsonb_array_elements(items) with ordinality as e(i, ord)
   order by ord;

  insert into public.product_variants
    (product_id, sku, title, options, price_amount, currency, compare_at_amount, barcode, weight_grams, position)
  select (i ->> 'id')::uuid, v ->> 'sku', coalesce(v ->> 'title', ''), coalesce(nullif(v -> 'options', 'null'), '{}'),
         (v ->> 'price_amount')::integer, v ->> 'currency', (v ->> 'compare_at_amount')::integer, v ->> 'barcode',
         (v ->> 'weight_grams')::integer, coalesce((v ->> 'position')::integer, (vord - 1)::integer)
    from jsonb_array_elements(items) with ordinality as e(i, ord),
         jsonb_array_elements(coalesce(nullif(i -> 'variants', 'null'), '[]')) with ordinality as vv(v, vord)
   order by ord, vord;
  perform set_config('storekeep.search_precomputed', 'off', true);

  update public.products p
     set status = coalesce(i ->> 'status', p.status), publish_at = (i ->> 'publish_at')::timestamptz
    from jsonb_array_elements(items) as e(i)
   where p.id = (i ->> 'id')::uuid
     and (coalesce(i ->> 'status', 'draft') <> 'draft' or i ->> 'publish_at' is not null);

  return array(select (i ->> 'id')::uuid from jsonb_array_elements(items) with ordinality as e(i, ord) order by ord);
end;
$$;
comment on function private.catalog_insert_products(jsonb) is
  'Creates products with their variants (set-based, as the caller); returns their ids in input order.';

create or replace function private.catalog_create_product(item jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  ids uuid[] := private.catalog_insert_products(jsonb_build_array(item));
begin
  -- A statement of its own, so it sees the rows just written.
  return private.product_json_by_id(ids[1]);
end;
$$;
comment on function private.catalog_create_product(jsonb) is 'Creates one product with its variants; returns it as JSON.';

-- Changes the fields present in `patch` (title, handle, description, brand_id, category_id,
-- attributes); a null handle is regenerated from the title. With expected_version, only that version.
create or replace function private.catalog_update_product(product_id uuid, expected_version integer, patch jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  updated public.products;
begin
  update public.products p set
    title = case when patch ? 'title' then patch ->> 'title' else p.title end,
    handle = case when patch ? 'handle' then patch ->> 'handle' else p.handle end,
    description = case when patch ? 'description' then coalesce(patch ->> 'description', '') else p.description end,
    brand_id = case when patch ? 'brand_id' then (patch ->> 'brand_id')::uuid else p.brand_id end,
    category_id = case when patch ? 'category_id' then (patch ->> 'category_id')::uuid else p.category_id end,
    attributes = case when patch ? 'attributes' then coalesce(nullif(patch -> 'attributes', 'null'), '{}') else p.attributes end
  where p.id = product_id and p.deleted_at is null and (expected_version is null or p.version = expected_version)
  returning * into updated;
  if not found then
    perform private.product_write_missed(product_id, expected_version);
  end if;
  return private.product_json(updated);
end;
$$;
comment on function private.catalog_update_product(uuid, integer, jsonb) is
  'Updates the product fields present in patch, optionally only at expected_version; returns the product.';

-- publish (now, or at publish_at), unpublish (back to draft, ending any schedule) or archive.
create or replace function private.catalog_set_product_status(
  product_id uuid, action text, publish_at timestamptz default null, expected_version integer default null
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  updated public.products;
begin
  if action not in ('publish', 'unpublish', 'archive') then
    perform private.raise_business_error('P0V01', 'unknown action ' || coalesce(action, 'null'), jsonb_build_object('field', 'action'));
  end if;
  if action <> 'publish' and publish_at is not null then
    perform private.raise_business_error('P0V01', 'only publish takes publish_at', jsonb_build_object('field', 'publish_at'));
  end if;
  update public.products p set
    status = case action
               when 'publish' then case when catalog_set_product_status.publish_at is null then 'published' else p.status end
               when 'unpublish' then 'draft'
               else 'archived' end,
    publish_at = catalog_set_product_status.publish_at
  where p.id = product_id and p.deleted_at is null and (expected_version is null or p.version = expected_version)
  returning * into updated;
  if not found then
    perform private.product_write_missed(product_id, expected_version);
  end if;
  return private.product_json(updated);
end;
$$;
comment on function private.catalog_set_product_status(uuid, text, timestamptz, integer) is
  'Publishes (now or scheduled), unpublishes or archives a product as the caller; returns the product.';

create or replace function private.catalog_delete_product(product_id uuid, expected_version integer default null)
returns void
language plpgsql
set search_path = ''
as $$
begin
  update public.products p set deleted_at = now()
  where p.id = product_id and p.deleted_at is null and (expected_version is null or p.version = expected_version);
  if not found then
    perform private.product_write_missed(product_id, expected_version);
  end if;
end;
$$;
comment on function private.catalog_delete_product(uuid, integer) is 'Soft-deletes a product (and so its variants) as the caller.';

-- Variants ---------------------------------------------------------------------------------------

create or replace function private.variant_write_missed(variant_id uuid, expected_version integer)
returns void
language plpgsql
set search_path = ''
as $$
declare
  current public.product_variants;
begin
  select * into current from public.product_variants v where v.id = variant_id;
  if not found or current.deleted_at is not null then
    perform private.raise_business_error('P0N01', 'no such variant', jsonb_build_object('id', variant_id));
  end if;
  if expected_version is not null and current.version <> expected_version then
    perform private.raise_business_error('P0C02', 'the variant was changed since version ' || expected_version,
      jsonb_build_object('expected_version', expected_version, 'current', to_jsonb(current)));
  end if;
  perform private.raise_business_error('P0F01', 'the caller may not change this variant', jsonb_build_object('id', variant_id));
end;
$$;
comment on function private.variant_write_missed(uuid, integer) is
  'Raises why a variant write matched nothing: not found (P0N01), stale version (P0C02) or not allowed (P0F01).';

create or replace function private.catalog_add_variant(product_id uuid, item jsonb)
returns jsonb
language sql
set search_path = ''
as $$
  insert into public.product_variants
    (product_id, sku, title, options, price_amount, currency, compare_at_amount, barcode, weight_grams, position)
  values (product_id, item ->> 'sku', coalesce(item ->> 'title', ''), coalesce(nullif(item -> 'options', 'null'), '{}'),
          (item ->> 'price_amount')::integer, item ->> 'currency', (item ->> 'compare_at_amount')::integer,
          item ->> 'barcode', (item ->> 'weight_grams')::integer, coalesce((item ->> 'position')::integer, 0))
  returning to_jsonb(product_variants.*)
$$;
comment on function private.catalog_add_variant(uuid, jsonb) is 'Adds a variant to a live product as the caller; returns it.';

create or replace function private.catalog_update_variant(variant_id uuid, expected_version integer, patch jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  updated public.product_variants;
begin
  update public.product_variants v set
    sku = case when patch ? 'sku' then patch ->> 'sku' else v.sku end,
    title = case when patch ? 'title' then coalesce(patch ->> 'title', '') else v.title end,
    options = case when patch ? 'options' then coalesce(nullif(patch -> 'options', 'null'), '{}') else v.options end,
    price_amount = case when patch ? 'price_amount' then (patch ->> 'price_amount')::integer else v.price_amount end,
    currency = case when patch ? 'currency' then patch ->> 'currency' else v.currency end,
    compare_at_amount = case when patch ? 'compare_at_amount' then (patch ->> 'compare_at_amount')::integer else v.compare_at_amount end,
    barcode = case when patch ? 'barcode' then patch ->> 'barcode' else v.barcode end,
    weight_grams = case when patch ? 'weight_grams' then (patch ->> 'weight_grams')::integer else v.weight_grams end,
    position = case when patch ? 'position' then coalesce((patch ->> 'position')::integer, 0) else v.position end
  where v.id = variant_id and v.deleted_at is null and (expected_version is null or v.version = expected_version)
  returning * into updated;
  if not found then
    perform private.variant_write_missed(variant_id, expected_version);
  end if;
  return to_jsonb(updated);
end;
$$;
comment on function private.catalog_update_variant(uuid, integer, jsonb) is
  'Updates the variant fields present in patch, optionally only at expected_version; returns the variant.';

create or replace function private.catalog_delete_variant(variant_id uuid, expected_version integer default null)
returns void
language plpgsql
set search_path = ''
as $$
begin
  update public.product_variants v set deleted_at = now()
  where v.id = variant_id and v.deleted_at is null and (expected_version is null or v.version = expected_version);
  if not found then
    perform private.variant_write_missed(variant_id, expected_version);
  end if;
end;
$$;
comment on function private.catalog_delete_variant(uuid, integer) is 'Soft-deletes a variant as the caller (its SKU stays reserved).';

-- Bulk -------------------------------------------------------------------------------------------

-- Runs up to 1,000 operations ({action: create|update|delete, id?, version?, product?}), each in
-- its own subtransaction, and reports each: {index, ok, product | error{sqlstate, message, detail}}.
-- With atomic, any failure rolls every operation back (committed = false).
create or replace function private.catalog_bulk(ops jsonb, atomic boolean default false)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  op jsonb;
  idx integer;
  result jsonb;
  results jsonb[] := '{}';
  failures integer := 0;
  committed boolean := true;
  err_state text;
  err_message text;
  err_detail text;
  err_constraint text;
begin
  if jsonb_typeof(ops) is distinct from 'array' or jsonb_array_length(ops) > 1000 then
    perform private.raise_business_error('P0V01', 'ops must be an array of at most 1000 operations', jsonb_build_object('field', 'ops'));
  end if;
  begin
    for op, idx in select e.value, (e.ord - 1)::integer from jsonb_array_elements(ops) with ordinality as e(value, ord) loop
      begin
        case op ->> 'action'
          when 'create' then
            result := private.catalog_create_product(op -> 'product');
          when 'update' then
            result := private.catalog_update_product((op ->> 'id')::uuid, (op ->> 'version')::integer, coalesce(op -> 'product', '{}'));
          when 'delete' then
            perform private.catalog_delete_product((op ->> 'id')::uuid, (op ->> 'version')::integer);
            result := null;
          else
            perform private.raise_business_error('P0V01', 'unknown action', jsonb_build_object('field', 'action'));
        end case;
        results := results || jsonb_build_object('index', idx, 'ok', true, 'id', coalesce(result ->> 'id', op ->> 'id'), 'product', result);
      exception when others then
        get stacked diagnostics err_state = returned_sqlstate, err_message = message_text,
          err_detail = pg_exception_detail, err_constraint = constraint_name;
        failures := failures + 1;
        results := results || jsonb_build_object('index', idx, 'ok', false, 'id', op ->> 'id', 'error', jsonb_build_object(
          'sqlstate', err_state, 'message', err_message, 'detail', nullif(err_detail, ''), 'constraint', nullif(err_constraint, '')));
      end;
    end loop;
    if atomic and failures > 0 then
      raise exception using errcode = 'P0R01', message = 'atomic bulk rolled back';
    end if;
  exception when sqlstate 'P0R01' then
    committed := false;
  end;
  return jsonb_build_object('atomic', atomic, 'committed', committed, 'failed', failures,
    'succeeded', case when committed then coalesce(array_length(results, 1), 0) - failures else 0 end,
    'results', to_jsonb(results));
end;
$$;
comment on function private.catalog_bulk(jsonb, boolean) is
  'Runs up to 1000 product creates/updates/deletes as the caller with per-item results; atomic rolls all back on any failure.';

grant execute on function private.product_json(public.products), private.product_json_by_id(uuid)
  to anon, authenticated, service_role;
grant execute on function private.product_write_missed(uuid, integer), private.product_handles_taken(text[]),
  private.catalog_insert_products(jsonb), private.catalog_create_product(jsonb),
  private.catalog_update_product(uuid, integer, jsonb), private.catalog_set_product_status(uuid, text, timestamptz, integer),
  private.catalog_delete_product(uuid, integer), private.variant_write_missed(uuid, integer),
  private.catalog_add_variant(uuid, jsonb), private.catalog_update_variant(uuid, integer, jsonb),
  private.catalog_delete_variant(uuid, integer), private.catalog_bulk(jsonb, boolean)
  to authenticated, service_role;
