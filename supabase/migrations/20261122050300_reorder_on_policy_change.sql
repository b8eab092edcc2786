-- A level is low when its available stock is at or below its reorder point. Until now only a stock
-- change could make a level low, so raising the reorder point above what was available (a manager
-- setting a point of 10 with 3 left) opened no reorder suggestion and emitted no stock.low, and the
-- next drop did not count as a crossing either. A crossing is now judged with each side's own
-- reorder point, so raising the point above what is available is a crossing (stock.low); and any
-- change of the policy that leaves the level low opens a suggestion when none is open (a manager
-- setting a reorder quantity for an item already out of stock gets one).

create or replace function private.stock_levels_emit_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  base jsonb;
  suggestion_id uuid;
begin
  select jsonb_build_object('variant_id', new.variant_id, 'sku', v.sku, 'location_id', new.location_id,
                            'location_code', l.code)
  into base
  from public.product_variants v, public.locations l
  where v.id = new.variant_id and l.id = new.location_id;

  if new.on_hand <> old.on_hand or new.reserved <> old.reserved then
    perform private.emit_event('stock.changed', base || jsonb_build_object(
      'before', jsonb_build_object('on_hand', old.on_hand, 'reserved', old.reserved, 'available', old.available),
      'after', jsonb_build_object('on_hand', new.on_hand, 'reserved', new.reserved, 'available', new.available)));
    if old.available > 0 and new.available <= 0 then
      perform private.emit_event('stock.out', base || jsonb_build_object('available', new.available));
    elsif old.available <= 0 and new.available > 0 then
      perform private.emit_event('stock.back_in', base || jsonb_build_object('available', new.available));
    end if;
  end if;

  if new.available <= new.reorder_point and (old.available > old.reorder_point
      or (new.reorder_point, new.reorder_quantity) is distinct from (old.reorder_point, old.reorder_quantity)) then
    if old.available > old.reorder_point and new.reorder_point > 0 and new.available > 0 then
      perform private.emit_event('stock.low', base || jsonb_build_object(
        'available', new.available, 'reorder_point', new.reorder_point));
    end if;
    if new.reorder_quantity > 0 then
      insert into public.reorder_suggestions
        (variant_id, location_id, reorder_point, suggested_quantity, available_at_crossing)
      values (new.variant_id, new.location_id, new.reorder_point, new.reorder_quantity, new.available)
      on conflict (variant_id, location_id) where status = 'open' do nothing
      returning id into suggestion_id;
      if suggestion_id is not null then
        perform private.emit_event('stock.reorder_needed', base || jsonb_build_object(
          'suggestion_id', suggestion_id, 'available', new.available,
          'reorder_point', new.reorder_point, 'reorder_quantity', new.reorder_quantity));
      end if;
    end if;
  elsif old.available <= old.reorder_point and new.available > new.reorder_point then
    update public.reorder_suggestions s set status = 'resolved', resolved_at = now()
    where s.variant_id = new.variant_id and s.location_id = new.location_id and s.status = 'open';
  end if;
  return null;
end;
$$;
comment on function private.stock_levels_emit_events() is
  'Trigger: stock.changed with before/after and stock.out/back_in on stock changes; stock.low and one reorder suggestion when a level becomes low by stock or by its reorder point.';

drop trigger stock_levels_after_update_emit_events on public.stock_levels;
create trigger stock_levels_after_update_emit_events
  after update on public.stock_levels
  for each row when (new.on_hand <> old.on_hand or new.reserved <> old.reserved
                     or new.reorder_point <> old.reorder_point or new.reorder_quantity <> old.reorder_quantity)
  execute function private.stock_levels_emit_events();
