-- Reservation cost (issue #16): a level's change holds its row lock until commit, and its events
-- are written inside that window. The sku and location code of the events' payload were a read of
-- their own; they are now read by the statement that writes the events. Same events, same order.

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

  -- Every event of this change in one statement (the outbox's statement triggers fire once), in
  -- the order they always had.
  insert into private.events (topic, payload)
  select e.topic, base.payload || e.payload
  from (select jsonb_build_object('variant_id', new.variant_id, 'sku', v.sku, 'location_id', new.location_id,
                                  'location_code', l.code) as payload
        from public.product_variants v, public.locations l
        where v.id = new.variant_id and l.id = new.location_id) as base,
       (values
    (1, changed, 'stock.changed', jsonb_build_object(
      'before', jsonb_build_object('on_hand', old.on_hand, 'reserved', old.reserved, 'available', old.available),
      'after', jsonb_build_object('on_hand', new.on_hand, 'reserved', new.reserved, 'available', new.available))),
    (2, changed and old.available > 0 and new.available <= 0, 'stock.out',
      jsonb_build_object('available', new.available)),
    (3, changed and old.available <= 0 and new.available > 0, 'stock.back_in',
      jsonb_build_object('available', new.available)),
    (4, becomes_low and old.available > old.reorder_point and new.reorder_point > 0 and new.available > 0, 'stock.low',
      jsonb_build_object('available', new.available, 'reorder_point', new.reorder_point)),
    (5, suggestion_id is not null, 'stock.reorder_needed', jsonb_build_object(
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
