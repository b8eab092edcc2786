-- GET /inventory/status: a variant's `total` is its stock everywhere, whatever the filters; the
-- filters (location, low or out) choose which variants are listed and which of their levels are
-- shown. Before, the total summed only the levels shown, so filtering by a location changed it.
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
          'location_code', levels.code, 'on_hand', levels.on_hand, 'reserved', levels.reserved,
          'available', levels.available, 'reorder_point', levels.reorder_point)
          order by levels.priority, levels.code) filter (where levels.shown),
        'total', jsonb_build_object(
          'on_hand', sum(levels.on_hand)::integer, 'reserved', sum(levels.reserved)::integer,
          'available', sum(levels.available)::integer)
      ) as row
    from public.product_variants v
    cross join lateral (
      select l.code, l.priority, sl.on_hand, sl.reserved, sl.available, sl.reorder_point,
             (p_location_code is null or l.code = lower(p_location_code))
               and (p_stock is null
                 or (p_stock = 'low' and sl.available <= sl.reorder_point)
                 or (p_stock = 'out' and sl.available <= 0)) as shown
      from public.stock_levels sl
      join public.locations l on l.id = sl.location_id
      where sl.variant_id = v.id
    ) as levels
    where v.deleted_at is null
      and (p_sku is null or lower(v.sku) = lower(p_sku))
      and (p_after_sku is null or lower(v.sku) > lower(p_after_sku))
    group by v.id, v.sku
    having bool_or(levels.shown)
    order by lower(v.sku)
    limit p_limit
  ) as page;
  return result;
end;
$$;
comment on function private.stock_status(text, text, text, text, integer) is
  'Stock per variant (viewer and up): the levels the filters (sku, location, low/out) match, and the total over every level; paged by sku.';
