-- Image events reach realtime subscribers of their product: product_image.* is broadcast on the
-- product's private channel (product:<product id>), beside product.* and variant.* (migration
-- realtime_broadcast, whose mapping this extends).
create or replace function private.realtime_channel(topic text, payload jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when topic like 'stock.%' then 'inventory:' || (payload ->> 'location_code')
    when topic like 'product.%' then 'product:' || (payload ->> 'id')
    when topic like 'variant.%' then 'product:' || (payload ->> 'product_id')
    when topic like 'product_image.%' then 'product:' || (payload ->> 'product_id')
    when topic like 'order.%' then 'orders'
  end
$$;
comment on function private.realtime_channel(text, jsonb) is
  'The private Realtime channel an outbox event is broadcast to, or null when none follows it.';
