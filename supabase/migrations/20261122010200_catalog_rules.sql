-- Catalog rules that hold however a row is written (our API, PostgREST, a job):
--   * version is bumped on every real change, timestamps and ids cannot be forged;
--   * handles are generated from the title/name when absent and de-duplicated with a suffix;
--   * only managers (and above) publish, schedule, unpublish, archive or soft-delete a product;
--   * a published product keeps at least one live variant (a variant always carries a price);
--   * a scheduled publish_at lies in the future;
--   * the category tree keeps its materialised path and refuses cycles.
-- Errors are our business errors (see 20261122000200_business_errors.sql).

-- products -------------------------------------------------------------------------------------

create or replace function private.product_has_live_variant(product_id uuid)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select 1 from public.product_variants v where v.product_id = product_has_live_variant.product_id and v.deleted_at is null
  )
$$;
comment on function private.product_has_live_variant(uuid) is
  'Whether a product has at least one variant that is not deleted (every variant carries a price).';
grant execute on function private.product_has_live_variant(uuid) to authenticated, service_role;

create or replace function private.products_apply_rules()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if (new.status <> 'draft' or new.deleted_at is not null or new.publish_at is not null)
       and private.is_api_caller() and not private.has_app_role('manager') then
      perform private.raise_business_error('P0F01', 'only managers publish, schedule, archive or delete products',
        jsonb_build_object('field', 'status'));
    end if;
    new.version := 1;
    new.created_at := now();
    new.updated_at := now();
    new.published_at := null;
    if new.status = 'published' then
      perform private.raise_business_error('P0C01', 'a published product needs at least one variant with a price',
        jsonb_build_object('field', 'status', 'rule', 'published_needs_variant'));
    end if;
  else
    if (new.status is distinct from old.status or new.deleted_at is distinct from old.deleted_at
        or new.publish_at is distinct from old.publish_at)
       and private.is_api_caller() and not private.has_app_role('manager') then
      perform private.raise_business_error('P0F01', 'only managers publish, schedule, archive or delete products',
        jsonb_build_object('field', case when new.deleted_at is distinct from old.deleted_at then 'deleted_at'
                                         when new.status is distinct from old.status then 'status'
                                         else 'publish_at' end));
    end if;
    new.id := old.id;
    new.created_at := old.created_at;
    new.version := old.version;
    new.updated_at := old.updated_at;
    if new.status = 'published' and old.status <> 'published' then
      if not private.product_has_live_variant(new.id) then
        perform private.raise_business_error('P0C01', 'a published product needs at least one variant with a price',
          jsonb_build_object('field', 'status', 'rule', 'published_needs_variant'));
      end if;
      new.published_at := now();
    elsif new.status = 'published' then
      new.published_at := old.published_at;
    else
      new.published_at := null;
    end if;
  end if;

  if new.handle is null or btrim(new.handle) = '' then
    new.handle := private.free_handle('public.products', private.slugify(new.title), new.id);
  end if;

  -- Publishing, archiving and deleting end any schedule.
  if new.status <> 'draft' and new.status is distinct from (case when tg_op = 'UPDATE' then old.status end) then
    new.publish_at := null;
  end if;
  if new.deleted_at is not null then
    new.publish_at := null;
  end if;
  if new.publish_at is not null and (tg_op = 'INSERT' or new.publish_at is distinct from old.publish_at) then
    if new.publish_at <= now() then
      perform private.raise_business_error('P0V01', 'publish_at must be in the future',
        jsonb_build_object('field', 'publish_at'));
    end if;
    if new.status = 'published' then
      perform private.raise_business_error('P0C01', 'the product is already published',
        jsonb_build_object('field', 'publish_at'));
    end if;
    if tg_op = 'INSERT' or not private.product_has_live_variant(new.id) then
      perform private.raise_business_error('P0C01', 'a product scheduled for publishing needs at least one variant with a price',
        jsonb_build_object('field', 'publish_at', 'rule', 'published_needs_variant'));
    end if;
  end if;

  -- A write that changes nothing but the search document (see catalog_search) is not a new version.
  if tg_op = 'UPDATE' and (to_jsonb(new) - 'search') is distinct from (to_jsonb(old) - 'search') then
    new.version := old.version + 1;
    new.updated_at := now();
  end if;
  return new;
end;
$$;
comment on function private.products_apply_rules() is
  'Trigger (before insert or update on products): staff rules, version, timestamps, handle, publishing rules.';

create trigger products_before_write_apply_rules
  before insert or update on public.products
  for each row execute function private.products_apply_rules();

-- Soft-deleting a product soft-deletes its variants (their SKUs stay reserved).
create or replace function private.products_cascade_soft_delete()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- Most updates delete nothing: then no variant statement (and none of its triggers) runs.
  if exists (select 1 from new_rows n join old_rows o on o.id = n.id where o.deleted_at is null and n.deleted_at is not null) then
    update public.product_variants v set deleted_at = n.deleted_at
      from new_rows n join old_rows o on o.id = n.id
     where o.deleted_at is null and n.deleted_at is not null
       and v.product_id = n.id and v.deleted_at is null;
  end if;
  return null;
end;
$$;
comment on function private.products_cascade_soft_delete() is
  'Trigger (after each update statement on products): soft-deletes the variants of products that were soft-deleted.';

-- Statement-level, named to fire after products_after_update_emit_event (catalog_events_audit), so
-- product.deleted precedes variant.deleted.
create trigger products_after_update_soft_delete_variants
  after update on public.products referencing old table as old_rows new table as new_rows
  for each statement execute function private.products_cascade_soft_delete();

