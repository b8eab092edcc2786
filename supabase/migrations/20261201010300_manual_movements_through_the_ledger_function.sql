-- Manual stock movements go only through the functions that validate them (private.adjust_stock,
-- private.count_stock): the table policy let staff insert any manual kind with any reference, such
-- as a `return` that claims to come back from an order that was never returned. The API roles keep
-- read access to the ledger.
drop policy "Staff and up can record manual stock movements" on public.stock_movements;
revoke insert on public.stock_movements from anon, authenticated, service_role;

-- A movement that names an order, a transfer or a reservation is that owner's: a transfer's legs,
-- a commit's sales and an order's return are written by the functions that own them. Any other
-- movement naming one (a manual `return` claiming to come back from an order) is refused, whichever
-- function wrote it: an order's return must match the order, returned, line by line, once.
create or replace function private.stock_movements_check_reference()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  genuine boolean;
begin
  if new.reference_type is null or new.reference_type not in ('order', 'transfer', 'reservation') then
    return new;
  end if;
  genuine := case
    when new.reference_type = 'transfer' then new.kind in ('transfer_out', 'transfer_in')
    when new.reference_type = 'reservation' then new.kind = 'sale' and new.reservation_id::text = new.reference_id
    when new.kind = 'sale' then new.reservation_id is not null and exists (
      select 1 from public.orders o where o.id::text = new.reference_id and o.reservation_id = new.reservation_id)
    when new.kind = 'return' then exists (
      select 1 from public.orders o join public.reservation_items i on i.reservation_id = o.reservation_id
      where o.id::text = new.reference_id and o.status = 'returned'
        and i.variant_id = new.variant_id and i.location_id = new.location_id and i.quantity = new.quantity)
      and not exists (
        select 1 from public.stock_movements m
        where m.reference_type = 'order' and m.reference_id = new.reference_id and m.kind = 'return'
          and m.variant_id = new.variant_id and m.location_id = new.location_id)
    else false
  end;
  if not genuine then
    perform private.raise_business_error('P0V01',
      format('a %s movement cannot reference %s %s: its movements are recorded by the %s itself',
        new.kind, new.reference_type, new.reference_id, new.reference_type),
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.reference.type',
        'code', 'not_manual', 'message', 'must be purchase_order, cart or external'))));
  end if;
  return new;
end;
$$;
comment on function private.stock_movements_check_reference() is
  'Trigger: refuses a movement that names an order, transfer or reservation unless it is that owner''s own (an order''s return matches the returned order, once).';
revoke execute on function private.stock_movements_check_reference() from public, anon, authenticated, service_role;

create trigger stock_movements_before_insert_check_reference
  before insert on public.stock_movements
  for each row execute function private.stock_movements_check_reference();

-- Applies an inserted movement to its level (unchanged, but for the flag it sets around its update).
create or replace function private.stock_movements_apply()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- A sale from a reservation consumes the reserved units along with on_hand.
  reserved_delta integer := case when new.kind = 'sale' and new.reservation_id is not null then new.quantity else 0 end;
  level record;
begin
  -- Tells private.stock_levels_guard that this level's on_hand change comes from the ledger.
  perform set_config('storekeep.ledger_applies', new.variant_id::text || '/' || new.location_id::text, true);
  update public.stock_levels sl
  set on_hand = sl.on_hand + new.quantity, reserved = sl.reserved + reserved_delta, updated_at = now()
  where sl.variant_id = new.variant_id and sl.location_id = new.location_id
    and (new.quantity > 0 or (sl.on_hand + new.quantity >= 0
      and (sl.allow_backorder or sl.on_hand + new.quantity >= sl.reserved + reserved_delta)));
  if not found then
    select sl.on_hand, sl.reserved, v.sku, l.code into level
    from public.stock_levels sl
    join public.product_variants v on v.id = sl.variant_id
    join public.locations l on l.id = sl.location_id
    where sl.variant_id = new.variant_id and sl.location_id = new.location_id;
    perform private.raise_business_error('P0S01',
      format('not enough stock of %s at %s: %s requested, %s available', level.sku, level.code,
        -new.quantity, greatest(level.on_hand - level.reserved, 0)),
      jsonb_build_object('shortages', jsonb_build_array(jsonb_build_object(
        'sku', level.sku, 'location_code', level.code, 'requested', -new.quantity,
        'available', greatest(level.on_hand - level.reserved, 0)))));
  end if;
  perform set_config('storekeep.ledger_applies', '', true);
  return null;
end;
$$;
comment on function private.stock_movements_apply() is
  'Trigger: applies a movement to on_hand (and a reservation''s sale to reserved), refusing with P0S01 what would break the level.';

-- Guard: on_hand moves only through a movement, a level is born empty, and its key never changes.
-- The ledger trigger names the level it is applying to in a transaction-local setting around its
-- update; the trigger depth it used to trust is reached by any trigger chain. (The API roles hold
-- no UPDATE on on_hand at all; this stops the owner's and the service role's paths too.)
create or replace function private.stock_levels_guard()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and (new.variant_id <> old.variant_id or new.location_id <> old.location_id) then
    perform private.raise_business_error('P0F01', 'a stock level''s variant and location never change');
  end if;
  if tg_op = 'INSERT'
     or current_setting('storekeep.ledger_applies', true) is distinct from new.variant_id::text || '/' || new.location_id::text then
    perform private.raise_business_error('P0F01', 'on_hand changes only through stock movements (POST /inventory/adjust)',
      jsonb_build_object('variant_id', new.variant_id, 'location_id', new.location_id));
  end if;
  return new;
end;
$$;
comment on function private.stock_levels_guard() is
  'Trigger: refuses on_hand changes (and non-empty new levels) that the stock ledger trigger is not applying.';
