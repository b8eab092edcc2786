-- Local demo data (applied by `npm start` and `supabase db reset`; never by a production push).
-- Re-running it changes nothing.

-- Demo staff users; `npm start` prints an access token for each.
insert into auth.users (id, email)
values
  ('00000000-0000-4000-8000-000000000001', 'owner@storekeep.local'),
  ('00000000-0000-4000-8000-000000000002', 'admin@storekeep.local'),
  ('00000000-0000-4000-8000-000000000003', 'manager@storekeep.local'),
  ('00000000-0000-4000-8000-000000000004', 'staff@storekeep.local'),
  ('00000000-0000-4000-8000-000000000005', 'viewer@storekeep.local')
on conflict (id) do nothing;

insert into public.user_roles (user_id, app_role)
values
  ('00000000-0000-4000-8000-000000000001', 'owner'),
  ('00000000-0000-4000-8000-000000000002', 'admin'),
  ('00000000-0000-4000-8000-000000000003', 'manager'),
  ('00000000-0000-4000-8000-000000000004', 'staff'),
  ('00000000-0000-4000-8000-000000000005', 'viewer')
on conflict (user_id) do nothing;

-- ---------------------------------------------------------------------------------------------
-- Catalog: two brands, a small category tree and a few products with variants; most published.
-- Fixed ids and `on conflict do nothing` make a re-run change nothing.
insert into public.brands (id, name, handle)
values
  ('00000000-0000-4000-a000-00000000b001', 'Nordwind', 'nordwind'),
  ('00000000-0000-4000-a000-00000000b002', 'Kaffeehaus', 'kaffeehaus')
on conflict do nothing;

insert into public.categories (id, parent_id, name, handle, position)
values
  ('00000000-0000-4000-a000-00000000c001', null, 'Apparel', 'apparel', 0),
  ('00000000-0000-4000-a000-00000000c002', '00000000-0000-4000-a000-00000000c001', 'T-Shirts', 't-shirts', 0),
  ('00000000-0000-4000-a000-00000000c003', '00000000-0000-4000-a000-00000000c001', 'Hoodies', 'hoodies', 1),
  ('00000000-0000-4000-a000-00000000c004', null, 'Kitchen', 'kitchen', 1)
on conflict do nothing;

insert into public.products (id, handle, title, description, brand_id, category_id, attributes)
values
  ('00000000-0000-4000-a000-00000000d001', 'organic-t-shirt', 'Organic T-Shirt', 'Soft organic cotton, regular fit.',
   '00000000-0000-4000-a000-00000000b001', '00000000-0000-4000-a000-00000000c002', '{"material": "cotton"}'),
  ('00000000-0000-4000-a000-00000000d002', 'heavy-hoodie', 'Heavy Hoodie', 'Warm fleece for cold days.',
   '00000000-0000-4000-a000-00000000b001', '00000000-0000-4000-a000-00000000c003', '{"material": "fleece"}'),
  ('00000000-0000-4000-a000-00000000d003', 'enamel-mug', 'Enamel Mug', 'Camp mug, 350 ml.',
   '00000000-0000-4000-a000-00000000b002', '00000000-0000-4000-a000-00000000c004', '{}'),
  ('00000000-0000-4000-a000-00000000d004', 'pour-over-kettle', 'Pour-Over Kettle', 'Gooseneck kettle (draft).',
   '00000000-0000-4000-a000-00000000b002', '00000000-0000-4000-a000-00000000c004', '{}')
on conflict do nothing;

insert into public.product_variants (id, product_id, sku, title, options, price_amount, currency, compare_at_amount, position)
values
  ('00000000-0000-4000-a000-00000000e001', '00000000-0000-4000-a000-00000000d001', 'TS-ORG-S', 'Small', '{"size": "S"}', 2500, 'EUR', null, 0),
  ('00000000-0000-4000-a000-00000000e002', '00000000-0000-4000-a000-00000000d001', 'TS-ORG-M', 'Medium', '{"size": "M"}', 2500, 'EUR', null, 1),
  ('00000000-0000-4000-a000-00000000e003', '00000000-0000-4000-a000-00000000d001', 'TS-ORG-L', 'Large', '{"size": "L"}', 2700, 'EUR', 3200, 2),
  ('00000000-0000-4000-a000-00000000e004', '00000000-0000-4000-a000-00000000d002', 'HD-HVY-M', 'Medium', '{"size": "M"}', 5900, 'EUR', null, 0),
  ('00000000-0000-4000-a000-00000000e005', '00000000-0000-4000-a000-00000000d002', 'HD-HVY-L', 'Large', '{"size": "L"}', 5900, 'EUR', null, 1),
  ('00000000-0000-4000-a000-00000000e006', '00000000-0000-4000-a000-00000000d003', 'MUG-ENM-350', '', '{}', 1200, 'EUR', null, 0),
  ('00000000-0000-4000-a000-00000000e007', '00000000-0000-4000-a000-00000000d004', 'KTL-POUR-1', '', '{}', 4900, 'EUR', null, 0)
on conflict do nothing;

-- Published once variants exist (the database refuses a published product without one).
update public.products set status = 'published'
where id in ('00000000-0000-4000-a000-00000000d001', '00000000-0000-4000-a000-00000000d002',
             '00000000-0000-4000-a000-00000000d003')
  and status = 'draft' and published_at is null;

-- ---------------------------------------------------------------------------------------------
-- Inventory: the location `main`, and 100 units of every demo variant received there (through
-- the ledger, once: the idempotency key makes a re-run change nothing). Runs after the catalog
-- demo data wherever that section sits before this one.
insert into public.locations (code, name, type, priority, fulfils_online)
values ('main', 'Main warehouse', 'warehouse', 10, true)
on conflict (code) do nothing;

insert into public.stock_movements (variant_id, location_id, kind, quantity, reason, idempotency_key)
select v.id, l.id, 'receipt', 100, 'demo stock', 'seed:main:' || lower(v.sku)
from public.product_variants v
join public.locations l on l.code = 'main'
where v.deleted_at is null
on conflict (idempotency_key) do nothing;

-- ---------------------------------------------------------------------------------------------
-- Orders: two demo orders placed through the same functions as the API, once (on an empty
-- orders table): one delivered, one paid and waiting to be shipped.
do $$
declare
  delivered jsonb;
  waiting jsonb;
begin
  if exists (select 1 from public.orders) then
    return;
  end if;
  delivered := private.place_order('{"items": [{"sku": "TS-ORG-M", "quantity": 2}, {"sku": "MUG-ENM-350", "quantity": 1}],
    "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
    "shipping_address": {"line1": "12 St James''s Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}}');
  perform private.set_order_status((delivered ->> 'id')::uuid, 'paid', details => '{"payment_reference": "demo_pay_1"}');
  perform private.set_order_status((delivered ->> 'id')::uuid, 'shipped',
    details => '{"tracking_number": "DEMO-TRACK-1", "carrier": "DHL"}');
  perform private.set_order_status((delivered ->> 'id')::uuid, 'delivered');
  waiting := private.place_order('{"items": [{"sku": "HD-HVY-L", "quantity": 1}],
    "customer": {"email": "grace@example.com", "name": "Grace Hopper"},
    "shipping_address": {"line1": "1 Navy Way", "city": "Arlington", "region": "VA", "country": "US"}}');
  perform private.set_order_status((waiting ->> 'id')::uuid, 'paid', details => '{"payment_reference": "demo_pay_2"}');
end
$$;