-- product_variants -----------------------------------------------------------------------------

create or replace function private.product_variants_apply_rules()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if not exists (select 1 from public.products p where p.id = new.product_id and p.deleted_at is null) then
      perform private.raise_business_error('P0N01', 'no such product',
        jsonb_build_object('field', 'product_id', 'product_id', new.product_id));
    end if;
    new.version := 1;
    new.created_at := now();
    new.updated_at := now();
    new.deleted_at := null;
    return new;
  end if;
  if new.product_id is distinct from old.product_id then
    perform private.raise_business_error('P0V01', 'a variant cannot move to another product',
      jsonb_build_object('field', 'product_id'));
  end if;
  new.id := old.id;
  new.created_at := old.created_at;
  new.version := old.version;
  new.updated_at := old.updated_at;
  if to_jsonb(new) is distinct from to_jsonb(old) then
    new.version := old.version + 1;
    new.updated_at := now();
  end if;
  return new;
end;
$$;
comment on function private.product_variants_apply_rules() is
  'Trigger (before insert or update on product_variants): live product required, version, timestamps, no moving.';

create trigger product_variants_before_write_apply_rules
  before insert or update on public.product_variants
  for each row execute function private.product_variants_apply_rules();

create or replace function private.product_variants_keep_published_sellable()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if exists (select 1 from public.products p where p.id = old.product_id and p.status = 'published' and p.deleted_at is null)
     and not private.product_has_live_variant(old.product_id) then
    perform private.raise_business_error('P0C01', 'a published product needs at least one variant with a price; unpublish it first',
      jsonb_build_object('field', 'variant', 'rule', 'published_needs_variant', 'product_id', old.product_id));
  end if;
  return null;
end;
$$;
comment on function private.product_variants_keep_published_sellable() is
  'Trigger (after delete or soft delete of a variant): refuses to leave a published product without variants.';

create trigger product_variants_after_update_keep_published_sellable
  after update of deleted_at on public.product_variants
  for each row when (old.deleted_at is null and new.deleted_at is not null)
  execute function private.product_variants_keep_published_sellable();
create trigger product_variants_after_delete_keep_published_sellable
  after delete on public.product_variants
  for each row execute function private.product_variants_keep_published_sellable();

-- brands ---------------------------------------------------------------------------------------

create or replace function private.brands_apply_rules()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    new.created_at := now();
  else
    new.id := old.id;
    new.created_at := old.created_at;
  end if;
  new.updated_at := now();
  if new.handle is null or btrim(new.handle) = '' then
    new.handle := private.free_handle('public.brands', private.slugify(new.name), new.id);
  end if;
  return new;
end;
$$;
comment on function private.brands_apply_rules() is 'Trigger (before insert or update on brands): handle from name, timestamps.';

create trigger brands_before_write_apply_rules
  before insert or update on public.brands
  for each row execute function private.brands_apply_rules();

-- categories -----------------------------------------------------------------------------------

create or replace function private.categories_apply_rules()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  parent_path uuid[];
begin
  if tg_op = 'INSERT' then
    new.created_at := now();
  else
    new.id := old.id;
    new.created_at := old.created_at;
  end if;
  new.updated_at := now();
  if new.handle is null or btrim(new.handle) = '' then
    new.handle := private.free_handle('public.categories', private.slugify(new.name), new.id);
  end if;
  -- The path follows the parent. API callers never set it themselves; the cascade below (run as the
  -- owner, parent unchanged) writes each child's path from its freshly moved parent.
  if tg_op = 'INSERT' or new.parent_id is distinct from old.parent_id or private.is_api_caller() then
    if new.parent_id is null then
      new.path := array[new.id];
    else
      select c.path into parent_path from public.categories c where c.id = new.parent_id;
      if parent_path is null then
        perform private.raise_business_error('P0N01', 'no such parent category',
          jsonb_build_object('field', 'parent_id', 'parent_id', new.parent_id));
      end if;
      if new.id = any (parent_path) then
        perform private.raise_business_error('P0V01', 'a category cannot be moved under itself or its descendants',
          jsonb_build_object('field', 'parent_id', 'rule', 'category_cycle'));
      end if;
      new.path := parent_path || new.id;
    end if;
  end if;
  return new;
end;
$$;
comment on function private.categories_apply_rules() is
  'Trigger (before insert or update on categories): handle, timestamps, materialised path, cycle refusal.';

create trigger categories_before_write_apply_rules
  before insert or update on public.categories
  for each row execute function private.categories_apply_rules();

create or replace function private.categories_cascade_path()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- Each child's own trigger cascades further down, one level at a time.
  update public.categories c set path = new.path || c.id where c.parent_id = new.id;
  return null;
end;
$$;
comment on function private.categories_cascade_path() is
  'Trigger (after update on categories): rewrites the paths of the children of a moved category.';

create trigger categories_after_update_cascade_path
  after update on public.categories
  for each row when (old.path is distinct from new.path)
  execute function private.categories_cascade_path();

create or replace function private.categories_refuse_delete_with_children()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if exists (select 1 from public.categories c where c.parent_id = old.id) then
    perform private.raise_business_error('P0C01', 'the category has subcategories; move or delete them first',
      jsonb_build_object('field', 'id', 'rule', 'category_has_children'));
  end if;
  return old;
end;
$$;
comment on function private.categories_refuse_delete_with_children() is
  'Trigger (before delete on categories): refuses to delete a category that still has children.';

create trigger categories_before_delete_refuse_with_children
  before delete on public.categories
  for each row execute function private.categories_refuse_delete_with_children();

-- updated_at is kept by the rules above; the foundation's set_updated_at is not needed here.
