-- Inventory settings: a level's reorder policy and backorder switch (PATCH /inventory/levels),
-- and closing reorder suggestions by hand (POST /inventory/reorder-suggestions/{id}/resolve|dismiss).

-- PATCH /inventory/levels: sets any of reorder_point, reorder_quantity and allow_backorder of one
-- level (manager and up). The level is locked first, so turning backorders off is refused (P0C01)
-- exactly when the level holds more than it has, never by a race.
create or replace function private.set_level_policy(
  p_sku text,
  p_location_code text,
  p_reorder_point integer default null,
  p_reorder_quantity integer default null,
  p_allow_backorder boolean default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_variant uuid;
  v_location uuid;
  current public.stock_levels;
begin
  perform private.require_app_role('manager');
  v_variant := private.variant_id_for_sku(p_sku);
  v_location := private.location_id_for_code(p_location_code);
  select * into current from public.stock_levels sl
  where sl.variant_id = v_variant and sl.location_id = v_location
  for no key update;
  if p_allow_backorder is false and current.reserved > current.on_hand then
    perform private.raise_business_error('P0C01',
      format('%s units are reserved but only %s on hand: backorders cannot be turned off', current.reserved, current.on_hand),
      jsonb_build_object('level', private.level_json(v_variant, v_location)));
  end if;
  update public.stock_levels sl
  set reorder_point = coalesce(p_reorder_point, sl.reorder_point),
      reorder_quantity = coalesce(p_reorder_quantity, sl.reorder_quantity),
      allow_backorder = coalesce(p_allow_backorder, sl.allow_backorder),
      updated_at = now()
  where sl.variant_id = v_variant and sl.location_id = v_location;
  return private.level_json(v_variant, v_location);
end;
$$;
comment on function private.set_level_policy(text, text, integer, integer, boolean) is
  'Sets a level''s reorder point, reorder quantity and backorder switch (manager and up); null leaves a setting as it is.';

-- A reorder suggestion as the API shows it.
create or replace function private.reorder_suggestion_json(s public.reorder_suggestions)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', s.id, 'sku', v.sku, 'location_code', l.code, 'status', s.status,
    'reorder_point', s.reorder_point, 'suggested_quantity', s.suggested_quantity,
    'available_at_crossing', s.available_at_crossing, 'available', sl.available,
    'created_at', private.iso(s.created_at), 'resolved_at', private.iso(s.resolved_at))
  from public.product_variants v, public.locations l, public.stock_levels sl
  where v.id = s.variant_id and l.id = s.location_id
    and sl.variant_id = s.variant_id and sl.location_id = s.location_id
$$;
comment on function private.reorder_suggestion_json(public.reorder_suggestions) is
  'A reorder suggestion as the API answers it (sku, location code and the level''s available resolved).';

-- POST /inventory/reorder-suggestions/{id}/resolve and /dismiss (staff and up). Closing is
-- idempotent: closing again the same way answers the suggestion unchanged; closing a suggestion
-- that was closed the other way is a conflict (P0C01). A closed suggestion frees the level for
-- the suggestion of its next crossing.
create or replace function private.close_reorder_suggestion(p_id uuid, p_status text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  found_row public.reorder_suggestions;
begin
  perform private.require_app_role('staff');
  if p_status is null or p_status not in ('resolved', 'dismissed') then
    perform private.raise_business_error('P0V01', 'a suggestion closes as resolved or dismissed',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'status', 'message', 'resolved or dismissed'))));
  end if;
  select * into found_row from public.reorder_suggestions s where s.id = p_id for update;
  if found_row.id is null then
    perform private.raise_business_error('P0N01', format('no reorder suggestion %s', p_id), jsonb_build_object('id', p_id));
  end if;
  if found_row.status = 'open' then
    update public.reorder_suggestions s set status = p_status, resolved_at = now()
    where s.id = p_id
    returning * into found_row;
  elsif found_row.status <> p_status then
    perform private.raise_business_error('P0C01', format('the suggestion is already %s', found_row.status),
      jsonb_build_object('suggestion', private.reorder_suggestion_json(found_row)));
  end if;
  return private.reorder_suggestion_json(found_row);
end;
$$;
comment on function private.close_reorder_suggestion(uuid, text) is
  'Resolves or dismisses an open reorder suggestion (staff and up); repeating the same close changes nothing.';

revoke execute on function private.reorder_suggestion_json(public.reorder_suggestions) from public, anon, authenticated;
revoke execute on function private.set_level_policy(text, text, integer, integer, boolean),
  private.close_reorder_suggestion(uuid, text) from public, anon;
grant execute on function private.set_level_policy(text, text, integer, integer, boolean),
  private.close_reorder_suggestion(uuid, text) to authenticated, service_role;
