-- Catalog audit trail and outbox events. A write that changes nothing but a product's search
-- document keeps its version, so `old.version <> new.version` tells a real change.

create trigger brands_after_write_audit
  after insert or update or delete on public.brands
  for each row execute function private.audit_row('id');
create trigger categories_after_write_audit
  after insert or update or delete on public.categories
  for each row execute function private.audit_row('id');
create trigger products_after_insert_delete_audit
  after insert or delete on public.products
  for each row execute function private.audit_row('id');
create trigger products_after_update_audit
  after update on public.products
  for each row when (old.version <> new.version)
  execute function private.audit_row('id');
create trigger product_variants_after_write_audit
  after insert or update or delete on public.product_variants
  for each row execute function private.audit_row('id');

create or replace function private.products_emit_event()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  topic text;
  changed public.products := case when tg_op = 'DELETE' then old else new end;
begin
  if tg_op = 'INSERT' then
    topic := 'product.created';
  elsif tg_op = 'DELETE' or (new.deleted_at is not null and old.deleted_at is null) then
    topic := 'product.deleted';
  elsif old.version = new.version then
    return null;
  elsif new.status = 'published' and old.status <> 'published' then
    topic := 'product.published';
  elsif old.status = 'published' and new.status <> 'published' then
    topic := 'product.unpublished';
  else
    topic := 'product.updated';
  end if;
  perform private.emit_event(topic, jsonb_build_object(
    'id', changed.id, 'handle', changed.handle, 'status', changed.status, 'version', changed.version,
    'published_at', changed.published_at, 'publish_at', changed.publish_at, 'deleted_at', changed.deleted_at));
  return null;
end;
$$;
comment on function private.products_emit_event() is
  'Trigger (after write on products): product.created | updated | published | unpublished | deleted to the outbox.';

create trigger products_after_write_emit_event
  after insert or update or delete on public.products
  for each row execute function private.products_emit_event();

create or replace function private.product_variants_emit_event()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  topic text;
  changed public.product_variants := case when tg_op = 'DELETE' then old else new end;
begin
  if tg_op = 'INSERT' then
    topic := 'variant.created';
  elsif tg_op = 'DELETE' or (new.deleted_at is not null and old.deleted_at is null) then
    topic := 'variant.deleted';
  elsif old.version = new.version then
    return null;
  else
    topic := 'variant.updated';
  end if;
  perform private.emit_event(topic, jsonb_build_object(
    'id', changed.id, 'product_id', changed.product_id, 'sku', changed.sku, 'version', changed.version,
    'price_amount', changed.price_amount, 'currency', changed.currency, 'deleted_at', changed.deleted_at));
  return null;
end;
$$;
comment on function private.product_variants_emit_event() is
  'Trigger (after write on product_variants): variant.created | updated | deleted to the outbox.';

create trigger product_variants_after_write_emit_event
  after insert or update or delete on public.product_variants
  for each row execute function private.product_variants_emit_event();
