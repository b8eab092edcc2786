-- Reservations hold stock for a cart, an order or an external caller. Reserving is one function
-- that allocates every line or none; it never lets reserved exceed on_hand, whatever the number
-- of concurrent callers, because each level is changed by a conditional UPDATE (or under a row
-- lock) and the table constraint is the last word. Levels are always locked in one global order
-- (variant id, then location priority, then location id) by every function here and in the
-- ledger, so concurrent reservations, releases, commits and transfers do not deadlock.

create table public.reservations (
  id uuid primary key default gen_random_uuid(),
  status text not null default 'active' check (status in ('active', 'committed', 'released', 'expired')),
  expires_at timestamptz not null,
  reference_type text check (reference_type in ('cart', 'order', 'external')),
  reference_id text check (reference_id is null or length(reference_id) between 1 and 200),
  idempotency_key text unique check (idempotency_key is null or length(idempotency_key) between 1 and 200),
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  closed_at timestamptz,
  constraint reservations_reference_complete check ((reference_type is null) = (reference_id is null)),
  constraint reservations_closed_when_not_active check ((status = 'active') = (closed_at is null))
);
comment on table public.reservations is
  'Stock held for a cart, order or external caller until committed (sold), released or expired.';
create index reservations_active_expiry_idx on public.reservations (expires_at) where status = 'active';

create table public.reservation_items (
  reservation_id uuid not null references public.reservations (id) on delete cascade,
  variant_id uuid not null,
  location_id uuid not null,
  quantity integer not null check (quantity > 0),
  primary key (reservation_id, variant_id, location_id)
);
comment on table public.reservation_items is
  'What a reservation holds: a quantity of a variant at a location (a line may split); only reserve_stock writes items.';
create index reservation_items_level_idx on public.reservation_items (variant_id, location_id);

-- An item's level exists because reserve_stock writes an item only in the transaction that
-- raises that level's `reserved`. There is deliberately no foreign key to stock_levels: its
-- check would take a KEY SHARE lock on the level, which on a hot level turns every hold into a
-- MultiXact and a fight for the level's page while another transaction holds the row. Instead,
-- a level that any reservation item names can never be deleted (what the foreign key's
-- ON DELETE NO ACTION gave). The trigger runs after the row lock is taken, so an item committed
-- by the transaction that held the level is always seen.
create or replace function private.stock_levels_refuse_delete_when_held()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.reservation_items i
             where i.variant_id = old.variant_id and i.location_id = old.location_id) then
    raise foreign_key_violation using
      message = 'a stock level named by reservation items cannot be deleted',
      detail = format('variant %s at location %s', old.variant_id, old.location_id);
  end if;
  return old;
end;
$$;
comment on function private.stock_levels_refuse_delete_when_held() is
  'Trigger: refuses (23503) deleting a stock level that reservation items name, in place of a foreign key.';
revoke execute on function private.stock_levels_refuse_delete_when_held() from public, anon, authenticated;

create trigger stock_levels_before_delete_refuse_when_held
  before delete on public.stock_levels
  for each row execute function private.stock_levels_refuse_delete_when_held();

alter table public.stock_movements
  add constraint stock_movements_reservation_fkey foreign key (reservation_id) references public.reservations (id);
create index stock_movements_reservation_idx on public.stock_movements (reservation_id) where reservation_id is not null;

-- A reservation as the API shows it.
create or replace function private.reservation_json(p_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', r.id,
    'status', r.status,
    'expires_at', private.iso(r.expires_at),
    'reference', case when r.reference_type is null then null
      else jsonb_build_object('type', r.reference_type, 'id', r.reference_id) end,
    'items', coalesce((
      select jsonb_agg(jsonb_build_object('sku', v.sku, 'location_code', l.code, 'quantity', i.quantity)
                       order by lower(v.sku), l.priority, l.code)
      from public.reservation_items i
      join public.product_variants v on v.id = i.variant_id
      join public.locations l on l.id = i.location_id
      where i.reservation_id = r.id), '[]'::jsonb),
    'created_at', private.iso(r.created_at),
    'closed_at', private.iso(r.closed_at))
  from public.reservations r
  where r.id = p_id
