-- A product's live variants share one currency (an order cannot mix currencies, so a variant in
-- another currency could never be sold next to its siblings) and never share a position (the
-- position orders them on a product page). Both hold at write time however a row is written; a
-- variant written without a position goes after its product's last one.

-- Live variants that already share a position are spread out, keeping their order.
with ranked as (
  select v.id, (row_number() over (partition by v.product_id order by v.position, v.created_at, v.id) - 1)::integer as slot
  from public.product_variants v
  where v.deleted_at is null
    and exists (select 1 from public.product_variants o
                where o.product_id = v.product_id and o.deleted_at is null and o.id <> v.id and o.position = v.position)
)
update public.product_variants v set position = ranked.slot + (
    select coalesce(max(o.position) + 1, 0) from public.product_variants o
    where o.product_id = v.product_id and o.deleted_at is null
      and not exists (select 1 from ranked r where r.id = o.id))
from ranked
where ranked.id = v.id;

create unique index product_variants_position_key on public.product_variants (product_id, position)
  where deleted_at is null;
comment on index public.product_variants_position_key is 'A product''s live variants never share a position.';

-- No default: a variant written without a position gets the next free one (trigger below).
alter table public.product_variants alter column position drop default;

create or replace function private.product_variants_keep_product_consistent()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_currency text;
begin
  if new.deleted_at is not null then
    return new;
  end if;
  -- One writer per product at a time, so two variants written at once cannot both pick the
  -- same next position or two different first currencies.
  perform pg_advisory_xact_lock(hashtextextended('storekeep.product_variants.product:' || new.product_id::text, 0));

  if new.position is null then
    select coalesce(max(v.position) + 1, 0) into new.position
    from public.product_variants v
    where v.product_id = new.product_id and v.deleted_at is null and v.id <> new.id;
  end if;

  if tg_op = 'INSERT' or new.currency is distinct from old.currency or old.deleted_at is not null then
    select v.currency into v_currency
    from public.product_variants v
    where v.product_id = new.product_id and v.deleted_at is null and v.id <> new.id and v.currency <> new.currency
    limit 1;
    if v_currency is not null then
      perform private.raise_business_error('P0V01',
        format('the product''s other variants are priced in %s, not %s', v_currency, new.currency),
        jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
          'field', 'currency', 'code', 'currency_mismatch', 'sku', new.sku,
          'message', format('must be %s, the currency of the product''s other variants', v_currency)))));
    end if;
  end if;
  return new;
end;
$$;
comment on function private.product_variants_keep_product_consistent() is
  'Trigger (before insert or update on product_variants): one currency per product, the next free position when none is given.';
revoke execute on function private.product_variants_keep_product_consistent() from public, anon, authenticated;

create trigger product_variants_before_write_keep_product_consistent
  before insert or update of currency, position, deleted_at on public.product_variants
  for each row execute function private.product_variants_keep_product_consistent();

-- The API's add-variant passes no position when the client gives none (it used to pass 0, which
-- collided with the first variant).
create or replace function private.catalog_add_variant(product_id uuid, item jsonb)
returns jsonb
language sql
set search_path = ''
as $$
  insert into public.product_variants
    (product_id, sku, title, options, price_amount, currency, compare_at_amount, barcode, weight_grams, position)
  values (product_id, item ->> 'sku', coalesce(item ->> 'title', ''), coalesce(nullif(item -> 'options', 'null'), '{}'),
          (item ->> 'price_amount')::integer, item ->> 'currency', (item ->> 'compare_at_amount')::integer,
          item ->> 'barcode', (item ->> 'weight_grams')::integer, (item ->> 'position')::integer)
  returning to_jsonb(product_variants.*)
$$;
comment on function private.catalog_add_variant(uuid, jsonb) is
  'Adds a variant to a live product as the caller (after its last one unless a position is given); returns it.';
