-- place_order's own writes (the order, its lines, its first history entry) as one statement with
-- data-modifying CTEs instead of four (number, subtotal, three inserts): the same rows, checks and
-- order of locks (the levels inside reserve_stock first, then the new rows), less per-statement work.
-- Issue #16: an order should cost at most 1.25x the reservation of its lines.
create or replace function private.place_order(p_order jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid := gen_random_uuid();
  v_items jsonb := p_order -> 'items';
  v_ttl integer;
  v_errors jsonb;
  v_currency text;
  v_reservation jsonb;
  v_number text;
  v_subtotal bigint;
  v_lines jsonb;
begin
  perform private.require_app_role('staff');

  if jsonb_typeof(v_items) is distinct from 'array' or jsonb_array_length(v_items) not between 1 and 100 then
    perform private.raise_business_error('P0V01', 'items must be a list of 1 to 100 lines',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.items', 'message', 'between 1 and 100 lines'))));
  end if;
  v_ttl := coalesce((p_order ->> 'payment_ttl_seconds')::integer, 3600);

  -- Each line's variant and product, looked up once (LIMIT 1 keeps each lookup an index probe:
  -- the planner otherwise guesses 100 lines and hashes the whole variants table).
  select jsonb_agg(jsonb_build_object('ord', e.ord, 'quantity', e.line -> 'quantity', 'variant_id', v.id, 'sku', v.sku,
           'title', v.product_title || case when v.title <> '' then ' — ' || v.title else '' end,
           'price_amount', v.price_amount, 'currency', v.currency, 'product_status', v.product_status) order by e.ord)
  into v_lines
  from jsonb_array_elements(v_items) with ordinality as e(line, ord)
  left join lateral (
    select v.id, v.sku, v.title, v.price_amount, v.currency, p.title as product_title, p.status as product_status
    from public.product_variants v
    join public.products p on p.id = v.product_id and p.deleted_at is null
    where lower(v.sku) = lower(e.line ->> 'sku') and v.deleted_at is null
    limit 1
  ) v on true;

  -- Every line must name a live variant of a published product; the first known line's currency
  -- is the order's, and every other line must be priced in it.
  select l ->> 'currency' into v_currency from jsonb_array_elements(v_lines) as l where l ->> 'currency' is not null limit 1;
  select jsonb_agg(jsonb_build_object('field', 'body.items.' || (checked.ord - 1) || '.sku', 'message', checked.problem)
                   order by checked.ord)
  into v_errors
  from (
    select l.ord, case
      when l.variant_id is null then 'no live variant has this sku'
      when l.product_status <> 'published' then 'the product is not published'
      when l.currency <> v_currency then format('priced in %s, the order is in %s', l.currency, v_currency)
    end as problem
    from jsonb_to_recordset(v_lines) as l(ord integer, variant_id uuid, product_status text, currency text)
  ) checked
  where checked.problem is not null;
  if v_errors is not null then
    perform private.raise_business_error('P0V01', 'some order lines cannot be sold', jsonb_build_object('errors', v_errors));
  end if;

  -- Holds every line or raises (P0V01 for a bad quantity or location, P0S01 for a shortage).
  v_reservation := private.reserve_stock(
    (select jsonb_agg(jsonb_strip_nulls(jsonb_build_object('sku', e.line -> 'sku', 'quantity', e.line -> 'quantity',
       'location_code', e.line -> 'location_code')) order by e.ord)
     from jsonb_array_elements(v_items) with ordinality as e(line, ord)),
    v_ttl, 'order', v_id::text);

  -- The order, its lines and its first history entry in one statement (one plan, one executor run;
  -- the lines' and the history's foreign keys are checked at its end, when the order exists).
  with placed as (
    insert into public.orders (id, number, currency, subtotal_amount, customer_email, customer_name, shipping_address,
                               note, reservation_id, payment_due_at, created_by)
    values (v_id, 'SK-' || nextval('private.order_numbers'), v_currency,
            (select sum(l.price_amount::bigint * l.quantity)
             from jsonb_to_recordset(v_lines) as l(price_amount integer, quantity integer)),
            p_order #>> '{customer,email}', p_order #>> '{customer,name}', p_order -> 'shipping_address',
            p_order ->> 'note', (v_reservation ->> 'id')::uuid,
            (select r.expires_at from public.reservations r where r.id = (v_reservation ->> 'id')::uuid), auth.uid())
    returning number, subtotal_amount
  ), lines as (
    insert into public.order_lines (order_id, line_no, variant_id, sku, title, quantity, unit_price_amount)
    select v_id, l.ord, l.variant_id, l.sku, l.title, l.quantity, l.price_amount
    from jsonb_to_recordset(v_lines) as l(ord integer, variant_id uuid, sku text, title text, quantity integer,
                                           price_amount integer)
  ), history as (
    insert into public.order_status_history (order_id, from_status, to_status, source, actor_id)
    values (v_id, null, 'pending', 'api', auth.uid())
  )
  select placed.number, placed.subtotal_amount into v_number, v_subtotal from placed;

  perform private.emit_event('order.created', jsonb_build_object(
    'id', v_id, 'number', v_number, 'status', 'pending', 'currency', v_currency, 'subtotal_amount', v_subtotal,
    'payment_due_at', v_reservation -> 'expires_at',
    'lines', (select jsonb_agg(jsonb_build_object('sku', l ->> 'sku', 'quantity', l -> 'quantity'))
              from jsonb_array_elements(v_lines) as l)));

  return private.order_json(v_id);
end;
$$;
comment on function private.place_order(jsonb) is
  'Places an order (staff and up): lines priced from the catalog, stock held for the payment window, all or nothing.';
