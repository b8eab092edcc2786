-- The sold-out fast path of a flash sale (issue #16). After the last unit goes, every further request
-- for the sku is a loser; bench/flash showed those losers (19,000 of 20,000 attempts) costing most
-- of the sale, each one running the whole allocation to find nothing. A one-line request without a
-- named location now first reads what every online location has left (one indexed read, no lock,
-- no write) and answers P0S01 with the same shortage the allocation would report when it cannot be
-- met. Everything else runs the allocation as before.

-- POST /inventory/reservations.
create or replace function private.reserve_stock(
  p_items jsonb,
  p_ttl_seconds integer default 900,
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
  v_id uuid;
  v_expires timestamptz := now() + make_interval(secs => p_ttl_seconds);
  v_lines integer;
  v_matched integer;
  v_errors jsonb;
  grp record;
  cand record;
  v_any integer;
  v_spec_left integer[];
  v_left integer;
  v_idx integer;
  v_spec integer;
  v_want integer;
  v_avail integer;
  v_take integer;
  v_from_spec integer;
  v_items jsonb := '[]';
  v_shortages jsonb := '[]';
  v_line jsonb := p_items -> 0;
  v_short record;
begin
  perform private.require_app_role('staff');

  if jsonb_typeof(p_items) is distinct from 'array' or jsonb_array_length(p_items) not between 1 and 100 then
    perform private.raise_business_error('P0V01', 'items must be a list of 1 to 100 lines',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.items', 'message', 'between 1 and 100 lines'))));
  end if;
  if p_ttl_seconds is null or p_ttl_seconds not between 1 and 604800 then
    perform private.raise_business_error('P0V01', 'ttl_seconds must be between 1 and 604800',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.ttl_seconds', 'message', 'between 1 and 604800'))));
  end if;

  -- Sold out (the losers of a flash sale): one line, no location named, asking for more than every
  -- online location has left and none taking backorders. One read answers what the allocation
  -- below would find after reading the same levels; nothing is written or locked. Units that come
  -- back after this read are for the next request, as they would be a moment later.
  if p_idempotency_key is null and jsonb_array_length(p_items) = 1 and jsonb_typeof(v_line -> 'quantity') = 'number'
     and not (v_line ? 'location_code') then
    select v.sku, (v_line ->> 'quantity')::numeric as requested,
           coalesce(sum(greatest(sl.available, 0)) filter (where l.id is not null), 0)::integer as available,
           coalesce(bool_or(sl.allow_backorder) filter (where l.id is not null), false) as backorder
    into v_short
    from public.product_variants v
    join public.stock_levels sl on sl.variant_id = v.id
    left join public.locations l on l.id = sl.location_id and l.active and l.fulfils_online
    where lower(v.sku) = lower(v_line ->> 'sku') and v.deleted_at is null
    group by v.id, v.sku;
    if v_short.sku is not null and not v_short.backorder and v_short.requested between 1 and 2147483647
       and v_short.requested = trunc(v_short.requested) and v_short.available < v_short.requested then
      perform private.raise_business_error('P0S01', format('not enough stock for %s', v_short.sku),
        jsonb_build_object('shortages', jsonb_build_array(jsonb_build_object(
          'sku', v_short.sku, 'requested', v_short.requested::integer, 'available', v_short.available))));
    end if;
  end if;

  -- Idempotent creation: the same key answers the reservation it created first. Without a key the
  -- reservation is written only once a level can serve it (below): a request that finds no stock
  -- (every loser of a sold-out sku) answers P0S01 having written nothing and locked nothing.
  if p_idempotency_key is not null then
    insert into public.reservations (expires_at, reference_type, reference_id, idempotency_key, created_by)
    values (v_expires, p_reference_type, p_reference_id, p_idempotency_key, auth.uid())
    on conflict (idempotency_key) where idempotency_key is not null do nothing
    returning id into v_id;
    if v_id is null then
      return private.reservation_json((select r.id from public.reservations r where r.idempotency_key = p_idempotency_key))
        || jsonb_build_object('replayed', true);
    end if;
  end if;

  v_lines := jsonb_array_length(p_items);
  v_matched := 0;
  -- One group per variant (in variant id order: the global lock order), with the quantity any
  -- online location may serve and the quantities named for given locations.
  for grp in
    with lines as (
      select v.id as variant_id, v.sku, l.id as location_id, l.code as location_code,
             (e.line ->> 'quantity')::integer as quantity
      from jsonb_array_elements(p_items) as e(line)
      join public.product_variants v on lower(v.sku) = lower(e.line ->> 'sku') and v.deleted_at is null
      left join public.locations l on l.code = lower(e.line ->> 'location_code') and l.active
      where jsonb_typeof(e.line -> 'quantity') = 'number' and (e.line ->> 'quantity')::numeric >= 1
        and (e.line ->> 'quantity')::numeric = trunc((e.line ->> 'quantity')::numeric)
        and (e.line ->> 'location_code' is null or l.id is not null)
    ), per_location as (
      select variant_id, sku, location_id, location_code, sum(quantity)::integer as quantity, count(*)::integer as lines
      from lines group by variant_id, sku, location_id, location_code
    )
    select variant_id, sku,
           sum(lines)::integer as lines,
           coalesce(sum(quantity) filter (where location_id is null), 0)::integer as any_quantity,
           coalesce(array_agg(location_id) filter (where location_id is not null), '{}') as spec_locations,
           coalesce(array_agg(location_code) filter (where location_id is not null), '{}') as spec_codes,
           coalesce(array_agg(quantity) filter (where location_id is not null), '{}') as spec_quantities
    from per_location
    group by variant_id, sku
    order by variant_id
  loop
    v_matched := v_matched + grp.lines;
    v_any := grp.any_quantity;
    v_spec_left := grp.spec_quantities;
    v_left := v_any + coalesce((select sum(q) from unnest(grp.spec_quantities) as q), 0);

    for cand in
      select sl.location_id, l.code, l.fulfils_online
      from public.stock_levels sl
      join public.locations l on l.id = sl.location_id
      where sl.variant_id = grp.variant_id and l.active
        and ((v_any > 0 and l.fulfils_online) or sl.location_id = any (grp.spec_locations))
        and (sl.allow_backorder or sl.on_hand - sl.reserved > 0)
      order by l.priority, l.id
    loop
      v_idx := array_position(grp.spec_locations, cand.location_id);
      v_spec := coalesce(v_spec_left[v_idx], 0);
      v_want := v_spec + case when cand.fulfils_online then v_any else 0 end;
      continue when v_want = 0;

      -- The hold's item is written before the level is locked: on a hot level everything between
      -- the row lock and commit is serialised, so the conditional UPDATE is the last thing done.
      if v_id is null then
        insert into public.reservations (expires_at, reference_type, reference_id, created_by)
        values (v_expires, p_reference_type, p_reference_id, auth.uid())
        returning id into v_id;
      end if;
      insert into public.reservation_items (reservation_id, variant_id, location_id, quantity)
      values (v_id, grp.variant_id, cand.location_id, v_want);

      -- Fast path, the shape of a bare conditional update: take everything wanted here.
      update public.stock_levels sl
      set reserved = sl.reserved + v_want, updated_at = now()
      where sl.variant_id = grp.variant_id and sl.location_id = cand.location_id
        and (sl.allow_backorder or sl.on_hand - sl.reserved >= v_want);
      if found then
        v_take := v_want;
      else
        -- Not enough here: lock the level, take what it has, and make the item say so.
        select sl.on_hand - sl.reserved into v_avail
        from public.stock_levels sl
        where sl.variant_id = grp.variant_id and sl.location_id = cand.location_id
        for no key update;
        v_take := least(v_want, greatest(v_avail, 0));
        if v_take > 0 then
          update public.stock_levels sl
          set reserved = sl.reserved + v_take, updated_at = now()
          where sl.variant_id = grp.variant_id and sl.location_id = cand.location_id;
          update public.reservation_items i set quantity = v_take
          where i.reservation_id = v_id and i.variant_id = grp.variant_id and i.location_id = cand.location_id;
        else
          delete from public.reservation_items i
          where i.reservation_id = v_id and i.variant_id = grp.variant_id and i.location_id = cand.location_id;
        end if;
      end if;

      if v_take > 0 then
        v_from_spec := least(v_spec, v_take);
        if v_idx is not null then
          v_spec_left[v_idx] := v_spec - v_from_spec;
        end if;
        v_any := v_any - (v_take - v_from_spec);
        v_left := v_left - v_take;
        v_items := v_items || jsonb_build_object('sku', grp.sku, 'location_code', cand.code, 'quantity', v_take);
      end if;
      exit when v_left = 0;
    end loop;

    if v_left > 0 then
      if v_any > 0 then
        v_shortages := v_shortages || jsonb_build_object('sku', grp.sku, 'requested', grp.any_quantity,
          'available', grp.any_quantity - v_any);
      end if;
      for v_idx in 1 .. coalesce(array_length(grp.spec_locations, 1), 0) loop
        if v_spec_left[v_idx] > 0 then
          v_shortages := v_shortages || jsonb_build_object('sku', grp.sku, 'location_code', grp.spec_codes[v_idx],
            'requested', grp.spec_quantities[v_idx], 'available', grp.spec_quantities[v_idx] - v_spec_left[v_idx]);
        end if;
      end loop;
    end if;
  end loop;

  if v_matched < v_lines then
    -- Some line names an unknown sku, an unknown or inactive location, or a bad quantity.
    select jsonb_agg(jsonb_build_object('field', 'body.items.' || (e.ord - 1) || '.' || problem.field, 'message', problem.message)
                     order by e.ord)
    into v_errors
    from jsonb_array_elements(p_items) with ordinality as e(line, ord)
    cross join lateral (
      select 'quantity' as field, 'must be a positive integer' as message
      where jsonb_typeof(e.line -> 'quantity') is distinct from 'number'
         or (e.line ->> 'quantity')::numeric < 1 or (e.line ->> 'quantity')::numeric <> trunc((e.line ->> 'quantity')::numeric)
      union all
      select 'sku', 'no live variant has this sku'
      where not exists (select 1 from public.product_variants v
                        where lower(v.sku) = lower(e.line ->> 'sku') and v.deleted_at is null)
      union all
      select 'location_code', 'no active location has this code'
      where e.line ->> 'location_code' is not null
        and not exists (select 1 from public.locations l where l.code = lower(e.line ->> 'location_code') and l.active)
    ) as problem;
    perform private.raise_business_error('P0V01', 'some reservation lines are not valid', jsonb_build_object('errors', v_errors));
  end if;

  if jsonb_array_length(v_shortages) > 0 then
    -- Raising undoes every hold taken above: all lines or none.
    perform private.raise_business_error('P0S01',
      format('not enough stock for %s', (select string_agg(s ->> 'sku', ', ') from jsonb_array_elements(v_shortages) as s)),
      jsonb_build_object('shortages', v_shortages));
  end if;

  if v_id is null then
    -- Unreachable with valid lines (each asks for 1 or more); kept so an answer always has its row.
    insert into public.reservations (expires_at, reference_type, reference_id, created_by)
    values (v_expires, p_reference_type, p_reference_id, auth.uid())
    returning id into v_id;
  end if;
  return jsonb_build_object(
    'id', v_id,
    'status', 'active',
    'expires_at', private.iso(v_expires),
    'reference', case when p_reference_type is null then null
      else jsonb_build_object('type', p_reference_type, 'id', p_reference_id) end,
    'created_at', private.iso(now()),
    'closed_at', null,
    'replayed', false,
    'items', v_items);
end;
$$;
comment on function private.reserve_stock(jsonb, integer, text, text, text) is
  'Reserves every line or none (staff and up): locations by priority or the one named, lines may split; P0S01 names each shortage.';
comment on function private.reserve_stock(jsonb, integer, text, text, text) is
  'Reserves every line or none (staff and up): locations by priority or the one named, lines may split; P0S01 names each shortage.';
