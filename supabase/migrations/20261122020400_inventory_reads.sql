-- Inventory reads and the ledger check. Reads resolve skus and location codes, which live in
-- catalog tables with their own policies, so they are security definer functions that check the
-- caller's role themselves (viewer and up), exactly as the table policies do.

-- POST /inventory/verify: proves on_hand = sum of movements and reserved = sum of active
-- reservation items for every level, and reports each level where either does not hold.
create or replace function private.check_stock_ledger()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  checked integer;
  mismatches jsonb;
begin
  perform private.require_app_role('staff');
  select count(*)::integer into checked from public.stock_levels;
  with ledger as (
    select m.variant_id, m.location_id, sum(m.quantity)::bigint as on_hand
    from public.stock_movements m group by m.variant_id, m.location_id
  ), held as (
    select i.variant_id, i.location_id, sum(i.quantity)::bigint as reserved
    from public.reservation_items i join public.reservations r on r.id = i.reservation_id
    where r.status = 'active'
    group by i.variant_id, i.location_id
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'sku', v.sku, 'location_code', l.code,
           'on_hand', sl.on_hand, 'ledger_on_hand', coalesce(ledger.on_hand, 0),
           'reserved', sl.reserved, 'held_by_reservations', coalesce(held.reserved, 0))
         order by lower(v.sku), l.code), '[]'::jsonb)
  into mismatches
  from public.stock_levels sl
  join public.product_variants v on v.id = sl.variant_id
  join public.locations l on l.id = sl.location_id
  left join ledger on ledger.variant_id = sl.variant_id and ledger.location_id = sl.location_id
  left join held on held.variant_id = sl.variant_id and held.location_id = sl.location_id
  where sl.on_hand <> coalesce(ledger.on_hand, 0) or sl.reserved <> coalesce(held.reserved, 0);
  return jsonb_build_object('checked', checked, 'mismatches', mismatches);
end;
$$;
comment on function private.check_stock_ledger() is
  'The ledger check (staff and up): levels checked and every level whose on_hand or reserved disagrees with movements or holds.';

-- GET /inventory/status: per variant, its levels and the total; filter by sku, location and
-- low (available <= reorder point) or out (available <= 0) stock; pages by sku.
create or replace function private.stock_status(
  p_sku text default null,
  p_location_code text default null,
  p_stock text default null,
  p_after_sku text default null,
  p_limit integer default 50
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  result jsonb;
begin
  perform private.require_app_role('viewer');
  if p_sku is not null then
    perform private.variant_id_for_sku(p_sku);
  end if;
  if p_location_code is not null then
    perform private.location_id_for_code(p_location_code);
  end if;
  select coalesce(jsonb_agg(page.row order by page.sort_key), '[]'::jsonb) into result
  from (
    select lower(v.sku) as sort_key,
      jsonb_build_object(
        'sku', v.sku,
        'locations', jsonb_agg(jsonb_build_object(
          'location_code', l.code, 'on_hand', sl.on_hand, 'reserved', sl.reserved, 'available', sl.available,
          'reorder_point', sl.reorder_point) order by l.priority, l.code),
        'total', jsonb_build_object(
          'on_hand', sum(sl.on_hand)::integer, 'reserved', sum(sl.reserved)::integer, 'available', sum(sl.available)::integer)
      ) as row
    from public.product_variants v
    join public.stock_levels sl on sl.variant_id = v.id
    join public.locations l on l.id = sl.location_id
    where v.deleted_at is null
      and (p_sku is null or lower(v.sku) = lower(p_sku))
      and (p_location_code is null or l.code = lower(p_location_code))
      and (p_after_sku is null or lower(v.sku) > lower(p_after_sku))
      and (p_stock is null
        or (p_stock = 'low' and sl.available <= sl.reorder_point)
        or (p_stock = 'out' and sl.available <= 0))
    group by v.id, v.sku
    order by lower(v.sku)
    limit p_limit
  ) as page;
  return result;
end;
$$;
comment on function private.stock_status(text, text, text, text, integer) is
  'Stock per variant with its levels and total (viewer and up), filtered by sku, location and low/out stock, paged by sku.';

-- GET /inventory/history: the ledger, newest first, paged by movement id.
create or replace function private.stock_history(
  p_sku text default null,
  p_location_code text default null,
  p_before_id bigint default null,
  p_limit integer default 50
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_variant uuid;
  v_location uuid;
  result jsonb;
begin
  perform private.require_app_role('viewer');
  if p_sku is not null then
    v_variant := private.variant_id_for_sku(p_sku);
  end if;
  if p_location_code is not null then
    v_location := private.location_id_for_code(p_location_code);
  end if;
  select coalesce(jsonb_agg(private.movement_json(m) order by m.id desc), '[]'::jsonb) into result
  from (
    select * from public.stock_movements m
    where (v_variant is null or m.variant_id = v_variant)
      and (v_location is null or m.location_id = v_location)
      and (p_before_id is null or m.id < p_before_id)
    order by m.id desc
    limit p_limit
  ) as m;
  return result;
end;
$$;
comment on function private.stock_history(text, text, bigint, integer) is
  'Stock movements newest first (viewer and up), optionally for one sku and/or location, paged by id.';

-- GET /inventory/reorder-suggestions.
create or replace function private.list_reorder_suggestions(
  p_status text default 'open',
  p_before_created timestamptz default null,
  p_before_id uuid default null,
  p_limit integer default 50
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  result jsonb;
begin
  perform private.require_app_role('viewer');
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', s.id, 'sku', v.sku, 'location_code', l.code, 'status', s.status,
           'reorder_point', s.reorder_point, 'suggested_quantity', s.suggested_quantity,
           'available_at_crossing', s.available_at_crossing, 'available', sl.available,
           'created_at', private.iso(s.created_at), 'resolved_at', private.iso(s.resolved_at),
           'cursor_created_at', s.created_at)
         order by s.created_at desc, s.id desc), '[]'::jsonb)
  into result
  from (
    select * from public.reorder_suggestions s
    where (p_status is null or s.status = p_status)
      and (p_before_created is null or (s.created_at, s.id) < (p_before_created, p_before_id))
    order by s.created_at desc, s.id desc
    limit p_limit
  ) as s
  join public.product_variants v on v.id = s.variant_id
  join public.locations l on l.id = s.location_id
  join public.stock_levels sl on sl.variant_id = s.variant_id and sl.location_id = s.location_id;
  return result;
end;
$$;
comment on function private.list_reorder_suggestions(text, timestamptz, uuid, integer) is
  'Reorder suggestions newest first (viewer and up), by status, paged by (created_at, id).';

revoke execute on function private.check_stock_ledger(), private.stock_status(text, text, text, text, integer),
  private.stock_history(text, text, bigint, integer), private.list_reorder_suggestions(text, timestamptz, uuid, integer)
  from public, anon;
grant execute on function private.check_stock_ledger(), private.stock_status(text, text, text, text, integer),
  private.stock_history(text, text, bigint, integer), private.list_reorder_suggestions(text, timestamptz, uuid, integer)
  to authenticated, service_role;
