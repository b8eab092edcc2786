-- The cost of one stock change's events, measured per reservation (track_functions, bench/perf):
-- most of it was not the outbox row but the calls around it. Three of them go:
--
-- * private.realtime_channel carried `set search_path`, which stops Postgres from inlining a SQL
--   function: every event paid two full function calls (a GUC save and restore each) to pick its
--   channel. It is a pure expression over built-in operators, so it is now inlinable; the
--   broadcast trigger computes it once per event.
-- * private.stock_levels_emit_events called private.emit_event once per topic, so a change that
--   also crossed a threshold fired the outbox's statement triggers (broadcast, Svix wake-up) once
--   per event. It now writes every event of a change in one statement, in the same order.
-- * private.iso (every API answer's timestamps, eleven per order) was a full function call too. It
--   drops its pinned search_path and is declared stable, as to_char is: the planner now inlines it.

create or replace function private.realtime_channel(topic text, payload jsonb)
returns text
language sql
immutable
parallel safe
as $$
  select case
    when topic like 'stock.%' then 'inventory:' || (payload ->> 'location_code')
    when topic like 'product.%' then 'product:' || (payload ->> 'id')
    when topic like 'variant.%' then 'product:' || (payload ->> 'product_id')
    when topic like 'product_image.%' then 'product:' || (payload ->> 'product_id')
    when topic like 'order.%' then 'orders'
  end
$$;
comment on function private.realtime_channel(text, jsonb) is
  'The private Realtime channel an outbox event is broadcast to, or null when none follows it (inlined by the planner: no pinned settings).';

create or replace function private.events_after_insert_broadcast()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object(
      'cursor', e.transaction_id::text || '-' || e.id::text,
      'event_id', e.id,
      'topic', e.topic,
      'data', e.payload,
      'occurred_at', e.created_at
    ),
    e.topic,
    c.channel,
    true)
  from new_events e
  cross join lateral (select private.realtime_channel(e.topic, e.payload) as channel) c
  where c.channel is not null;
  return null;
end;
$$;
comment on function private.events_after_insert_broadcast() is
  'Trigger (after each insert statement on private.events): sends followed events to their private Realtime channel.';
revoke all on function private.events_after_insert_broadcast() from public, anon, authenticated;

create or replace function private.iso(at timestamptz)
returns text
language sql
stable
parallel safe
as $$
  select pg_catalog.to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
comment on function private.iso(timestamptz) is 'A timestamp as ISO 8601 UTC with milliseconds, as the API prints it.';

create or replace function private.stock_levels_emit_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  base jsonb;
  changed boolean := new.on_hand <> old.on_hand or new.reserved <> old.reserved;
  becomes_low boolean;
  suggestion_id uuid;
begin
  select jsonb_build_object('variant_id', new.variant_id, 'sku', v.sku, 'location_id', new.location_id,
                            'location_code', l.code)
  into base
  from public.product_variants v, public.locations l
  where v.id = new.variant_id and l.id = new.location_id;

  becomes_low := new.available <= new.reorder_point and (old.available > old.reorder_point
      or (new.reorder_point, new.reorder_quantity) is distinct from (old.reorder_point, old.reorder_quantity));

  if becomes_low and new.reorder_quantity > 0 then
    insert into public.reorder_suggestions
      (variant_id, location_id, reorder_point, suggested_quantity, available_at_crossing)
    values (new.variant_id, new.location_id, new.reorder_point, new.reorder_quantity, new.available)
    on conflict (variant_id, location_id) where status = 'open' do nothing
    returning id into suggestion_id;
  elsif not becomes_low and old.available <= old.reorder_point and new.available > new.reorder_point then
    update public.reorder_suggestions s set status = 'resolved', resolved_at = now()
    where s.variant_id = new.variant_id and s.location_id = new.location_id and s.status = 'open';
  end if;

  -- Every event of this change in one statement (the outbox's statement triggers fire once), in
  -- the order they always had.
  insert into private.events (topic, payload)
  select e.topic, e.payload
  from (values
    (1, changed, 'stock.changed', base || jsonb_build_object(
      'before', jsonb_build_object('on_hand', old.on_hand, 'reserved', old.reserved, 'available', old.available),
      'after', jsonb_build_object('on_hand', new.on_hand, 'reserved', new.reserved, 'available', new.available))),
    (2, changed and old.available > 0 and new.available <= 0, 'stock.out',
      base || jsonb_build_object('available', new.available)),
    (3, changed and old.available <= 0 and new.available > 0, 'stock.back_in',
      base || jsonb_build_object('available', new.available)),
    (4, becomes_low and old.available > old.reorder_point and new.reorder_point > 0 and new.available > 0, 'stock.low',
      base || jsonb_build_object('available', new.available, 'reorder_point', new.reorder_point)),
    (5, suggestion_id is not null, 'stock.reorder_needed', base || jsonb_build_object(
      'suggestion_id', suggestion_id, 'available', new.available,
      'reorder_point', new.reorder_point, 'reorder_quantity', new.reorder_quantity))
  ) as e(ord, due, topic, payload)
  where e.due
  order by e.ord;
  return null;
end;
$$;
comment on function private.stock_levels_emit_events() is
  'Trigger: stock.changed with before/after and stock.out/back_in on stock changes; stock.low and one reorder suggestion when a level becomes low by stock or by its reorder point; all in one outbox write.';
