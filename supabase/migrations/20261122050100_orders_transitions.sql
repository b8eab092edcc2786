-- Order status transitions. The allowed moves, and what each does to the order's stock hold:
--   pending → paid        the hold no longer expires (optionally with the payment's reference)
--   pending → cancelled   the hold is released
--   paid    → cancelled   (manager and up) the hold is released
--   paid    → shipped     the hold is committed: its units leave as sale movements (a backordered
--                         line cannot ship before its stock arrives: 409 insufficient stock)
--   shipped → delivered
--   shipped or delivered → returned   (manager and up) the sold units come back as return movements,
--                         at the locations they left from (the whole order; refunds are the PMS's)
-- Asking for the status an order already has changes nothing (but asking to ship it again with
-- another tracking number, or pay it again with another payment reference, is a conflict).
-- An order owns its reservation: the inventory API cannot release or commit it behind the order's
-- back, and an expired one cancels a pending order. Every function here locks the reservation
-- before the order, as the expiry job and the inventory API do, so they never deadlock.

-- An order as the API shows it.
create or replace function private.order_json(p_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', o.id,
    'number', o.number,
    'status', o.status,
    'currency', o.currency,
    'subtotal_amount', o.subtotal_amount,
    'customer', jsonb_build_object('email', o.customer_email, 'name', o.customer_name),
    'shipping_address', o.shipping_address,
    'note', o.note,
    'lines', coalesce((
      select jsonb_agg(jsonb_build_object('line_no', l.line_no, 'variant_id', l.variant_id, 'sku', l.sku,
               'title', l.title, 'quantity', l.quantity, 'unit_price_amount', l.unit_price_amount,
               'line_total_amount', l.line_total_amount) order by l.line_no)
      from public.order_lines l where l.order_id = o.id), '[]'::jsonb),
    'reservation_id', o.reservation_id,
    'payment_due_at', private.iso(o.payment_due_at),
    'payment_reference', o.payment_reference,
    'tracking_number', o.tracking_number,
    'carrier', o.carrier,
    'cancel_reason', o.cancel_reason,
    'version', o.version,
    'created_at', private.iso(o.created_at),
    'updated_at', private.iso(o.updated_at),
    'paid_at', private.iso(o.paid_at),
    'shipped_at', private.iso(o.shipped_at),
    'delivered_at', private.iso(o.delivered_at),
    'cancelled_at', private.iso(o.cancelled_at),
    'returned_at', private.iso(o.returned_at),
    'history', coalesce((
      select jsonb_agg(jsonb_build_object('from', h.from_status, 'to', h.to_status, 'reason', h.reason,
               'source', h.source, 'actor_id', h.actor_id, 'at', private.iso(h.created_at)) order by h.id)
      from public.order_status_history h where h.order_id = o.id), '[]'::jsonb))
  from public.orders o
  where o.id = p_id
$$;
comment on function private.order_json(uuid) is 'An order with its lines and status history as the API answers it, or null.';

-- Writes a transition the caller has already allowed and locked: the new status and its
-- timestamp, one history row and one order.status_changed event.
create or replace function private.order_record_transition(
  p_order public.orders,
  p_to text,
  p_reason text,
  p_source text,
  p_details jsonb default '{}'
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.orders o set
    status = p_to,
    version = o.version + 1,
    paid_at = case when p_to = 'paid' then now() else o.paid_at end,
    shipped_at = case when p_to = 'shipped' then now() else o.shipped_at end,
    delivered_at = case when p_to = 'delivered' then now() else o.delivered_at end,
    cancelled_at = case when p_to = 'cancelled' then now() else o.cancelled_at end,
    returned_at = case when p_to = 'returned' then now() else o.returned_at end,
    cancel_reason = case when p_to = 'cancelled' then p_reason else o.cancel_reason end,
    payment_reference = coalesce(p_details ->> 'payment_reference', o.payment_reference),
    tracking_number = coalesce(p_details ->> 'tracking_number', o.tracking_number),
    carrier = coalesce(p_details ->> 'carrier', o.carrier)
  where o.id = p_order.id;

  insert into public.order_status_history (order_id, from_status, to_status, reason, source, actor_id)
  values (p_order.id, p_order.status, p_to, p_reason, p_source, auth.uid());

  perform private.emit_event('order.status_changed', jsonb_build_object(
    'id', p_order.id, 'number', p_order.number, 'from', p_order.status, 'to', p_to,
    'reason', p_reason, 'source', p_source, 'version', p_order.version + 1,
    'payment_reference', coalesce(p_details ->> 'payment_reference', p_order.payment_reference),
    'tracking_number', coalesce(p_details ->> 'tracking_number', p_order.tracking_number),
    'carrier', coalesce(p_details ->> 'carrier', p_order.carrier)));
end;
$$;
comment on function private.order_record_transition(public.orders, text, text, text, jsonb) is
  'Records an allowed, locked order transition: status, timestamp, version, history row and order.status_changed.';

-- The one transition function: the API reaches it through set_order_status (source `api`), the
-- inbound webhooks as the service role (source `webhook:<name>`).
create or replace function private.order_transition(
  p_id uuid,
  p_status text,
  p_source text,
  p_reason text default null,
  p_details jsonb default '{}',
  p_expected_version integer default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_reservation_id uuid;
  v_rank constant jsonb := '{"pending": 0, "paid": 1, "shipped": 2, "delivered": 3, "returned": 4}';
  v_detail_field text;
  o public.orders;
begin
  perform private.require_app_role('staff');
  if p_status is null or p_status not in ('paid', 'shipped', 'delivered', 'cancelled', 'returned') then
    perform private.raise_business_error('P0V01', 'status must be paid, shipped, delivered, cancelled or returned',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'body.status', 'message', 'one of paid, shipped, delivered, cancelled, returned'))));
  end if;
  if p_source is null or p_source !~ '^(api|webhook:[a-z0-9][a-z0-9_-]{0,62})$' then
    raise exception 'order_transition: bad source %', p_source using errcode = 'invalid_parameter_value';
  end if;
  select k into v_detail_field
  from jsonb_object_keys(coalesce(p_details, '{}')) as k
  where k not in ('payment_reference', 'tracking_number', 'carrier')
     or (k = 'payment_reference' and p_status <> 'paid')
     or (k in ('tracking_number', 'carrier') and p_status <> 'shipped')
  limit 1;
  if v_detail_field is not null then
    perform private.raise_business_error('P0V01', format('%s does not go with status %s', v_detail_field, p_status),
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'body.' || v_detail_field, 'message', format('not allowed with status %s', p_status)))));
  end if;

  select ord.reservation_id into v_reservation_id from public.orders ord where ord.id = p_id;
  if v_reservation_id is null then
    perform private.raise_business_error('P0N01', format('no order %s', p_id), jsonb_build_object('id', p_id));
  end if;
  perform 1 from public.reservations r where r.id = v_reservation_id for update;
  select * into o from public.orders where id = p_id for no key update;

  if p_expected_version is not null and o.version <> p_expected_version then
    perform private.raise_business_error('P0C02', 'the order was changed since version ' || p_expected_version,
      jsonb_build_object('expected_version', p_expected_version, 'current', private.order_json(p_id)));
  end if;
  -- Asking for the status the order has is a no-op; so is a webhook that arrives after the order
  -- has moved past what it reports (a late `paid` for an order already shipped), so its sender
  -- stops retrying. Either way, details that contradict the order's are a conflict.
  if o.status = p_status or (p_source like 'webhook:%' and o.status <> 'cancelled' and p_status <> 'cancelled'
                             and (v_rank ->> p_status)::integer < (v_rank ->> o.status)::integer) then
    if exists (select 1 from jsonb_each_text(coalesce(p_details, '{}')) as d
               where d.value is distinct from to_jsonb(o) ->> d.key) then
      perform private.raise_business_error('P0C01', format('order %s is already %s with other details', o.number, o.status),
        jsonb_build_object('id', p_id, 'order_status', o.status, 'current', private.order_json(p_id)));
    end if;
    return private.order_json(p_id);
  end if;
  if not (o.status, p_status) in (('pending', 'paid'), ('pending', 'cancelled'), ('paid', 'cancelled'),
                                   ('paid', 'shipped'), ('shipped', 'delivered'), ('shipped', 'returned'),
                                   ('delivered', 'returned')) then
    perform private.raise_business_error('P0C01', format('an order that is %s cannot become %s', o.status, p_status),
      jsonb_build_object('id', p_id, 'order_status', o.status, 'requested', p_status));
  end if;
  if p_status = 'paid' and o.payment_due_at <= now() then
    perform private.raise_business_error('P0C01', format('the payment window of order %s has closed', o.number),
      jsonb_build_object('id', p_id, 'order_status', o.status, 'payment_due_at', private.iso(o.payment_due_at)));
  end if;
  if (o.status = 'paid' and p_status = 'cancelled') or p_status = 'returned' then
    perform private.require_app_role('manager');
  end if;

  -- The order changes first, so the reservation trigger below finds it agreeing.
  perform private.order_record_transition(o, p_status, p_reason, p_source, coalesce(p_details, '{}'));
  if p_status = 'paid' then
    -- Never expires; private.iso prints infinity as null, so the API shows `expires_at: null`.
    update public.reservations r set expires_at = 'infinity', updated_at = now() where r.id = o.reservation_id;
  elsif p_status = 'cancelled' then
    perform private.release_reservation(o.reservation_id);
  elsif p_status = 'shipped' then
    perform private.commit_reservation(o.reservation_id);
  elsif p_status = 'returned' then
    insert into public.stock_movements (variant_id, location_id, kind, quantity, reason, reference_type, reference_id)
    select i.variant_id, i.location_id, 'return', i.quantity, format('order %s returned', o.number), 'order', o.id::text
    from public.reservation_items i
    join public.locations l on l.id = i.location_id
    where i.reservation_id = o.reservation_id
    order by i.variant_id, l.priority, i.location_id;
  end if;
  return private.order_json(p_id);