$$;
comment on function private.reservation_json(uuid) is 'A reservation with its items as the API answers it, or null.';

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
  v_answer jsonb;
  v_shortages jsonb := '[]';
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

  -- Idempotent creation: the same key answers the reservation it created first.
  insert into public.reservations (expires_at, reference_type, reference_id, idempotency_key, created_by)
  values (v_expires, p_reference_type, p_reference_id, p_idempotency_key, auth.uid())
  on conflict (idempotency_key) do nothing
  returning id into v_id;
  if v_id is null then
    return private.reservation_json((select r.id from public.reservations r where r.idempotency_key = p_idempotency_key))
      || jsonb_build_object('replayed', true);
  end if;

  -- The answer, but for its items, is known before any level is locked.
  v_answer := jsonb_build_object(
    'id', v_id,
    'status', 'active',
    'expires_at', private.iso(v_expires),
    'reference', case when p_reference_type is null then null
      else jsonb_build_object('type', p_reference_type, 'id', p_reference_id) end,
    'created_at', private.iso(now()),
    'closed_at', null,
    'replayed', false);

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

  return v_answer || jsonb_build_object('items', v_items);
end;
$$;
comment on function private.reserve_stock(jsonb, integer, text, text, text) is
  'Reserves every line or none (staff and up): locations by priority or the one named, lines may split; P0S01 names each shortage.';

