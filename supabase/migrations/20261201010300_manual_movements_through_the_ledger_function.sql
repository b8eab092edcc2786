-- Manual stock movements go only through private.adjust_stock, which validates them: the table
-- policy let staff insert any manual kind with any reference, such as a `return` that claims to
-- come back from an order that was never returned. The API roles keep read access to the ledger.
drop policy "Staff and up can record manual stock movements" on public.stock_movements;
revoke insert on public.stock_movements from anon, authenticated, service_role;

-- POST /inventory/adjust: one movement of a manual kind, applied once per idempotency key. A manual
-- movement may reference a purchase order, a cart or an outside document, never an order, a
-- transfer or a reservation: those movements are written by the functions that own them (an
-- order's return, a transfer, a commit), and a forged one would pass for theirs.
create or replace function private.adjust_stock(
  p_sku text,
  p_location_code text,
  p_delta integer,
  p_kind text,
  p_reason text default null,
  p_reference_type text default null,
  p_reference_id text default null,
  p_idempotency_key text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_variant uuid;
  v_location uuid;
  movement public.stock_movements;
  replayed boolean := false;
begin
  perform private.require_app_role('staff');
  if p_kind is null or p_kind not in ('receipt', 'adjustment', 'count', 'damage', 'loss', 'return') then
    perform private.raise_business_error('P0V01', 'kind must be receipt, adjustment, count, damage, loss or return',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.kind', 'message', 'not a manual movement kind'))));
  end if;
  if p_reference_type in ('order', 'transfer', 'reservation') then
    perform private.raise_business_error('P0V01',
      format('a manual movement cannot reference a %s: its movements are recorded by the %s itself', p_reference_type, p_reference_type),
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.reference.type',
        'message', 'must be purchase_order, cart or external'))));
  end if;
  v_variant := private.variant_id_for_sku(p_sku);
  v_location := private.location_id_for_code(p_location_code);

  insert into public.stock_movements
    (variant_id, location_id, kind, quantity, reason, reference_type, reference_id, idempotency_key)
  values (v_variant, v_location, p_kind, p_delta, p_reason, p_reference_type, p_reference_id, p_idempotency_key)
  on conflict (idempotency_key) do nothing
  returning * into movement;

  if movement.id is null then
    -- The key was used before: answer the first movement, unless this is a different request.
    select * into movement from public.stock_movements m where m.idempotency_key = p_idempotency_key;
    if (movement.variant_id, movement.location_id, movement.kind, movement.quantity)
       is distinct from (v_variant, v_location, p_kind, p_delta) then
      perform private.raise_business_error('P0C01', 'this idempotency key was used for a different movement',
        jsonb_build_object('idempotency_key', p_idempotency_key, 'movement', private.movement_json(movement)));
    end if;
    replayed := true;
  end if;

  return jsonb_build_object(
    'movement', private.movement_json(movement),
    'level', private.level_json(v_variant, v_location),
    'replayed', replayed);
end;
$$;
comment on function private.adjust_stock(text, text, integer, text, text, text, text, text) is
  'Records one manual stock movement (staff and up); the same idempotency key applies once and answers the first movement.';

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
