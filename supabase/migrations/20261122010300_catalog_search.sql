-- Catalog full-text search. products.search is a weighted tsvector over the title (A), variant
-- SKUs (A), brand name (B), category names from the root down (B) and description (D), kept by
-- triggers. The 'simple' configuration keeps words as written (no stemming: SKUs and brand names
-- are not English), and each word also appears with its punctuation removed so a prefix query for
-- "tsh" finds "T-shirt". A GIN index serves @@ on 100k products.

alter table public.products add column search tsvector not null default ''::tsvector;
comment on column public.products.search is 'Full-text search document, maintained by triggers; query it with private.search_query().';
create index products_search_idx on public.products using gin (search);

-- Text with punctuation inside words removed: "T-shirt TS-001/M" -> "Tshirt TS001M".
create or replace function private.search_compact(value text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select regexp_replace(coalesce(value, ''), '[^[:alnum:][:space:]]+', '', 'g')
$$;
comment on function private.search_compact(text) is 'Text with punctuation removed, so hyphenated words also index whole.';

-- The names a product is found by besides its own text: its brand, then its categories from the
-- root down.
create or replace function private.search_labels(brand_id uuid, category_id uuid)
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce((select b.name from public.brands b where b.id = search_labels.brand_id), '') || ' '
         || coalesce((select string_agg(a.name, ' ' order by array_position(c.path, a.id))
                        from public.categories c join public.categories a on a.id = any (c.path)
                       where c.id = search_labels.category_id), '')
$$;
comment on function private.search_labels(uuid, uuid) is
  'The brand name and category names (root first) of a product, as its search document holds them.';

-- The document from the text itself; labels as private.search_labels gives them. Set-based writers
-- (catalog_insert_products) look the labels up once per brand and category rather than per product.
create or replace function private.search_document_labelled(title text, description text, skus text, labels text)
returns tsvector
language sql
immutable
parallel safe
set search_path = ''
as $$
  select
    setweight(to_tsvector('simple', coalesce(title, '') || ' ' || private.search_compact(title)), 'A')
    || setweight(to_tsvector('simple', coalesce(skus, '') || ' ' || private.search_compact(skus)), 'A')
    || setweight(to_tsvector('simple', coalesce(labels, '') || ' ' || private.search_compact(labels)), 'B')
    || setweight(to_tsvector('simple', left(coalesce(description, ''), 50000)), 'D')
$$;
comment on function private.search_document_labelled(text, text, text, text) is
  'The weighted search document: title and SKUs (A), labels i.e. brand and categories (B), description (D).';

create or replace function private.search_document(
  title text, description text, skus text, brand_id uuid, category_id uuid
)
returns tsvector
language sql
stable
set search_path = ''
as $$
  select private.search_document_labelled(title, description, skus, private.search_labels(brand_id, category_id))
$$;
comment on function private.search_document(text, text, text, uuid, uuid) is
  'The weighted search document of product fields: title and SKUs (A), brand and categories (B), description (D).';

create or replace function private.product_search_document(
  product_id uuid, title text, description text, brand_id uuid, category_id uuid
)
returns tsvector
language sql
stable
set search_path = ''
as $$
  select private.search_document(title, description,
    (select string_agg(v.sku, ' ' order by v.position, v.sku) from public.product_variants v
      where v.product_id = product_search_document.product_id and v.deleted_at is null),
    brand_id, category_id)
$$;
comment on function private.product_search_document(uuid, text, text, uuid, uuid) is
  'The search document of a stored product, with the SKUs of its live variants.';

-- A tsquery from what a user typed: every word as a prefix, all required; a word written with
-- punctuation ("t-shirt") also matches as one compact word ("tshirt").
create or replace function private.search_query(q text)
returns tsquery
language sql
immutable
parallel safe
set search_path = ''
as $$
  with words as (
    select string_agg(quote_literal(w) || ':*', ' & ') as split
    from regexp_split_to_table(lower(coalesce(q, '')), '[^[:alnum:]]+') as w
    where w <> ''
  ),
  compact as (
    select string_agg(quote_literal(w) || ':*', ' & ') as joined
    from regexp_split_to_table(lower(private.search_compact(q)), '[[:space:]]+') as w
    where w <> ''
  )
  select case
    when words.split is null then null
    when compact.joined is null or compact.joined = words.split then to_tsquery('simple', words.split)
    else to_tsquery('simple', '(' || words.split || ') | (' || compact.joined || ')')
  end
  from words, compact
$$;
comment on function private.search_query(text) is
  'The prefix tsquery for a search box text (all words, each as a prefix); null when nothing searchable.';

grant execute on function private.search_compact(text), private.search_query(text),
  private.search_labels(uuid, uuid), private.search_document_labelled(text, text, text, text),
  private.search_document(text, text, text, uuid, uuid), private.product_search_document(uuid, text, text, uuid, uuid)
  to anon, authenticated, service_role;

create or replace function private.products_set_search()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- catalog_insert_products computes the document of new products from its input (variants
  -- included) and says so for the rest of its statement; a second pass would only repeat it.
  if tg_op = 'INSERT' and current_setting('storekeep.search_precomputed', true) = 'on' then
    return new;
  end if;
  new.search := private.product_search_document(new.id, new.title, new.description, new.brand_id, new.category_id);
  return new;
end;
$$;
comment on function private.products_set_search() is 'Trigger (before insert or update on products): recomputes the search document.';

-- Fires after products_before_write_apply_rules (triggers of one kind fire in name order).
create trigger products_before_write_set_search
  before insert or update on public.products
  for each row execute function private.products_set_search();

-- Re-derives the search document of some products after their variants, brand or categories
-- changed. The update changes only `search`, so no version bump, audit row or event follows.
create or replace function private.refresh_product_search(product_ids uuid[])
returns void
language sql
security definer
set search_path = ''
as $$
  update public.products p set search = p.search where p.id = any (product_ids)
$$;
comment on function private.refresh_product_search(uuid[]) is
  'Touches products so their search document is recomputed (the search trigger does the work).';

create or replace function private.product_variants_refresh_search()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if current_setting('storekeep.search_precomputed', true) = 'on' then
      return null; -- the products' documents already hold these SKUs (catalog_insert_products)
    end if;
    perform private.refresh_product_search(array(select distinct n.product_id from new_rows n));
  elsif tg_op = 'DELETE' then
    perform private.refresh_product_search(array(select distinct o.product_id from old_rows o));
  else
    perform private.refresh_product_search(array(
      select distinct n.product_id from new_rows n join old_rows o on o.id = n.id
      where n.sku is distinct from o.sku or n.deleted_at is distinct from o.deleted_at));
  end if;
  return null;
end;
$$;
comment on function private.product_variants_refresh_search() is
  'Trigger (after each statement on product_variants): refreshes the search documents of the products touched.';

create trigger product_variants_after_insert_refresh_search
  after insert on public.product_variants referencing new table as new_rows
  for each statement execute function private.product_variants_refresh_search();
create trigger product_variants_after_update_refresh_search
  after update on public.product_variants referencing old table as old_rows new table as new_rows
  for each statement execute function private.product_variants_refresh_search();
create trigger product_variants_after_delete_refresh_search
  after delete on public.product_variants referencing old table as old_rows
  for each statement execute function private.product_variants_refresh_search();

create or replace function private.brands_refresh_search()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.refresh_product_search(array(select p.id from public.products p where p.brand_id = new.id));
  return null;
end;
$$;
comment on function private.brands_refresh_search() is 'Trigger (after a brand is renamed): refreshes its products'' search documents.';

create trigger brands_after_update_refresh_search
  after update of name on public.brands
  for each row when (old.name is distinct from new.name)
  execute function private.brands_refresh_search();

create or replace function private.categories_refresh_search()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A rename shows in every product below it; a move re-runs this for each category moved along.
  if old.name is distinct from new.name then
    perform private.refresh_product_search(array(
      select p.id from public.products p
      where p.category_id in (select c.id from public.categories c where c.path @> array[new.id])));
  else
    perform private.refresh_product_search(array(select p.id from public.products p where p.category_id = new.id));
  end if;
  return null;
end;
$$;
comment on function private.categories_refresh_search() is
  'Trigger (after a category is renamed or moved): refreshes the search documents of the products below it.';

create trigger categories_after_update_refresh_search
  after update on public.categories
  for each row when (old.name is distinct from new.name or old.path is distinct from new.path)
  execute function private.categories_refresh_search();

-- Indexes for the product list's filters and sorts on a large catalog.
create index products_updated_idx on public.products (updated_at desc, id desc) where deleted_at is null;
create index products_created_idx on public.products (created_at desc, id desc) where deleted_at is null;
create index products_title_idx on public.products (title, id) where deleted_at is null;
