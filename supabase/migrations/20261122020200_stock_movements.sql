-- The stock ledger: an append-only list of signed movements. Inserting a movement is the only
-- way on_hand changes (the after-insert trigger applies it to the level in the same statement),
-- and an idempotency key makes the same movement apply once however often it is sent.

create table public.stock_movements (
  id bigint generated always as identity primary key,
  variant_id uuid not null,
  location_id uuid not null,
  kind text not null check (kind in
    ('receipt', 'adjustment', 'count', 'damage', 'loss', 'return', 'transfer_out', 'transfer_in', 'sale')),
  quantity integer not null check (quantity <> 0),
  reason text check (reason is null or length(reason) <= 1000),
  reference_type text check (reference_type in ('order', 'transfer', 'purchase_order', 'reservation', 'cart', 'external')),
  reference_id text check (reference_id is null or length(reference_id) between 1 and 200),
  reservation_id uuid,
  idempotency_key text unique check (idempotency_key is null or length(idempotency_key) between 1 and 200),
  actor_id uuid,
  created_at timestamptz not null default now(),
  foreign key (variant_id, location_id) references public.stock_levels (variant_id, location_id),
  constraint stock_movements_reference_complete check ((reference_type is null) = (reference_id is null)),
  constraint stock_movements_sign_matches_kind check (case kind
    when 'receipt' then quantity > 0
    when 'return' then quantity > 0
    when 'transfer_in' then quantity > 0
    when 'damage' then quantity < 0
    when 'loss' then quantity < 0
    when 'transfer_out' then quantity < 0
    when 'sale' then quantity < 0
    else true end)
);
comment on table public.stock_movements is
  'Append-only stock ledger: every on_hand change is one signed movement; on_hand equals the sum of a level''s movements.';
create index stock_movements_level_idx on public.stock_movements (variant_id, location_id, id desc);
create index stock_movements_location_idx on public.stock_movements (location_id, id desc);
create index stock_movements_reference_idx on public.stock_movements (reference_type, reference_id) where reference_id is not null;

-- Who and when are the database's to say, not the client's.
create or replace function private.stock_movements_stamp()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.actor_id := auth.uid();
  new.created_at := now();
  return new;
end;
$$;
comment on function private.stock_movements_stamp() is 'Trigger: stamps a movement with the acting user and the time.';

-- Applies an inserted movement to its level. An after trigger, so `on conflict do nothing` on the
-- idempotency key never applies a movement that was not inserted.
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
  return null;
end;
$$;
comment on function private.stock_movements_apply() is
  'Trigger: applies a movement to on_hand (and a reservation''s sale to reserved), refusing with P0S01 what would break the level.';

create or replace function private.stock_movements_refuse_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform private.raise_business_error('P0F01', 'the stock ledger is append-only: record a correcting movement instead');
  return null;
end;
$$;
comment on function private.stock_movements_refuse_change() is 'Trigger: refuses any update, delete or truncate of the stock ledger.';

create trigger stock_movements_before_insert_stamp
  before insert on public.stock_movements
  for each row execute function private.stock_movements_stamp();
create trigger stock_movements_after_insert_apply
  after insert on public.stock_movements
  for each row execute function private.stock_movements_apply();
create trigger stock_movements_before_update_refuse
  before update or delete on public.stock_movements
  for each row execute function private.stock_movements_refuse_change();
create trigger stock_movements_before_truncate_refuse
  before truncate on public.stock_movements
  for each statement execute function private.stock_movements_refuse_change();

-- A movement as the API shows it.
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
    'reason', m.reason,
    'reference', case when m.reference_type is null then null
      else jsonb_build_object('type', m.reference_type, 'id', m.reference_id) end,
    'reservation_id', m.reservation_id,
    'idempotency_key', m.idempotency_key,
    'actor_id', m.actor_id,
    'created_at', private.iso(m.created_at))
$$;
comment on function private.movement_json(public.stock_movements) is 'A stock movement as the API answers it (sku and location code resolved).';

-- A level as the API shows it.
create or replace function private.level_json(p_variant_id uuid, p_location_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'sku', v.sku, 'location_code', l.code, 'on_hand', sl.on_hand, 'reserved', sl.reserved,
    'available', sl.available, 'reorder_point', sl.reorder_point, 'reorder_quantity', sl.reorder_quantity,
    'allow_backorder', sl.allow_backorder)
  from public.stock_levels sl
  join public.product_variants v on v.id = sl.variant_id
  join public.locations l on l.id = sl.location_id
  where sl.variant_id = p_variant_id and sl.location_id = p_location_id
$$;
comment on function private.level_json(uuid, uuid) is 'A stock level as the API answers it.';

-- Resolves a sku (case-insensitively, live variants only) or raises P0N01.
create or replace function private.variant_id_for_sku(p_sku text)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found_id uuid;
begin
  select v.id into found_id from public.product_variants v where lower(v.sku) = lower(p_sku) and v.deleted_at is null;
  if found_id is null then
    perform private.raise_business_error('P0N01', format('no variant with sku %s', p_sku), jsonb_build_object('sku', p_sku));
  end if;
  return found_id;
end;
$$;
comment on function private.variant_id_for_sku(text) is 'The live variant with this sku (any case), or P0N01.';

create or replace function private.location_id_for_code(p_code text)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found_id uuid;
begin
  select l.id into found_id from public.locations l where l.code = lower(p_code);
  if found_id is null then
    perform private.raise_business_error('P0N01', format('no location with code %s', p_code),
      jsonb_build_object('location_code', p_code));
  end if;
  return found_id;