end;
$$;
comment on function private.order_transition(uuid, text, text, text, jsonb, integer) is
  'Moves an order along an allowed transition with its stock work (staff and up; cancelling a paid order or a return: manager); the same status is a no-op.';

-- POST /orders/{id}/status.
create or replace function private.set_order_status(
  p_id uuid,
  p_status text,
  p_reason text default null,
  p_details jsonb default '{}',
  p_expected_version integer default null
)
returns jsonb
language sql
security definer
set search_path = ''
as $$
  select private.order_transition(p_id, p_status, 'api', p_reason, p_details, p_expected_version)
$$;
comment on function private.set_order_status(uuid, text, text, jsonb, integer) is
  'The API''s order transition (source api); see private.order_transition.';

-- An order owns its reservation. When the reservation closes, the order must agree: an expired
-- hold cancels a pending order; releasing or committing it is only for the order's own
-- transitions (which change the order first), never for the inventory API on its own.
create or replace function private.reservations_sync_order()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  o public.orders;
begin
  select * into o from public.orders where reservation_id = new.id for no key update;
  if o.id is null then
    return null;
  end if;
  if new.status = 'expired' and o.status = 'pending' then
    perform private.order_record_transition(o, 'cancelled', 'the payment window elapsed', 'reservation');
  elsif (new.status = 'released' and o.status <> 'cancelled') or (new.status = 'committed' and o.status <> 'shipped') then
    perform private.raise_business_error('P0C01',
      format('this reservation holds the stock of order %s: %s the order instead', o.number,
             case new.status when 'released' then 'cancel' else 'ship' end),
      jsonb_build_object('id', new.id, 'order_id', o.id, 'order_status', o.status));
  end if;
  return null;
end;
$$;
comment on function private.reservations_sync_order() is
  'Trigger: an expired hold cancels its pending order; releasing or committing an order''s hold outside its transitions is refused.';

create trigger reservations_after_update_sync_order
  after update of status on public.reservations
  for each row when (old.status = 'active' and new.status <> 'active' and new.reference_type = 'order')
  execute function private.reservations_sync_order();

comment on table public.reservations is
  'Stock held for a cart, an external caller or an order (made by place_order and closed only by its order) until committed (sold), released or expired.';

revoke execute on function private.order_json(uuid),
  private.order_record_transition(public.orders, text, text, text, jsonb),
  private.reservations_sync_order() from public, anon, authenticated;
revoke execute on function private.order_transition(uuid, text, text, text, jsonb, integer) from public, anon, authenticated;
grant execute on function private.order_transition(uuid, text, text, text, jsonb, integer) to service_role;
revoke execute on function private.set_order_status(uuid, text, text, jsonb, integer) from public, anon;
grant execute on function private.set_order_status(uuid, text, text, jsonb, integer) to authenticated, service_role;
