-- Reservation cost (issue #16): on a hot sku the level's row lock is held from its UPDATE to commit,
-- so whatever reserve_stock does after the UPDATE is serialised across every writer of that level.
-- The reservation row (one per request, whatever the lines) and the answer's fixed part (id,
-- timestamps formatted by private.iso, reference) are now made once pass 1 has decided, before the
-- first level is locked; after a level's UPDATE only the taken quantity is appended. The conditional
-- UPDATE keeps its text (tests/faults/harness.ts breaks it on purpose).

create or replace function private.reserve_stock(items jsonb, ttl_seconds integer default 900, reference_type text default null::text, reference_id text default null::text, idempotency_key text default null::text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  v_id uuid;
  v_expires timestamptz := now() + make_interval(secs => reserve_stock.ttl_seconds);
  v_lines integer;
  v_matched integer := 0;
  v_errors jsonb;
  v_groups private.reservation_group[];
  grp private.reservation_group;
  v_pass integer;
  v_i integer;
  v_any integer;
  v_spec_left integer[];
  v_left integer;
  v_idx integer;
  v_spec integer;
  v_want integer;
  v_avail integer;
  v_take integer;
  v_from_spec integer;
  v_items jsonb;
  v_shortages jsonb := '[]';
  v_result jsonb;
begin
  perform private.require_app_role('staff');

  if jsonb_typeof(reserve_stock.items) is distinct from 'array' or jsonb_array_length(reserve_stock.items) not between 1 and 100 then
    perform private.raise_business_error('P0V01', 'items must be a list of 1 to 100 lines',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.items', 'message', 'between 1 and 100 lines'))));
  end if;
  if reserve_stock.ttl_seconds is null or reserve_stock.ttl_seconds not between 1 and 604800 then
    perform private.raise_business_error('P0V01', 'ttl_seconds must be between 1 and 604800',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.ttl_seconds', 'message', 'between 1 and 604800'))));
  end if;

  v_lines := jsonb_array_length(reserve_stock.items);

  -- Idempotent creation: the same key answers the reservation it created first. Without a key the
  -- reservation is written only once a level can serve it (below).
  if reserve_stock.idempotency_key is not null then
    insert into public.reservations (expires_at, reference_type, reference_id, idempotency_key, created_by)
    values (v_expires, reserve_stock.reference_type, reserve_stock.reference_id, reserve_stock.idempotency_key, auth.uid())
    on conflict (idempotency_key) where idempotency_key is not null do nothing
    returning id into v_id;
    if v_id is null then
      return private.reservation_json((select r.id from public.reservations r where r.idempotency_key = reserve_stock.idempotency_key))
        || jsonb_build_object('replayed', true);
    end if;
  end if;

  -- The one read: per variant (in variant id order, the global lock order) the quantity any online
  -- location may serve, the quantities named for given locations, and the candidate levels in
  -- allocation order (location priority) with what each had available. A single line without a
  -- location (a cart's add, every attempt of a flash sale) is read by a query of its own shape.
  if v_lines = 1 and not (reserve_stock.items -> 0 ? 'location_code') and jsonb_typeof(reserve_stock.items -> 0 -> 'quantity') = 'number'
     and (reserve_stock.items -> 0 ->> 'quantity')::numeric between 1 and 2147483647
     and (reserve_stock.items -> 0 ->> 'quantity')::numeric = trunc((reserve_stock.items -> 0 ->> 'quantity')::numeric) then
    select coalesce(array_agg(row(v.id, v.sku, 1, q.quantity, q.quantity, '{}', '{}', '{}',
                                  c.locations, c.codes, c.online, c.available, c.backorder)::private.reservation_group), '{}')
    into v_groups
    from (select (reserve_stock.items -> 0 ->> 'quantity')::integer as quantity) q
    join public.product_variants v on lower(v.sku) = lower(reserve_stock.items -> 0 ->> 'sku') and v.deleted_at is null
    cross join lateral (
      -- Aggregated in the order of the sorted rows below (one sort for the five arrays).
      select coalesce(array_agg(s.location_id), '{}') as locations, coalesce(array_agg(s.code), '{}') as codes,
             coalesce(array_agg(true), '{}') as online, coalesce(array_agg(s.available), '{}') as available,
             coalesce(array_agg(s.allow_backorder), '{}') as backorder
      from (
        select sl.location_id, l.code, sl.available, sl.allow_backorder
        from public.stock_levels sl
        join public.locations l on l.id = sl.location_id and l.active and l.fulfils_online
        where sl.variant_id = v.id and (sl.allow_backorder or sl.available > 0)
        order by l.priority, l.id
      ) s
    ) c;
  else
  select coalesce(array_agg(row(g.*)::private.reservation_group order by g.variant_id), '{}') into v_groups
  from (
    with lines as (
      select v.id as variant_id, v.sku, l.id as location_id, l.code as location_code,
             (e.line ->> 'quantity')::integer as quantity
      from jsonb_array_elements(reserve_stock.items) as e(line)
      join public.product_variants v on lower(v.sku) = lower(e.line ->> 'sku') and v.deleted_at is null
      left join public.locations l on l.code = lower(e.line ->> 'location_code') and l.active
      where jsonb_typeof(e.line -> 'quantity') = 'number' and (e.line ->> 'quantity')::numeric >= 1
        and (e.line ->> 'quantity')::numeric = trunc((e.line ->> 'quantity')::numeric)
        and (e.line ->> 'location_code' is null or l.id is not null)
    ), per_location as (
      select variant_id, sku, location_id, location_code, sum(quantity)::integer as quantity, count(*)::integer as lines
      from lines group by variant_id, sku, location_id, location_code
    ), per_variant as (
      select variant_id, sku,
             sum(lines)::integer as lines,
             sum(quantity)::integer as quantity,
             coalesce(sum(quantity) filter (where location_id is null), 0)::integer as any_quantity,
             coalesce(array_agg(location_id) filter (where location_id is not null), '{}') as spec_locations,
             coalesce(array_agg(location_code) filter (where location_id is not null), '{}') as spec_codes,
             coalesce(array_agg(quantity) filter (where location_id is not null), '{}') as spec_quantities
      from per_location
      group by variant_id, sku
    )
    select pv.*, c.locations, c.codes, c.online, c.available, c.backorder
    from per_variant pv
    cross join lateral (
      select coalesce(array_agg(sl.location_id order by l.priority, l.id), '{}') as locations,
             coalesce(array_agg(l.code order by l.priority, l.id), '{}') as codes,
             coalesce(array_agg(l.fulfils_online order by l.priority, l.id), '{}') as online,
             coalesce(array_agg(sl.available order by l.priority, l.id), '{}') as available,
             coalesce(array_agg(sl.allow_backorder order by l.priority, l.id), '{}') as backorder
      from public.stock_levels sl
      join public.locations l on l.id = sl.location_id
      where sl.variant_id = pv.variant_id and l.active
        and ((pv.any_quantity > 0 and l.fulfils_online) or sl.location_id = any (pv.spec_locations))
        and (sl.allow_backorder or sl.available > 0)
    ) c
  ) g;
  end if;

  foreach grp in array v_groups loop
    v_matched := v_matched + grp.lines;
  end loop;
  if v_matched < v_lines then
    -- Some line names an unknown sku, an unknown or inactive location, or a bad quantity.
    select jsonb_agg(jsonb_build_object('field', 'body.items.' || (e.ord - 1) || '.' || problem.field, 'message', problem.message)
                     order by e.ord)
    into v_errors
    from jsonb_array_elements(reserve_stock.items) with ordinality as e(line, ord)
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

  -- Pass 1 allocates on what the read saw, locking nothing; pass 2, only when pass 1 met every
  -- line, takes the units under the levels' locks. The same allocation both times: each level in
  -- priority order serves what is named for it, and an online one also what any location may serve.
  for v_pass in 1 .. 2 loop
    v_items := '[]';
    if v_pass = 2 then
      -- The reservation and the answer (all but its items) before the first level is locked.
      if v_id is null then
        insert into public.reservations (expires_at, reference_type, reference_id, created_by)
        values (v_expires, reserve_stock.reference_type, reserve_stock.reference_id, auth.uid())
        returning id into v_id;
      end if;
      v_result := jsonb_build_object(
        'id', v_id,
        'status', 'active',
        'expires_at', private.iso(v_expires),
        'reference', case when reserve_stock.reference_type is null then null
          else jsonb_build_object('type', reserve_stock.reference_type, 'id', reserve_stock.reference_id) end,
        'created_at', private.iso(now()),
        'closed_at', null,
        'replayed', false);
    end if;
    foreach grp in array v_groups loop
      v_any := grp.any_quantity;
      v_spec_left := grp.spec_quantities;
      v_left := grp.quantity;

      for v_i in 1 .. coalesce(array_length(grp.locations, 1), 0) loop
        v_idx := array_position(grp.spec_locations, grp.locations[v_i]);
        v_spec := coalesce(v_spec_left[v_idx], 0);
        v_want := v_spec + case when grp.online[v_i] then v_any else 0 end;
        continue when v_want = 0;

        if v_pass = 1 then
          v_take := case when grp.backorder[v_i] then v_want else least(v_want, greatest(grp.available[v_i], 0)) end;
        else
          -- The hold's item is written before the level is locked: on a hot level everything
          -- between the row lock and commit is serialised, so the conditional UPDATE comes last.
          insert into public.reservation_items (reservation_id, variant_id, location_id, quantity)
          values (v_id, grp.variant_id, grp.locations[v_i], v_want);

          -- The shape of a bare conditional update: take everything wanted here.
          update public.stock_levels sl
          set reserved = sl.reserved + v_want, updated_at = now()
          where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i]
            and (sl.allow_backorder or sl.on_hand - sl.reserved >= v_want);
          if found then
            v_take := v_want;
          else
            -- Less left than wanted (others took it since the read). Look again without a lock,
            -- and lock only when there is something to take.
            select sl.on_hand - sl.reserved into v_avail
            from public.stock_levels sl
            where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i];
            if v_avail > 0 then
              select sl.on_hand - sl.reserved into v_avail
              from public.stock_levels sl
              where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i]
              for no key update;
            end if;
            v_take := least(v_want, greatest(v_avail, 0));
            if v_take > 0 then
              update public.stock_levels sl
              set reserved = sl.reserved + v_take, updated_at = now()
              where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i];
              update public.reservation_items i set quantity = v_take
              where i.reservation_id = v_id and i.variant_id = grp.variant_id and i.location_id = grp.locations[v_i];
            else
              delete from public.reservation_items i
              where i.reservation_id = v_id and i.variant_id = grp.variant_id and i.location_id = grp.locations[v_i];
            end if;
          end if;
        end if;

        if v_take > 0 then
          v_from_spec := least(v_spec, v_take);
          if v_idx is not null then
            v_spec_left[v_idx] := v_spec - v_from_spec;
          end if;
          v_any := v_any - (v_take - v_from_spec);
          v_left := v_left - v_take;
          v_items := v_items || jsonb_build_object('sku', grp.sku, 'location_code', grp.codes[v_i], 'quantity', v_take);
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

    if jsonb_array_length(v_shortages) > 0 then
      -- Raising undoes every hold taken above: all lines or none.
      perform private.raise_business_error('P0S01',
        format('not enough stock for %s', (select string_agg(s ->> 'sku', ', ') from jsonb_array_elements(v_shortages) as s)),
        jsonb_build_object('shortages', v_shortages));
    end if;
  end loop;

  return v_result || jsonb_build_object('items', v_items);
end;
$function$
;