end;
$$;
comment on function private.location_id_for_code(text) is 'The location with this code, or P0N01.';

-- POST /inventory/adjust: one movement of a manual kind, applied once per idempotency key.
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

-- POST /inventory/transfers: the out and the in movement in one transaction. Levels are locked
-- in allocation order (location priority, then id) like every other multi-level write. An
-- idempotency key rides on the transfer_out movement (the ledger's unique key), so the same key
-- never moves stock twice; a repeat answers the first transfer, a different request is refused.
create or replace function private.transfer_stock(
  p_sku text,
  p_from_code text,
  p_to_code text,
  p_quantity integer,
  p_reason text default null,
  p_idempotency_key text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_variant uuid;
  v_from uuid;
  v_to uuid;
  v_transfer text := gen_random_uuid()::text;
  leg record;
  out_movement public.stock_movements;
  in_movement public.stock_movements;
  replayed boolean := false;
begin
  perform private.require_app_role('staff');
  if p_quantity is null or p_quantity <= 0 then
    perform private.raise_business_error('P0V01', 'quantity must be a positive integer',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.quantity', 'message', 'must be positive'))));
  end if;
  v_variant := private.variant_id_for_sku(p_sku);
  v_from := private.location_id_for_code(p_from_code);
  v_to := private.location_id_for_code(p_to_code);
  if v_from = v_to then
    perform private.raise_business_error('P0V01', 'a transfer needs two different locations',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.to_location_code', 'message', 'same as from_location_code'))));
  end if;

  if p_idempotency_key is not null then
    -- Requests with one key queue here, so a repeat sees the first transfer before moving
    -- anything (the in leg may be written before the keyed out leg).
    perform pg_advisory_xact_lock(hashtextextended('storekeep.stock_movements.idempotency_key:' || p_idempotency_key, 0));
    select * into out_movement from public.stock_movements m where m.idempotency_key = p_idempotency_key;
    if out_movement.id is not null then
      select * into in_movement from public.stock_movements m
      where m.reference_type = 'transfer' and m.reference_id = out_movement.reference_id and m.kind = 'transfer_in';
      if out_movement.kind <> 'transfer_out'
         or (out_movement.variant_id, out_movement.location_id, -out_movement.quantity, in_movement.location_id)
            is distinct from (v_variant, v_from, p_quantity, v_to) then
        perform private.raise_business_error('P0C01', 'this idempotency key was used for a different movement',
          jsonb_build_object('idempotency_key', p_idempotency_key, 'movement', private.movement_json(out_movement)));
      end if;
      v_transfer := out_movement.reference_id;
      replayed := true;
    end if;
  end if;

  if not replayed then
    for leg in
      select l.id, l.id = v_from as outgoing from public.locations l where l.id in (v_from, v_to) order by l.priority, l.id
    loop
      if leg.outgoing then
        insert into public.stock_movements
          (variant_id, location_id, kind, quantity, reason, reference_type, reference_id, idempotency_key)
        values (v_variant, v_from, 'transfer_out', -p_quantity, p_reason, 'transfer', v_transfer, p_idempotency_key)
        on conflict (idempotency_key) do nothing
        returning * into out_movement;
        if out_movement.id is null then
          -- An adjustment took the key meanwhile; raising undoes the in leg, if written.
          perform private.raise_business_error('P0C01', 'this idempotency key was used for a different movement',
            jsonb_build_object('idempotency_key', p_idempotency_key));
        end if;
      else
        insert into public.stock_movements (variant_id, location_id, kind, quantity, reason, reference_type, reference_id)
        values (v_variant, v_to, 'transfer_in', p_quantity, p_reason, 'transfer', v_transfer)
        returning * into in_movement;
      end if;
    end loop;
  end if;

  return jsonb_build_object(
    'transfer_id', v_transfer,
    'movements', jsonb_build_array(private.movement_json(out_movement), private.movement_json(in_movement)),
    'from', private.level_json(v_variant, v_from),
    'to', private.level_json(v_variant, v_to),
    'replayed', replayed);
end;
$$;
comment on function private.transfer_stock(text, text, text, integer, text, text) is
  'Moves stock between two locations (staff and up): transfer_out and transfer_in in one transaction, once per idempotency key.';

revoke execute on function private.movement_json(public.stock_movements), private.level_json(uuid, uuid),
  private.variant_id_for_sku(text), private.location_id_for_code(text) from public, anon, authenticated;
revoke execute on function private.adjust_stock(text, text, integer, text, text, text, text, text),
  private.transfer_stock(text, text, text, integer, text, text) from public, anon;
grant execute on function private.adjust_stock(text, text, integer, text, text, text, text, text),
  private.transfer_stock(text, text, text, integer, text, text) to authenticated, service_role;

alter table public.stock_movements enable row level security;
revoke all on public.stock_movements from anon, authenticated, service_role;
grant select on public.stock_movements to authenticated, service_role;
grant insert (variant_id, location_id, kind, quantity, reason, reference_type, reference_id, idempotency_key)
  on public.stock_movements to authenticated, service_role;

create policy "Viewers and up can read the stock ledger"
  on public.stock_movements for select to authenticated
  using ((select private.has_app_role('viewer')));
create policy "Staff and up can record manual stock movements"
  on public.stock_movements for insert to authenticated
  with check (
    (select private.has_app_role('staff'))
    and kind in ('receipt', 'adjustment', 'count', 'damage', 'loss', 'return')
    and reservation_id is null
  );
