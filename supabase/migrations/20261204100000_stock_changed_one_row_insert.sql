-- Reservation cost (issue #16): everything a level's change does after its UPDATE runs under the
-- row lock, which a hot sku's writers take one at a time. Measured per change (CPU of one backend,
-- 600 changes, min of 6): the UPDATE 40 µs, its events ~180 µs more, of which the one statement
-- writing them (a VALUES of five payloads, all built, filtered, sorted, joined to the sku and the
-- location code) ~30 µs more than a one-row INSERT ... VALUES.
--
-- A change that crosses nothing (every reservation but a sale's last unit) writes only
-- stock.changed, now with a one-row insert. The rarer events (stock.out, back_in, low,
-- reorder_needed) follow in a second statement, only when one is due. Same events, same payloads,
-- same order.

create or replace function private.stock_levels_emit_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  changed boolean := new.on_hand <> old.on_hand or new.reserved <> old.reserved;
  becomes_low boolean := new.available <= new.reorder_point and (old.available > old.reorder_point
      or (new.reorder_point, new.reorder_quantity) is distinct from (old.reorder_point, old.reorder_quantity));
  suggestion_id uuid;
  level jsonb := jsonb_build_object('variant_id', new.variant_id,
    'sku', (select v.sku from public.product_variants v where v.id = new.variant_id),
    'location_id', new.location_id,
    'location_code', (select l.code from public.locations l where l.id = new.location_id));
begin
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

  if changed then
    insert into private.events (topic, payload)
    values ('stock.changed', level || jsonb_build_object(
      'before', jsonb_build_object('on_hand', old.on_hand, 'reserved', old.reserved, 'available', old.available),
      'after', jsonb_build_object('on_hand', new.on_hand, 'reserved', new.reserved, 'available', new.available)));
  end if;

  if (changed and (old.available > 0) <> (new.available > 0)) or becomes_low then
    insert into private.events (topic, payload)
    select e.topic, level || e.payload
    from (values
      (1, changed and old.available > 0 and new.available <= 0, 'stock.out',
        jsonb_build_object('available', new.available)),
      (2, changed and old.available <= 0 and new.available > 0, 'stock.back_in',
        jsonb_build_object('available', new.available)),
      (3, becomes_low and old.available > old.reorder_point and new.reorder_point > 0 and new.available > 0, 'stock.low',
        jsonb_build_object('available', new.available, 'reorder_point', new.reorder_point)),
      (4, suggestion_id is not null, 'stock.reorder_needed', jsonb_build_object(
        'suggestion_id', suggestion_id, 'available', new.available,
        'reorder_point', new.reorder_point, 'reorder_quantity', new.reorder_quantity))
    ) as e(ord, due, topic, payload)
    where e.due
    order by e.ord;
  end if;
  return null;
end;
$$;
comment on function private.stock_levels_emit_events() is
  'Trigger: stock.changed with before/after and stock.out/back_in on stock changes; stock.low and one reorder suggestion when a level becomes low by stock or by its reorder point. stock.changed is a one-row insert; the rarer events follow in one more.';
