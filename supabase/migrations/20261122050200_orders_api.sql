-- Placing and reading orders.

-- POST /orders: prices every line from the catalog, holds the stock for the payment window (all
-- lines or none, through reserve_stock), and writes the order, its lines and order.created in the
-- same transaction. Any refusal (bad line, product not for sale, mixed currencies, not enough
-- stock) raises and leaves nothing behind.
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

  v_number := 'SK-' || nextval('private.order_numbers');
  select sum(l.price_amount::bigint * l.quantity) into v_subtotal
  from jsonb_to_recordset(v_lines) as l(price_amount integer, quantity integer);

  insert into public.orders (id, number, currency, subtotal_amount, customer_email, customer_name, shipping_address,
                             note, reservation_id, payment_due_at, created_by)
  select v_id, v_number, v_currency, v_subtotal, p_order #>> '{customer,email}', p_order #>> '{customer,name}',
          p_order -> 'shipping_address', p_order ->> 'note', r.id, r.expires_at, auth.uid()
  from public.reservations r
  where r.id = (v_reservation ->> 'id')::uuid;

  insert into public.order_lines (order_id, line_no, variant_id, sku, title, quantity, unit_price_amount)
  select v_id, l.ord, l.variant_id, l.sku, l.title, l.quantity, l.price_amount
  from jsonb_to_recordset(v_lines) as l(ord integer, variant_id uuid, sku text, title text, quantity integer,
                                         price_amount integer);

  insert into public.order_status_history (order_id, from_status, to_status, source, actor_id)
  values (v_id, null, 'pending', 'api', auth.uid());

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

-- GET /orders/{id}.
create or replace function private.get_order(p_id uuid)
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
  found := private.order_json(p_id);
  if found is null then
    perform private.raise_business_error('P0N01', format('no order %s', p_id), jsonb_build_object('id', p_id));
  end if;
  return found;
end;
$$;
comment on function private.get_order(uuid) is 'One order with its lines and history (viewer and up), or P0N01.';

-- GET /orders: newest first, optionally of one status or one customer, keyset-paged on (created_at, id).
create or replace function private.list_orders(
  p_status text,
  p_customer_email text,
  p_before_created_at timestamptz,
  p_before_id uuid,
  p_limit integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_app_role('viewer');
  return coalesce((
    select jsonb_agg(private.order_json(page.id) || jsonb_build_object('cursor_created_at', page.created_at)
                     order by page.created_at desc, page.id desc)
    from (
      select o.id, o.created_at from public.orders o
      where (p_status is null or o.status = p_status)
        and (p_customer_email is null or lower(o.customer_email) = lower(p_customer_email))
        and (p_before_id is null or (o.created_at, o.id) < (p_before_created_at, p_before_id))
      order by o.created_at desc, o.id desc
      limit p_limit
    ) page), '[]'::jsonb);
end;
$$;
comment on function private.list_orders(text, text, timestamptz, uuid, integer) is
  'A page of orders, newest first, optionally of one status or one customer (viewer and up).';

revoke execute on function private.place_order(jsonb), private.get_order(uuid),
  private.list_orders(text, text, timestamptz, uuid, integer) from public, anon;
grant execute on function private.place_order(jsonb), private.get_order(uuid),
  private.list_orders(text, text, timestamptz, uuid, integer) to authenticated, service_role;
