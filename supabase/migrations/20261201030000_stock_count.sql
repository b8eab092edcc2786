-- A stock count states what is on the shelf. `kind = 'count'` sets on_hand to the counted quantity
-- and writes the difference as the movement (zero when the count confirms the books, so every
-- count is on record). The level is locked before on_hand is read, so the difference is exact
-- however many writers race; a count below what is reserved is refused (unless the level allows
-- backorders), because it would break a hold the level has promised.

alter table public.stock_movements add column counted integer;
comment on column public.stock_movements.counted is 'For a count: the quantity counted on the shelf (on_hand after it).';
alter table public.stock_movements
  add constraint stock_movements_counted_only_for_counts check (counted is null or (kind = 'count' and counted >= 0));
-- A count that confirms the books moves nothing and is still recorded.
alter table public.stock_movements drop constraint stock_movements_quantity_check;
alter table public.stock_movements
  add constraint stock_movements_quantity_nonzero check (quantity <> 0 or kind = 'count');

create or replace function private.movement_json(m public.stock_movements)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', m.id,
    'sku', (select v.sku from public.product_variants v where v.id = m.variant_id),
    'location_code', (select l.code from public.locations l where l.id = m.location_id),
    'kind', m.kind,
    'quantity', m.quantity,
    'counted', m.counted,
    'reason', m.reason,
    'reference', case when m.reference_type is null then null
      else jsonb_build_object('type', m.reference_type, 'id', m.reference_id) end,
    'reservation_id', m.reservation_id,
    'idempotency_key', m.idempotency_key,
    'actor_id', m.actor_id,
    'created_at', private.iso(m.created_at))
$$;

-- POST /inventory/adjust with kind = count: on_hand becomes p_counted. The same idempotency key
-- applies once (a repeat answers the first count, even after stock moved since); the same key for
-- another count is refused (P0C01).
create or replace function private.count_stock(
  p_sku text,
  p_location_code text,
  p_counted integer,
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
  level public.stock_levels;
  movement public.stock_movements;
  replayed boolean := false;
begin
  perform private.require_app_role('staff');
  if p_counted is null or p_counted < 0 then
    perform private.raise_business_error('P0V01', 'counted must be zero or more',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'body.counted', 'code', 'too_small', 'message', 'a count is zero or more'))));
  end if;
  v_variant := private.variant_id_for_sku(p_sku);
  v_location := private.location_id_for_code(p_location_code);

  if p_idempotency_key is not null then
    select * into movement from public.stock_movements m where m.idempotency_key = p_idempotency_key;
  end if;
  if movement.id is null then
    -- Read on_hand under the level's lock: the difference stays exact until commit.
    select * into level from public.stock_levels sl
    where sl.variant_id = v_variant and sl.location_id = v_location
    for no key update;
    if not level.allow_backorder and p_counted < level.reserved then
      perform private.raise_business_error('P0C01',
        format('%s units of %s are reserved at %s: a count of %s would break those holds; release or ship them first',
          level.reserved, p_sku, p_location_code, p_counted),
        jsonb_build_object(
          'errors', jsonb_build_array(jsonb_build_object('field', 'body.counted', 'code', 'below_reserved',
            'message', format('%s units are reserved here; a count cannot be below that', level.reserved))),
          'level', private.level_json(v_variant, v_location)));
    end if;
    insert into public.stock_movements
      (variant_id, location_id, kind, quantity, counted, reason, reference_type, reference_id, idempotency_key)
    values (v_variant, v_location, 'count', p_counted - level.on_hand, p_counted, p_reason, p_reference_type,
            p_reference_id, p_idempotency_key)
    on conflict (idempotency_key) do nothing
    returning * into movement;
    if movement.id is null then
      -- A concurrent request took the key meanwhile (it committed after our look above).
      select * into movement from public.stock_movements m where m.idempotency_key = p_idempotency_key;
      replayed := true;
    end if;
  else
    replayed := true;
  end if;

  if replayed and (movement.variant_id, movement.location_id, movement.kind, movement.counted)
                  is distinct from (v_variant, v_location, 'count', p_counted) then
    perform private.raise_business_error('P0C01', 'this idempotency key was used for a different movement',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.idempotency_key', 'code', 'reused',
        'message', 'already used for another movement')), 'movement', private.movement_json(movement)));
  end if;

  return jsonb_build_object(
    'movement', private.movement_json(movement),
    'level', private.level_json(v_variant, v_location),
    'replayed', replayed);
end;
$$;
comment on function private.count_stock(text, text, integer, text, text, text, text) is
  'Records a stock count (staff and up): on_hand becomes the counted quantity, the difference is the movement; refused below what is reserved.';

-- A count through adjust_stock would add its number to stock: refuse it and point at counted.
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
  if p_kind = 'count' then
    perform private.raise_business_error('P0V01', 'a count states what is on the shelf: send counted, not a delta',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.delta', 'code', 'not_for_counts',
        'message', 'a count takes counted (the quantity on the shelf), not delta'))));
  end if;
  if p_kind is null or p_kind not in ('receipt', 'adjustment', 'damage', 'loss', 'return') then
    perform private.raise_business_error('P0V01', 'kind must be receipt, adjustment, count, damage, loss or return',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.kind', 'message', 'not a manual movement kind'))));
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

revoke execute on function private.count_stock(text, text, integer, text, text, text, text) from public, anon;
grant execute on function private.count_stock(text, text, integer, text, text, text, text) to authenticated, service_role;