-- Gives back the reserved units of the given reservations, level by level in the global order.
create or replace function private.unreserve_items(p_reservation_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  item record;
begin
  for item in
    select i.variant_id, i.location_id, sum(i.quantity)::integer as quantity
    from public.reservation_items i
    join public.locations l on l.id = i.location_id
    where i.reservation_id = any (p_reservation_ids)
    group by i.variant_id, i.location_id, l.priority
    order by i.variant_id, l.priority, i.location_id
  loop
    update public.stock_levels sl
    set reserved = sl.reserved - item.quantity, updated_at = now()
    where sl.variant_id = item.variant_id and sl.location_id = item.location_id;
  end loop;
end;
$$;
comment on function private.unreserve_items(uuid[]) is 'Returns the held units of reservations to available, locking levels in the global order.';

-- POST /inventory/reservations/{id}/release: idempotent.
create or replace function private.release_reservation(p_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  r public.reservations;
begin
  perform private.require_app_role('staff');
  select * into r from public.reservations where id = p_id for update;
  if r.id is null then
    perform private.raise_business_error('P0N01', format('no reservation %s', p_id), jsonb_build_object('id', p_id));
  end if;
  if r.status = 'committed' then
    perform private.raise_business_error('P0C01', 'a committed reservation cannot be released',
      jsonb_build_object('id', p_id, 'status', r.status));
  end if;
  if r.status = 'active' then
    perform private.unreserve_items(array[p_id]);
    update public.reservations set status = 'released', closed_at = now(), updated_at = now() where id = p_id;
    perform private.emit_event('reservation.released', jsonb_build_object('id', p_id, 'reference_type', r.reference_type,
      'reference_id', r.reference_id));
  end if;
  return private.reservation_json(p_id);
end;
$$;
comment on function private.release_reservation(uuid) is
  'Releases an active reservation (staff and up); releasing a released or expired one changes nothing.';

-- POST /inventory/reservations/{id}/commit: idempotent; the held units become sale movements.
create or replace function private.commit_reservation(p_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  r public.reservations;
  item record;
begin
  perform private.require_app_role('staff');
  select * into r from public.reservations where id = p_id for update;
  if r.id is null then
    perform private.raise_business_error('P0N01', format('no reservation %s', p_id), jsonb_build_object('id', p_id));
  end if;
  if r.status in ('released', 'expired') then
    perform private.raise_business_error('P0C01', format('a reservation that is %s cannot be committed', r.status),
      jsonb_build_object('id', p_id, 'status', r.status));
  end if;
  if r.status = 'active' then
    if r.expires_at <= now() then
      perform private.raise_business_error('P0C01', 'the reservation has expired',
        jsonb_build_object('id', p_id, 'status', 'expired', 'expires_at', private.iso(r.expires_at)));
    end if;
    for item in
      select i.variant_id, i.location_id, i.quantity
      from public.reservation_items i join public.locations l on l.id = i.location_id
      where i.reservation_id = p_id
      order by i.variant_id, l.priority, i.location_id
    loop
      insert into public.stock_movements
        (variant_id, location_id, kind, quantity, reference_type, reference_id, reservation_id)
      values (item.variant_id, item.location_id, 'sale', -item.quantity,
        coalesce(case r.reference_type when 'order' then 'order' when 'cart' then 'cart' end, 'reservation'),
        coalesce(case when r.reference_type in ('order', 'cart') then r.reference_id end, p_id::text),
        p_id);
    end loop;
    update public.reservations set status = 'committed', closed_at = now(), updated_at = now() where id = p_id;
    perform private.emit_event('reservation.committed', jsonb_build_object('id', p_id, 'reference_type', r.reference_type,
      'reference_id', r.reference_id));
  end if;
  return private.reservation_json(p_id);
end;
$$;
comment on function private.commit_reservation(uuid) is
  'Commits an active reservation (staff and up): its units leave as sale movements; committing again changes nothing.';

-- GET /inventory/reservations/{id}.
create or replace function private.get_reservation(p_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found jsonb;
begin
  perform private.require_app_role('viewer');
  found := private.reservation_json(p_id);
  if found is null then
    perform private.raise_business_error('P0N01', format('no reservation %s', p_id), jsonb_build_object('id', p_id));
  end if;
  return found;
end;
$$;
comment on function private.get_reservation(uuid) is 'One reservation with its items (viewer and up), or P0N01.';

-- The expiry job: every active reservation past expires_at becomes expired exactly once (row
-- locks with skip locked keep concurrent runs apart) and emits reservation.expired.
create or replace function private.expire_reservations(max_batch integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  expired_ids uuid[];
begin
  with due as (
    select r.id from public.reservations r
    where r.status = 'active' and r.expires_at <= now()
    order by r.expires_at
    limit max_batch
    for update skip locked
  ), changed as (
    update public.reservations r set status = 'expired', closed_at = now(), updated_at = now()
    from due where r.id = due.id
    returning r.id
  )
  select coalesce(array_agg(changed.id), '{}') into expired_ids from changed;

  if cardinality(expired_ids) = 0 then
    return 0;
  end if;
  perform private.unreserve_items(expired_ids);
  perform private.emit_event('reservation.expired', private.reservation_json(e.id))
  from unnest(expired_ids) as e(id);
  return cardinality(expired_ids);
end;
$$;
comment on function private.expire_reservations(integer) is
  'Expires up to max_batch overdue reservations, returning their units and emitting reservation.expired once each.';

revoke execute on function private.reservation_json(uuid), private.unreserve_items(uuid[]),
  private.expire_reservations(integer) from public, anon, authenticated;
revoke execute on function private.reserve_stock(jsonb, integer, text, text, text), private.release_reservation(uuid),
  private.commit_reservation(uuid), private.get_reservation(uuid) from public, anon;
grant execute on function private.reserve_stock(jsonb, integer, text, text, text), private.release_reservation(uuid),
  private.commit_reservation(uuid), private.get_reservation(uuid) to authenticated, service_role;
grant execute on function private.expire_reservations(integer) to service_role;

alter table public.reservations enable row level security;
revoke all on public.reservations from anon, authenticated, service_role;
grant select on public.reservations to authenticated, service_role;
create policy "Viewers and up can read reservations"
  on public.reservations for select to authenticated
  using ((select private.has_app_role('viewer')));

alter table public.reservation_items enable row level security;
revoke all on public.reservation_items from anon, authenticated, service_role;
grant select on public.reservation_items to authenticated, service_role;
create policy "Viewers and up can read reservation items"
  on public.reservation_items for select to authenticated
  using ((select private.has_app_role('viewer')));

-- Production: pg_cron expires reservations every minute (the local stack uses a timer).
do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('storekeep-expire-reservations', '* * * * *', 'select private.expire_reservations()');
  end if;
end
$$;
