-- Catalog audit trail and outbox events. A write that changes nothing but a product's search
-- document keeps its version, so `old.version <> new.version` tells a real change.
--
-- Products and variants are written many at a time (bulk, import), so their audit rows and events
-- are written once per statement from its transition tables (one insert for all rows) rather than
-- once per row. For a single-row write the result is the same rows the per-row trigger would write.

create trigger brands_after_write_audit
  after insert or update or delete on public.brands
  for each row execute function private.audit_row('id');
create trigger categories_after_write_audit
  after insert or update or delete on public.categories
  for each row execute function private.audit_row('id');

-- private.audit_row() for a whole statement: attach it after insert (referencing new table as
-- new_rows), after update (old table as old_rows, new table as new_rows) or after delete (old table
-- as old_rows). Arguments: the key column (default `id`, which an update must not change) and,
-- optionally, a column whose change makes an update worth auditing (default: every updated row).
create or replace function private.audit_rows()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  key_column text := coalesce(tg_argv[0], 'id');
  changed_column text := tg_argv[1];
  audited_table text := tg_table_schema || '.' || tg_table_name;
  actor uuid := auth.uid();
  actor_role_name text := coalesce(auth.jwt() ->> 'app_role', auth.role(), current_user);
begin
  if tg_op = 'INSERT' then
    insert into private.audit_log (table_name, record_id, operation, old_row, new_row, actor_id, actor_role)
    select audited_table, n.r ->> key_column, tg_op, null, n.r, actor, actor_role_name
      from (select to_jsonb(t) as r from new_rows t) n;
  elsif tg_op = 'DELETE' then
    insert into private.audit_log (table_name, record_id, operation, old_row, new_row, actor_id, actor_role)
    select audited_table, o.r ->> key_column, tg_op, o.r, null, actor, actor_role_name
      from (select to_jsonb(t) as r from old_rows t) o;
  else
    insert into private.audit_log (table_name, record_id, operation, old_row, new_row, actor_id, actor_role)
    select audited_table, n.r ->> key_column, tg_op, o.r, n.r, actor, actor_role_name
      from (select to_jsonb(t) as r, row_number() over () as ord from new_rows t) n
      join (select to_jsonb(t) as r from old_rows t) o on o.r -> key_column = n.r -> key_column
     where changed_column is null or o.r -> changed_column is distinct from n.r -> changed_column
     order by n.ord;
  end if;
  return null;
end;
$$;
comment on function private.audit_rows() is
  'Trigger (after, for each statement, with transition tables new_rows/old_rows): writes every changed row to private.audit_log.';

create trigger products_after_insert_audit
  after insert on public.products referencing new table as new_rows
  for each statement execute function private.audit_rows('id');
create trigger products_after_update_audit
  after update on public.products referencing old table as old_rows new table as new_rows
  for each statement execute function private.audit_rows('id', 'version');
create trigger products_after_delete_audit
  after delete on public.products referencing old table as old_rows
  for each statement execute function private.audit_rows('id');
create trigger product_variants_after_insert_audit
  after insert on public.product_variants referencing new table as new_rows
  for each statement execute function private.audit_rows('id');
create trigger product_variants_after_update_audit
  after update on public.product_variants referencing old table as old_rows new table as new_rows
  for each statement execute function private.audit_rows('id');
create trigger product_variants_after_delete_audit
  after delete on public.product_variants referencing old table as old_rows
  for each statement execute function private.audit_rows('id');

-- Events, one insert per statement (as private.emit_event would write them, in row order).
create or replace function private.products_emit_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    insert into private.events (topic, payload)
    select 'product.created', jsonb_build_object('id', n.id, 'handle', n.handle, 'status', n.status, 'version', n.version,
             'published_at', n.published_at, 'publish_at', n.publish_at, 'deleted_at', n.deleted_at) from new_rows n;
  elsif tg_op = 'DELETE' then
    insert into private.events (topic, payload)
    select 'product.deleted', jsonb_build_object('id', o.id, 'handle', o.handle, 'status', o.status, 'version', o.version,
             'published_at', o.published_at, 'publish_at', o.publish_at, 'deleted_at', o.deleted_at) from old_rows o;
  else
    insert into private.events (topic, payload)
    select t.topic, jsonb_build_object('id', n.id, 'handle', n.handle, 'status', n.status, 'version', n.version,
             'published_at', n.published_at, 'publish_at', n.publish_at, 'deleted_at', n.deleted_at)
      from (select r.*, row_number() over () as ord from new_rows r) n
      join old_rows o on o.id = n.id
      cross join lateral (select case when n.deleted_at is not null and o.deleted_at is null then 'product.deleted'
                    when o.version = n.version then null
                    when n.status = 'published' and o.status <> 'published' then 'product.published'
                    when o.status = 'published' and n.status <> 'published' then 'product.unpublished'
                    else 'product.updated' end as topic) t
     where t.topic is not null
     order by n.ord;
  end if;
  return null;
end;
$$;
comment on function private.products_emit_events() is
  'Trigger (after each statement on products): product.created | updated | published | unpublished | deleted to the outbox.';

-- Named so they fire before products_after_update_soft_delete_variants: product.deleted precedes
-- variant.deleted.
create trigger products_after_insert_emit_event
  after insert on public.products referencing new table as new_rows
  for each statement execute function private.products_emit_events();
create trigger products_after_update_emit_event
  after update on public.products referencing old table as old_rows new table as new_rows
  for each statement execute function private.products_emit_events();
create trigger products_after_delete_emit_event
  after delete on public.products referencing old table as old_rows
  for each statement execute function private.products_emit_events();

create or replace function private.product_variants_emit_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    insert into private.events (topic, payload)
    select 'variant.created', jsonb_build_object('id', n.id, 'product_id', n.product_id, 'sku', n.sku, 'version', n.version,
             'price_amount', n.price_amount, 'currency', n.currency, 'deleted_at', n.deleted_at) from new_rows n;
  elsif tg_op = 'DELETE' then
    insert into private.events (topic, payload)
    select 'variant.deleted', jsonb_build_object('id', o.id, 'product_id', o.product_id, 'sku', o.sku, 'version', o.version,
             'price_amount', o.price_amount, 'currency', o.currency, 'deleted_at', o.deleted_at) from old_rows o;
  else
    insert into private.events (topic, payload)
    select t.topic, jsonb_build_object('id', n.id, 'product_id', n.product_id, 'sku', n.sku, 'version', n.version,
             'price_amount', n.price_amount, 'currency', n.currency, 'deleted_at', n.deleted_at)
      from (select r.*, row_number() over () as ord from new_rows r) n
      join old_rows o on o.id = n.id
      cross join lateral (select case when n.deleted_at is not null and o.deleted_at is null then 'variant.deleted'
                    when o.version = n.version then null
                    else 'variant.updated' end as topic) t
     where t.topic is not null
     order by n.ord;
  end if;
  return null;
end;
$$;
comment on function private.product_variants_emit_events() is
  'Trigger (after each statement on product_variants): variant.created | updated | deleted to the outbox.';

create trigger product_variants_after_insert_emit_event
  after insert on public.product_variants referencing new table as new_rows
  for each statement execute function private.product_variants_emit_events();
create trigger product_variants_after_update_emit_event
  after update on public.product_variants referencing old table as old_rows new table as new_rows
  for each statement execute function private.product_variants_emit_events();
create trigger product_variants_after_delete_emit_event
  after delete on public.product_variants referencing old table as old_rows
  for each statement execute function private.product_variants_emit_events();
