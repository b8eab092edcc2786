-- Order status transitions. The allowed moves, and what each does to stock:
--   pending → paid        the reservation is committed: its units leave as sale movements
--   pending → cancelled   the reservation is released: its units are available again
--   paid    → cancelled   (manager and up) the sold units come back as return movements
--   paid    → shipped     (with an optional tracking number and carrier)
--   shipped → delivered
-- Asking for the status an order already has changes nothing. Every function here locks the
-- order's reservation before the order itself, as the reservation expiry job and the inventory
-- API do (they reach the order through the trigger at the end), so they never deadlock.

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
  p_tracking_number text default null,
  p_carrier text default null
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
    cancel_reason = case when p_to = 'cancelled' then p_reason else o.cancel_reason end,
    tracking_number = coalesce(p_tracking_number, o.tracking_number),
    carrier = coalesce(p_carrier, o.carrier)
  where o.id = p_order.id;

  insert into public.order_status_history (order_id, from_status, to_status, reason, source, actor_id)
  values (p_order.id, p_order.status, p_to, p_reason, p_source, auth.uid());

  perform private.emit_event('order.status_changed', jsonb_build_object(
    'id', p_order.id, 'number', p_order.number, 'from', p_order.status, 'to', p_to,
    'reason', p_reason, 'source', p_source, 'version', p_order.version + 1,
    'tracking_number', coalesce(p_tracking_number, p_order.tracking_number),
    'carrier', coalesce(p_carrier, p_order.carrier)));
end;
$$;
comment on function private.order_record_transition(public.orders, text, text, text, text, text) is
  'Records an allowed, locked order transition: status, timestamp, version, history row and order.status_changed.';

-- POST /orders/{id}/status and the pms-order inbound webhook.
create or replace function private.order_set_status(
  p_id uuid,
  p_status text,
  p_reason text default null,
  p_tracking_number text default null,
  p_carrier text default null,
  p_expected_version integer default null,
  p_source text default 'api'
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_reservation_id uuid;
  o public.orders;
begin
  perform private.require_app_role('staff');
  if p_status is null or p_status not in ('paid', 'shipped', 'delivered', 'cancelled') then
    perform private.raise_business_error('P0V01', 'status must be paid, shipped, delivered or cancelled',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'body.status', 'message', 'one of paid, shipped, delivered, cancelled'))));
  end if;
  if p_source is null or p_source !~ '^(api|webhook:[a-z0-9][a-z0-9_-]{0,62})$' then
    raise exception 'order_set_status: bad source %', p_source using errcode = 'invalid_parameter_value';
  end if;

  select r.reservation_id into v_reservation_id from public.orders r where r.id = p_id;
  if v_reservation_id is null then
    perform private.raise_business_error('P0N01', format('no order %s', p_id), jsonb_build_object('id', p_id));
  end if;
  perform 1 from public.reservations r where r.id = v_reservation_id for update;
  select * into o from public.orders where id = p_id for update;

  if p_expected_version is not null and o.version <> p_expected_version then
    perform private.raise_business_error('P0C02', 'the order was changed since version ' || p_expected_version,
      jsonb_build_object('expected_version', p_expected_version, 'current', private.order_json(p_id)));
  end if;
  if o.status = p_status then
    return private.order_json(p_id);
  end if;
  if not (o.status, p_status) in (('pending', 'paid'), ('pending', 'cancelled'), ('paid', 'cancelled'),
                                   ('paid', 'shipped'), ('shipped', 'delivered')) then
    perform private.raise_business_error('P0C01', format('an order that is %s cannot become %s', o.status, p_status),
      jsonb_build_object('id', p_id, 'status', o.status, 'requested', p_status));
  end if;

  if p_status = 'paid' and o.payment_due_at <= now() then
    perform private.raise_business_error('P0C01', format('the payment window of order %s has closed', o.number),
      jsonb_build_object('id', p_id, 'status', o.status, 'payment_due_at', private.iso(o.payment_due_at)));
  end if;
  if o.status = 'paid' and p_status = 'cancelled' then
    perform private.require_app_role('manager');
  end if;

  -- The order changes first, so the reservation trigger below finds it no longer pending.
  perform private.order_record_transition(o, p_status, p_reason, p_source, p_tracking_number, p_carrier);

  if o.status = 'pending' and p_status = 'paid' then
    perform private.commit_reservation(o.reservation_id);
  elsif o.status = 'pending' and p_status = 'cancelled' then
    perform private.release_reservation(o.reservation_id);
  elsif o.status = 'paid' and p_status = 'cancelled' then
    insert into public.stock_movements (variant_id, location_id, kind, quantity, reason, reference_type, reference_id)
    select i.variant_id, i.location_id, 'return', i.quantity, format('order %s cancelled', o.number), 'order', o.id::text
    from public.reservation_items i
    join public.locations l on l.id = i.location_id
    where i.reservation_id = o.reservation_id
    order by i.variant_id, l.priority, i.location_id;
  end if;

  return private.order_json(p_id);
end;
$$;
comment on function private.order_set_status(uuid, text, text, text, text, integer, text) is
  'Moves an order along an allowed transition with its stock work (staff and up; cancelling a paid order: manager); the same status is a no-op.';

-- A pending order follows its reservation when the reservation is closed from outside the order
-- functions: expired (the payment window elapsed) or released cancels it, committed pays it.
create or replace function private.reservations_sync_order()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  o public.orders;
begin
  select * into o from public.orders where reservation_id = new.id for update;
  if o.id is null or o.status <> 'pending' then
    return null;
  end if;
  perform private.order_record_transition(o,
    case new.status when 'committed' then 'paid' else 'cancelled' end,
    case new.status
      when 'expired' then 'the payment window elapsed'
      when 'released' then 'its stock reservation was released'
    end,
    'reservation');
  return null;
end;
$$;
comment on function private.reservations_sync_order() is
  'Trigger: a pending order is cancelled when its reservation expires or is released, and paid when it is committed.';

create trigger reservations_after_update_sync_order
  after update of status on public.reservations
  for each row when (old.status = 'active' and new.status <> 'active' and new.reference_type = 'order')
  execute function private.reservations_sync_order();

revoke execute on function private.order_json(uuid),
  private.order_record_transition(public.orders, text, text, text, text, text),
  private.reservations_sync_order() from public, anon, authenticated;
revoke execute on function private.order_set_status(uuid, text, text, text, text, integer, text) from public, anon;
grant execute on function private.order_set_status(uuid, text, text, text, text, integer, text) to authenticated, service_role;
